//! Where one HTTP/1.1 response ends in the bytes read so far: after its head, a
//! `Content-Length` body or a chunked one. Just enough for the harness's backends and
//! proxies; anything else is an error the run counts.

/// What the bytes read so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole response yet: read more.
    Partial,
    /// A whole response of `len` bytes with this status.
    Complete { len: usize, status: u16 },
}

/// Why the bytes are not a response this generator can read.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// Parses the response at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed, Invalid> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buf) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(_) => return Err(Invalid("not an HTTP/1 response head")),
    };
    let status = response.code.unwrap_or(0);
    let body = &buf[head..];
    let body_len = match framing(response.headers)? {
        Framing::Length(len) => (body.len() >= len).then_some(len),
        Framing::Chunked => chunked_len(body)?,
    };
    Ok(body_len.map_or(Parsed::Partial, |len| Parsed::Complete {
        len: head + len,
        status,
    }))
}

enum Framing {
    Length(usize),
    Chunked,
}

fn framing(headers: &[httparse::Header]) -> Result<Framing, Invalid> {
    for header in headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(Invalid("bad Content-Length"))?;
            return Ok(Framing::Length(len));
        }
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Ok(Framing::Chunked);
        }
    }
    Err(Invalid("a response without Content-Length or chunked body"))
}

/// The length of a whole chunked body at the start of `body`, if it is all there.
fn chunked_len(body: &[u8]) -> Result<Option<usize>, Invalid> {
    let mut at = 0;
    loop {
        let Some(line_end) = find_crlf(&body[at..]) else {
            return Ok(None);
        };
        let size_text =
            std::str::from_utf8(&body[at..at + line_end]).map_err(|_| Invalid("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| Invalid("bad chunk size"))?;
        at += line_end + 2;
        if size == 0 {
            // No trailers from the harness's servers: the body ends with an empty line.
            return Ok((body.len() >= at + 2).then_some(at + 2));
        }
        at += size + 2;
        if body.len() < at {
            return Ok(None);
        }
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_length_response_ends_after_its_body() {
        let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(parse(&whole[..whole.len() - 1]), Ok(Parsed::Partial));
        let mut two = whole.to_vec();
        two.extend_from_slice(whole);
        assert_eq!(
            parse(&two),
            Ok(Parsed::Complete {
                len: whole.len(),
                status: 200
            })
        );
    }

    #[test]
    fn a_chunked_response_ends_after_its_last_chunk() {
        let whole = b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        for cut in 1..whole.len() {
            assert_eq!(parse(&whole[..cut]), Ok(Parsed::Partial), "cut at {cut}");
        }
        assert_eq!(
            parse(whole),
            Ok(Parsed::Complete {
                len: whole.len(),
                status: 503
            })
        );
    }

    #[test]
    fn a_response_without_framing_is_refused() {
        let bytes = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nok";
        assert!(parse(bytes).is_err());
        assert!(parse(b"garbage\r\n\r\n").is_err());
    }
}
