//! The databases every store test runs against, and small builders for changes.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Connection};
use strangler_control::testing::PostgresDatabase;
use strangler_control::{Change, ControlError, Database, Store};
use strangler_flags::Side;
use tempfile::TempDir;

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
    /// Dropped with the test's `Db`.
    _postgres: Option<PostgresDatabase>,
    _dir: Option<TempDir>,
}

/// The routes routes.yaml defines, for `known_route`.
pub fn known(route: &str) -> bool {
    matches!(route, "invoices" | "invoice-pdf")
}

/// A fresh SQLite file and a fresh PostgreSQL database.
pub async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("strangler.db").display());
    let mut all = vec![Db {
        kind: Kind::Sqlite,
        url,
        _postgres: None,
        _dir: Some(dir),
    }];
    let postgres = PostgresDatabase::create().await;
    all.push(Db {
        kind: Kind::Postgres,
        url: postgres.url().to_owned(),
        _postgres: Some(postgres),
        _dir: None,
    });
    all
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
        let database = Database::connect(&self.url).await.expect("connect");
        database.flags()
    }

    /// A plain connection, for what a user of the store would not do (sabotage).
    pub async fn raw(&self) -> AnyConnection {
        admin(&self.url).await
    }

    /// Drops the PostgreSQL database (the temp dir goes with `self`).
    pub async fn finish(self) {
        drop(self);
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
