//! Validating the `qa:` section: the force header and the QA token header must be in the
//! `x-strangler-` namespace (the proxy never forwards it, so neither reaches an upstream),
//! the token's key is read like a `jwt:` tenant source's, and QA tenants are valid ids. A
//! `qa:` section that allows nobody (no token, no tenants) is refused: its header could
//! never be honoured.

use super::header::header_name;
use super::jwt::{keys, KeyReader, KeySources};
use super::problems::Problems;
use super::raw::{RawQa, RawQaToken};
use crate::qa::{
    QaPolicy, QaToken, DEFAULT_FORCE_HEADER, DEFAULT_QA_CLAIM, DEFAULT_QA_TOKEN_HEADER,
};
use crate::tenant::check_tenant_id;

/// The namespace both QA headers must be in.
const RESERVED_PREFIX: &str = "x-strangler-";

/// Compiles `qa:`; its token's key is read through `reader`.
pub(super) fn qa_policy(
    raw: RawQa,
    reader: &KeyReader<'_>,
    problems: &mut Problems<'_>,
) -> Option<QaPolicy> {
    if raw.token.is_none() && raw.tenants.is_empty() {
        let message = "qa needs a token or tenants: otherwise no force header is ever honoured";
        problems.at_key("qa", message);
        return None;
    }
    let header = reserved_header(
        "qa.header",
        raw.header.as_deref(),
        DEFAULT_FORCE_HEADER,
        problems,
    );
    let token = match raw.token {
        None => Some(None),
        Some(token) => qa_token(token, reader, problems).map(Some),
    };
    let mut tenants = std::collections::HashSet::new();
    for (index, tenant) in raw.tenants.iter().enumerate() {
        match check_tenant_id(tenant) {
            Ok(()) => drop(tenants.insert(tenant.as_str().into())),
            Err(reason) => problems.at_value(
                &format!("qa.tenants[{index}]"),
                format!("{tenant:?} is not a valid tenant id: {reason}"),
            ),
        }
    }
    Some(QaPolicy {
        header: header?,
        token: token?,
        tenants,
    })
}

fn qa_token(
    raw: RawQaToken,
    reader: &KeyReader<'_>,
    problems: &mut Problems<'_>,
) -> Option<QaToken> {
    let header = reserved_header(
        "qa.token.header",
        raw.header.as_deref(),
        DEFAULT_QA_TOKEN_HEADER,
        problems,
    );
    let claim = raw.claim.unwrap_or_else(|| DEFAULT_QA_CLAIM.to_owned());
    if claim.is_empty() {
        problems.at_value("qa.token.claim", "claim must name a claim");
    }
    let sources = KeySources {
        hs256_secret_env: raw.hs256_secret_env.as_deref(),
        public_key_file: raw.public_key_file.as_deref(),
        jwks_file: raw.jwks_file.as_deref(),
    };
    let (keys, _) = keys("qa.token", &sources, reader, problems)?;
    Some(QaToken {
        header: header?,
        claim: (!claim.is_empty()).then(|| claim.into())?,
        keys,
    })
}

/// A header name at `at` (or `default`), which must start with `x-strangler-`.
fn reserved_header(
    at: &str,
    name: Option<&str>,
    default: &str,
    problems: &mut Problems<'_>,
) -> Option<Box<str>> {
    let checked = header_name(name.unwrap_or(default)).and_then(|name| {
        match name.starts_with(RESERVED_PREFIX) && name.len() > RESERVED_PREFIX.len() {
            true => Ok(name),
            false => Err(format!(
                "{name:?} must start with {RESERVED_PREFIX}: the proxy never forwards that \
                 namespace, so the header cannot reach an upstream"
            )),
        }
    });
    checked
        .map_err(|message| problems.at_value(at, message))
        .ok()
}
