//! JSON pointers (RFC 6901) as the diff reports them, in two forms: the exact pointer
//! (`/items/3/price`, with `~` and `/` escaped as `~0` and `~1`) that keeps one example,
//! and the collapsed pointer used for counting, where array positions and ID-like object
//! keys become `*` (`/items/*/price`), so that the same field in different records adds
//! up to one count.

/// Appends `/` and `segment` escaped per RFC 6901 to a pointer.
pub fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    push_escaped(pointer, segment);
}

/// Appends `segment` escaped per RFC 6901: `~` as `~0`, `/` as `~1`.
fn push_escaped(pointer: &mut String, segment: &str) {
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            other => pointer.push(other),
        }
    }
}

/// Appends the collapsed form of `segment` (without the leading `/`): `*` when the segment
/// is a position (`element`) or looks like an ID, else the escaped segment.
pub fn push_collapsed(pointer: &mut String, segment: &str, element: bool) {
    if element || is_id_like(segment) {
        pointer.push('*');
    } else {
        push_escaped(pointer, segment);
    }
}

/// Whether an object key looks like a record ID rather than a field name: all digits, a
/// UUID (`8-4-4-4-12` hex digits), or at least 16 hex digits.
pub fn is_id_like(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let digits = !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
    let long_hex = bytes.len() >= 16 && bytes.iter().all(u8::is_ascii_hexdigit);
    digits || long_hex || is_uuid(bytes)
}

/// Whether the bytes spell a UUID in its canonical hyphenated form, in either case.
fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// Splits a pointer into unescaped segments; `""` is the whole document.
pub fn parse(pointer: &str) -> Result<Vec<String>, &'static str> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err("a JSON pointer starts with '/'");
    };
    rest.split('/').map(unescape).collect()
}

/// Undoes RFC 6901 escaping in one segment; a `~` must be followed by `0` or `1`.
fn unescape(segment: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return Err("'~' must be followed by 0 or 1"),
        }
    }
    Ok(out)
}

/// Whether `name` is a valid HTTP header name (an RFC 9110 token).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
