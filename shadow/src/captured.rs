//! One response as the proxy captured it from a side, in the only shape the diff needs:
//! status, lowercase headers and the body bytes as received (possibly gzip-encoded).

use bytes::Bytes;

/// A response captured from the primary or the shadow side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values, in the order received, repeats kept.
    pub headers: Vec<(String, String)>,
    /// The body as received, before any content-encoding is undone.
    pub body: Bytes,
}

impl Captured {
    /// A captured response; header names are lowercased here so lookups can be exact.
    pub fn new<N, V>(
        status: u16,
        headers: impl IntoIterator<Item = (N, V)>,
        body: impl Into<Bytes>,
    ) -> Self
    where
        N: AsRef<str>,
        V: Into<String>,
    {
        let headers = headers
            .into_iter()
            .map(|(name, value)| (name.as_ref().to_ascii_lowercase(), value.into()))
            .collect();
        Captured {
            status,
            headers,
            body: body.into(),
        }
    }

    /// The value of the header with this name, whatever the case either is spelt in (a
    /// header name's case is never a difference); repeated headers are joined with
    /// `", "` as HTTP allows.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim());
        let first = values.next()?.to_owned();
        Some(values.fold(first, |joined, value| joined + ", " + value))
    }
}
