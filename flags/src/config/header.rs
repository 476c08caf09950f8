//! A header name as routes.yaml writes one (`tenant.forward_header`, a `header:` source,
//! `qa.header`, `strip_headers`): an HTTP token, lowercased for lookups.

/// A header name (an HTTP token), lowercased.
pub(super) fn header_name(name: &str) -> Result<Box<str>, String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    match !name.is_empty() && name.bytes().all(token) {
        true => Ok(name.to_ascii_lowercase().into()),
        false => Err(format!("{name:?} is not a valid header name")),
    }
}
