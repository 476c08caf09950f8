//! Unit tests of the decision contract, one module per capability, each test named after
//! the rule it pins. Requests are plain structs implementing [`RequestView`].

mod anonymous;
mod arbitrary_config;
mod arbitrary_requests;
mod conditions;
mod decisions;
mod jwt;
mod jwt_load_errors;
mod limits;
mod load_errors;
mod path_case;
mod paths;
mod precedence;
mod qa;
mod resilience;
mod rewrites;
mod shadow_policy;
mod surroundings;
mod telemetry;
mod tenants;
mod tls;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::tls::CertifiedPair;
use crate::{ConfigErrors, Decision, Offline, RequestView, Snapshot, Surroundings};

/// A request as the proxy would present it.
#[derive(Debug, Clone)]
pub(crate) struct FakeRequest {
    method: String,
    path: String,
    host: Option<String>,
    headers: Vec<(String, String)>,
    query: Option<String>,
}

impl FakeRequest {
    pub(crate) fn new(method: &str, path: &str) -> FakeRequest {
        FakeRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            host: None,
            headers: Vec::new(),
            query: None,
        }
    }

    pub(crate) fn get(path: &str) -> FakeRequest {
        FakeRequest::new("GET", path)
    }

    pub(crate) fn host(mut self, host: &str) -> FakeRequest {
        self.host = Some(host.to_owned());
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> FakeRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The query string, without `?`.
    pub(crate) fn query(mut self, query: &str) -> FakeRequest {
        self.query = Some(query.to_owned());
        self
    }

    pub(crate) fn tenant(self, tenant: &str) -> FakeRequest {
        self.header("X-Tenant-Id", tenant)
    }
}

impl RequestView for FakeRequest {
    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    fn header(&self, lowercase_name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(lowercase_name));
        found.map(|(_, value)| value.as_str())
    }

    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
}

/// Listeners, upstreams and a header tenant source; tests append `routes:`.
pub(crate) const BASE: &str = "\
listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
  search: http://127.0.0.1:3002
tenant:
  sources:
    - header: X-Tenant-Id
";

/// [`BASE`] with the given `routes:` items.
pub(crate) fn with_routes(routes: &[String]) -> String {
    format!("{BASE}routes:\n{}", routes.concat())
}

/// A one-line route item at 100 % with the given `match:` body.
pub(crate) fn route(name: &str, matcher: &str) -> String {
    format!("  - {{ name: {name}, match: {{ {matcher} }}, service: billing, rollout: {{ percent: 100 }} }}\n")
}

pub(crate) fn load(yaml: &str) -> Snapshot {
    Snapshot::parse(yaml, "routes.yaml", &Fake::default())
        .unwrap_or_else(|errors| panic!("{errors}"))
}

pub(crate) fn load_errors(yaml: &str) -> Vec<String> {
    load_errors_in(yaml, &Fake::default())
}

/// The load errors of `yaml` compiled in `surroundings`, one a line.
pub(crate) fn load_errors_in(yaml: &str, surroundings: &Fake) -> Vec<String> {
    let errors: ConfigErrors =
        Snapshot::parse(yaml, "routes.yaml", surroundings).expect_err("must not load");
    errors.to_string().lines().map(str::to_owned).collect()
}

/// The surroundings of a flags test, which needs no network and no files: an IP address
/// resolves to itself and `localhost` to 127.0.0.1 (as `/etc/hosts` would), no other name
/// resolves; the key files are the fixtures of `tests/fixtures/jwt/`, compiled in, plus any
/// a test adds; the environment holds only the tests' secrets.
#[derive(Debug, Clone)]
pub(crate) struct Fake {
    keys: HashMap<PathBuf, String>,
}

impl Default for Fake {
    fn default() -> Self {
        let fixtures = [
            (
                "ec-public.pem",
                include_str!("../../../tests/fixtures/jwt/ec-public.pem"),
            ),
            (
                "jwks.json",
                include_str!("../../../tests/fixtures/jwt/jwks.json"),
            ),
            (
                "p384-public.pem",
                include_str!("../../../tests/fixtures/jwt/p384-public.pem"),
            ),
            (
                "rsa-private.pem",
                include_str!("../../../tests/fixtures/jwt/rsa-private.pem"),
            ),
            (
                "rsa-public.pem",
                include_str!("../../../tests/fixtures/jwt/rsa-public.pem"),
            ),
        ];
        let keys = fixtures
            .into_iter()
            .map(|(name, text)| (PathBuf::from(jwt::fixture(name)), text.to_owned()))
            .collect();
        Fake { keys }
    }
}

impl Fake {
    /// These surroundings with a key file at `path`.
    pub(crate) fn with_key(mut self, path: &str, text: &str) -> Fake {
        self.keys.insert(PathBuf::from(path), text.to_owned());
        self
    }
}

impl Surroundings for Fake {
    fn resolve(&self, authority: &str) -> io::Result<Option<SocketAddr>> {
        match authority.strip_prefix("localhost:") {
            Some(port) => Offline.resolve(&format!("127.0.0.1:{port}")),
            None => Offline.resolve(authority),
        }
    }

    fn read_key(&self, path: &Path) -> io::Result<String> {
        self.keys
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// A "certificate" is a key file whose text lists its names, one a line; its key
    /// must be a key file too.
    fn certificate(&self, cert: &Path, key: &Path) -> Result<CertifiedPair, String> {
        let names = self.read_key(cert).map_err(|e| e.to_string())?;
        self.read_key(key).map_err(|e| e.to_string())?;
        Ok(CertifiedPair {
            chain: vec![names.as_bytes().to_vec()],
            key: Vec::new(),
            names: names.lines().map(str::to_owned).collect(),
            not_after: i64::MAX,
            serial: "01".into(),
        })
    }

    fn ca_bundle(&self, path: &Path) -> Result<Vec<Vec<u8>>, String> {
        let text = self.read_key(path).map_err(|e| e.to_string())?;
        Ok(vec![text.into_bytes()])
    }

    /// As a proxy built with `--cfg tokio_unstable`; [`crate::Offline`] is one without.
    fn alt_timer_available(&self) -> bool {
        true
    }

    fn secret(&self, name: &str) -> Option<OsString> {
        match name {
            jwt::SECRET_ENV => Some(jwt::SECRET.into()),
            "STRANGLER_FLAGS_TEST_SHORT_SECRET" => Some("short".into()),
            telemetry::HEADERS_ENV => Some(telemetry::HEADERS.into()),
            _ => None,
        }
    }
}

pub(crate) fn decide<'s, 'r>(snapshot: &'s Snapshot, req: &'r FakeRequest) -> Decision<'s, 'r> {
    snapshot.decide(req).expect("decidable request")
}

/// The name of the route `req` matches in `snapshot`, if any.
pub(crate) fn matched(snapshot: &Snapshot, req: &FakeRequest) -> Option<String> {
    decide(snapshot, req)
        .route
        .map(|route| route.name().to_owned())
}
