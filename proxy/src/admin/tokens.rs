//! Admin tokens: who may read and who may change flags, and the name recorded as the actor
//! in the audit log.
//!
//! Tokens come from the environment: `STRANGLER_ADMIN_TOKEN` (one token, named `admin`,
//! scope write), `STRANGLER_ADMIN_TOKENS` (`name:scope:secret` entries separated by commas)
//! and `STRANGLER_ADMIN_TOKENS_FILE` (a file with one `name scope secret` per line; `#`
//! starts a comment). Scope `read` allows `GET`; `write` allows everything.

use std::path::Path;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `GET` endpoints only.
    Read,
    /// Every endpoint, including flag changes.
    Write,
}

/// One token. Its `Debug` names it and its scope, never the secret.
#[derive(Clone)]
pub struct AdminToken {
    /// Recorded as the actor of the changes made with it.
    pub name: String,
    /// What it allows.
    pub scope: Scope,
    /// The bearer secret.
    pub secret: String,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Who made an authenticated admin request (put in the request's extensions).
#[derive(Debug, Clone)]
pub struct Actor {
    /// The token's name, recorded as the audit entry's actor.
    pub name: String,
    /// What the token allows (the console shows a read token's controls disabled).
    pub scope: Scope,
}

/// The single-token variable.
pub const TOKEN_ENV: &str = "STRANGLER_ADMIN_TOKEN";
/// The `name:scope:secret,...` variable.
pub const TOKENS_ENV: &str = "STRANGLER_ADMIN_TOKENS";
/// The variable naming a tokens file.
pub const TOKENS_FILE_ENV: &str = "STRANGLER_ADMIN_TOKENS_FILE";

impl AdminToken {
    /// The token `STRANGLER_ADMIN_TOKEN` stands for.
    pub fn admin(secret: &str) -> AdminToken {
        AdminToken {
            name: "admin".into(),
            scope: Scope::Write,
            secret: secret.into(),
        }
    }
}

/// The named tokens of `STRANGLER_ADMIN_TOKENS` and `STRANGLER_ADMIN_TOKENS_FILE` (the
/// single `STRANGLER_ADMIN_TOKEN` is read by `Launch::new`); an error names the bad entry.
pub fn named_from_env() -> Result<Vec<AdminToken>, String> {
    let mut tokens = Vec::new();
    if let Ok(list) = std::env::var(TOKENS_ENV) {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let fields: Vec<&str> = entry.splitn(3, ':').collect();
            tokens.push(parse(&fields).map_err(|e| format!("{TOKENS_ENV}: {e}"))?);
        }
    }
    if let Ok(path) = std::env::var(TOKENS_FILE_ENV) {
        tokens.extend(from_file(Path::new(&path))?);
    }
    Ok(tokens)
}

fn from_file(path: &Path) -> Result<Vec<AdminToken>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines = text
        .lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.split('#').next().unwrap_or("").trim()));
    lines
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            parse(&fields).map_err(|e| format!("{}:{n}: {e}", path.display()))
        })
        .collect()
}

fn parse(fields: &[&str]) -> Result<AdminToken, String> {
    let [name, scope, secret] = fields else {
        return Err("expected name, scope (read or write) and secret".into());
    };
    let scope = match *scope {
        "read" => Scope::Read,
        "write" => Scope::Write,
        other => {
            return Err(format!(
                "token {name:?}: scope {other:?} is neither read nor write"
            ))
        }
    };
    if name.is_empty() || secret.len() < 8 {
        return Err(format!(
            "token {name:?}: needs a name and a secret of at least 8 characters"
        ));
    }
    Ok(AdminToken {
        name: name.to_string(),
        scope,
        secret: secret.to_string(),
    })
}

/// The token `presented` matches, compared without an early exit per token.
pub fn find<'t>(tokens: &'t [AdminToken], presented: &str) -> Option<&'t AdminToken> {
    tokens
        .iter()
        .find(|t| constant_time_eq(t.secret.as_bytes(), presented.as_bytes()))
}

/// Compares without an early exit, so response time does not leak the token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_need_a_known_scope_and_a_real_secret() {
        assert!(parse(&["ci", "write", "s3cret-value"]).is_ok());
        assert!(parse(&["ci", "admin", "s3cret-value"])
            .unwrap_err()
            .contains("neither read nor write"));
        assert!(parse(&["ci", "read", "short"]).is_err());
        assert!(parse(&["ci", "read"]).is_err());
    }

    #[test]
    fn the_presented_secret_picks_the_token() {
        let tokens = [
            AdminToken {
                name: "viewer".into(),
                scope: Scope::Read,
                secret: "read-secret".into(),
            },
            AdminToken::admin("write-secret"),
        ];
        assert_eq!(
            find(&tokens, "read-secret").map(|t| t.name.as_str()),
            Some("viewer")
        );
        assert_eq!(
            find(&tokens, "write-secret").map(|t| t.scope),
            Some(Scope::Write)
        );
        assert!(find(&tokens, "guess").is_none());
    }
}
