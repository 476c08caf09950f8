//! Compiling is pure over its [`Surroundings`]: upstream names are resolved and key files
//! read only through them, so the same text compiles to different addresses and keys in
//! different surroundings, and [`Offline`] compiles a file of IP addresses with no I/O.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use super::jwt::fixture;
use super::{Fake, BASE};
use crate::{Offline, Snapshot, Surroundings};

/// Surroundings where every name resolves to one address, and nothing else exists.
struct OneAddress(SocketAddr);

impl Surroundings for OneAddress {
    fn resolve(&self, _authority: &str) -> io::Result<Option<SocketAddr>> {
        Ok(Some(self.0))
    }

    fn read_key(&self, _path: &Path) -> io::Result<String> {
        Err(io::ErrorKind::NotFound.into())
    }

    fn secret(&self, _name: &str) -> Option<OsString> {
        None
    }
}

#[test]
fn upstream_names_are_resolved_through_the_surroundings() {
    let yaml = format!(
        "{}routes: []\n",
        BASE.replace("http://127.0.0.1:3001", "http://billing.internal")
    );
    for addr in ["10.0.0.7:80", "10.0.0.8:80"] {
        let addr: SocketAddr = addr.parse().expect("address");
        let snapshot = Snapshot::parse(&yaml, "routes.yaml", &OneAddress(addr)).expect("loads");
        let billing = &snapshot.services()[0];
        assert_eq!((billing.addr, &*billing.host), (addr, "billing.internal"));
    }
}

#[test]
fn key_files_are_read_through_the_surroundings_relative_to_routes_yaml() {
    let jwks = include_str!("../../../tests/fixtures/jwt/jwks.json");
    let surroundings = Fake::default().with_key("/etc/strangler/keys/jwks.json", jwks);
    let yaml = super::jwt::jwt_yaml("claim: tenant_id, jwks_file: keys/jwks.json", "");
    let snapshot = Snapshot::parse(&yaml, "/etc/strangler/routes.yaml", &surroundings)
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(snapshot.verified_tenants());
    assert_ne!(snapshot.key_files_hash(), 0);
}

#[test]
fn offline_surroundings_compile_ip_addresses_and_nothing_else() {
    let yaml = format!("{BASE}routes: []\n");
    assert!(Snapshot::parse(&yaml, "routes.yaml", &Offline).is_ok());
    let named = yaml.replace("http://127.0.0.1:3001", "http://localhost:3001");
    let errors = Snapshot::parse(&named, "routes.yaml", &Offline).expect_err("no DNS");
    assert!(
        errors
            .to_string()
            .starts_with("routes.yaml:4:12: cannot resolve upstream \"http://localhost:3001\""),
        "{errors}"
    );
    let keyed = super::jwt::jwt_yaml(
        &format!("claim: t, jwks_file: {}", fixture("jwks.json")),
        "",
    );
    assert!(Snapshot::parse(&keyed, "routes.yaml", &Offline).is_err());
}
