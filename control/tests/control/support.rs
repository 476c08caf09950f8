//! The databases every store test runs against, and small builders for changes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{AnyConnection, Connection};
use strangler_control::{Change, ControlError, Store};
use strangler_flags::Side;
use tempfile::TempDir;

/// The environment variable naming a PostgreSQL server (a superuser or a role with
/// CREATEDB), e.g. `postgres://strangler:strangler@127.0.0.1/strangler`.
const POSTGRES_ENV: &str = "STRANGLER_TEST_POSTGRES_URL";

/// Which database a [`Db`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One empty database for one test.
pub struct Db {
    pub kind: Kind,
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<TempDir>,
}

/// The routes routes.yaml defines, for `known_route`.
pub fn known(route: &str) -> bool {
    matches!(route, "invoices" | "invoice-pdf")
}

/// A fresh SQLite file, and a fresh PostgreSQL database when configured.
pub async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("strangler.db").display());
    let mut all = vec![Db {
        kind: Kind::Sqlite,
        url,
        admin_url: None,
        name: "strangler.db".into(),
        _dir: Some(dir),
    }];
    match std::env::var(POSTGRES_ENV) {
        Ok(admin_url) => all.push(postgres(admin_url).await),
        Err(_) => eprintln!("{POSTGRES_ENV} is not set: skipping PostgreSQL, SQLite only"),
    }
    all
}

async fn postgres(admin_url: String) -> Db {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "strangler_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = admin(&admin_url).await;
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(&sql)
            .execute(&mut admin)
            .await
            .expect("create database");
    }
    let base = admin_url.split('?').next().unwrap_or(&admin_url);
    let url = format!(
        "{}/{name}",
        &base[..base.rfind('/').expect("URL with a database")]
    );
    Db {
        kind: Kind::Postgres,
        url,
        admin_url: Some(admin_url),
        name,
        _dir: None,
    }
}

async fn admin(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url)
        .await
        .expect("connect to PostgreSQL")
}

impl Db {
    /// A store on this database (migrated on connect).
    pub async fn store(&self) -> Store {
        Store::connect(&self.url).await.expect("connect")
    }

    /// A plain connection, for what a user of the store would not do (sabotage).
    pub async fn raw(&self) -> AnyConnection {
        admin(&self.url).await
    }

    /// Drops the PostgreSQL database (the temp dir goes with `self`).
    pub async fn finish(self) {
        if let Some(admin_url) = &self.admin_url {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            sqlx::raw_sql(&drop)
                .execute(&mut admin(admin_url).await)
                .await
                .ok();
        }
    }
}

/// Applies `change` as `alice` with the test's routes.
pub async fn apply(
    store: &Store,
    change: Change,
) -> Result<strangler_control::AuditEntry, ControlError> {
    store.apply(change, "alice", Some("test"), &known).await
}

/// `count` tenants `{prefix}-{i}`, alternately new and legacy.
pub fn tenants(prefix: &str, count: usize) -> BTreeMap<String, Side> {
    (0..count)
        .map(|i| {
            let side = if i % 2 == 0 { Side::New } else { Side::Legacy };
            (format!("{prefix}-{i}"), side)
        })
        .collect()
}

/// `route` as a String, for building changes.
pub fn r(route: &str) -> String {
    route.to_owned()
}
