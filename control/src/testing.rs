//! For tests of the store and of the proxy (the `testing` feature, which this crate's own
//! tests and the proxy's dev-dependency enable): a PostgreSQL database of its own for one
//! test, on the server `STRANGLER_TEST_POSTGRES_URL` names (a role that may create
//! databases), dropped when the test ends. Without the variable the test fails, saying how
//! to get a server (`./test` installs and starts one): a test never passes without running
//! its subject. The one helper for every test target, so they all agree on the variable,
//! the names of the databases and how they are dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{AnyConnection, Connection};

/// The environment variable naming the server.
pub const POSTGRES_ENV: &str = "STRANGLER_TEST_POSTGRES_URL";

/// One fresh PostgreSQL database, dropped with this value.
#[derive(Debug)]
pub struct PostgresDatabase {
    /// `postgres://user:pass@host:port/name`.
    url: String,
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    /// A new empty database; panics, saying how to get a server, when none is set.
    pub async fn create() -> PostgresDatabase {
        let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
            panic!(
                "{POSTGRES_ENV} is not set, and this test needs PostgreSQL: run ./test, which \
                 installs PostgreSQL from Debian's packages and starts it, or set \
                 {POSTGRES_ENV}=postgres://USER:PASSWORD@HOST/DATABASE (a role that may create \
                 databases)"
            )
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "strangler_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = connect(&admin_url).await;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(&sql)
                .execute(&mut admin)
                .await
                .expect("creating a test database");
        }
        let url = with_database(&admin_url, &name);
        PostgresDatabase {
            url,
            admin_url,
            name,
        }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's address, for a relay in front of it.
    pub async fn server_addr(&self) -> SocketAddr {
        let host_port = authority(&self.url);
        let host_port = if host_port.contains(':') {
            host_port.to_string()
        } else {
            format!("{host_port}:5432")
        };
        let mut addrs = tokio::net::lookup_host(&host_port)
            .await
            .expect("resolving the PostgreSQL host");
        addrs.next().expect("an address for the PostgreSQL host")
    }

    /// The database's URL through `relay` instead of straight to the server.
    pub fn url_via(&self, relay: SocketAddr) -> String {
        let host = authority(&self.url);
        let start = host.as_ptr() as usize - self.url.as_ptr() as usize;
        let end = start + host.len();
        format!("{}{relay}{}", &self.url[..start], &self.url[end..])
    }
}

impl Drop for PostgresDatabase {
    /// Drops the database, from a thread of its own: `Drop` cannot await, and the test's
    /// runtime may be the one dropping it.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::raw_sql(&sql)
                    .execute(&mut connect(&admin_url).await)
                    .await
                    .ok();
            });
        });
        let _ = dropping.join();
    }
}

async fn connect(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url)
        .await
        .expect("connecting to PostgreSQL")
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let slash = base.rfind('/').expect("a PostgreSQL URL with a database");
    format!("{}/{name}", &base[..slash])
}

/// The `host[:port]` of a `postgres://[user[:pass]@]host[:port]/db` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split('/').next().unwrap_or(rest);
    rest.rsplit_once('@').map_or(rest, |(_, host)| host)
}
