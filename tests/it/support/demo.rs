//! The demo's own routes.yaml (the repository's, with a guard, a shadowed route, a breaker
//! and health checks) served by a real `strangler run` process, its upstreams replaced by
//! echo backends and its listeners by port 0: what an operator's Prometheus would scrape.

use std::net::SocketAddr;
use std::path::Path;

use crate::support::process::StranglerProcess;
use crate::support::proxy::with_own_store;
use crate::support::scratch::Scratch;
use crate::support::Backend;

/// The repository's root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("proxy/ has a parent")
}

/// The README's text after `heading`, up to the next heading of its level.
pub fn readme_section(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let after = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("no {heading}"));
    after.split("\n## ").next().unwrap_or(after).to_owned()
}

/// The demo's configuration running in its own process.
pub struct Demo {
    /// The running process.
    _process: StranglerProcess,
    /// Its proxy address.
    pub proxy: SocketAddr,
    /// Its admin address.
    pub admin: String,
    _backends: [Backend; 2],
    _scratch: Scratch,
}

impl Demo {
    /// Starts the repository's routes.yaml and waits until it serves.
    pub async fn start() -> Demo {
        let backends = [
            Backend::echo("legacy").await,
            Backend::echo("billing").await,
        ];
        let scratch = Scratch::new();
        let demo = std::fs::read_to_string(repo().join("routes.yaml")).expect("routes.yaml");
        let mut text = demo;
        for (from, to) in [
            ("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0".to_owned()),
            ("admin: 127.0.0.1:9180", "admin: 127.0.0.1:0".to_owned()),
            ("http://127.0.0.1:3000", backends[0].url()),
            ("http://127.0.0.1:3001", backends[1].url()),
        ] {
            assert!(text.contains(from), "routes.yaml no longer has {from}");
            text = text.replace(from, &to);
        }
        let config = scratch.write("routes.yaml", &with_own_store(text, &scratch));
        let process = StranglerProcess::run(&config, &[]);
        let proxy = process.serving().await;
        let admin = process.admin();
        Demo {
            _process: process,
            proxy,
            admin,
            _backends: backends,
            _scratch: scratch,
        }
    }

    /// The admin `/metrics` page.
    pub async fn metrics(&self) -> String {
        let url = format!("http://{}/metrics", self.admin);
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let answer = client.get(url).send().await.expect("GET /metrics");
        assert_eq!(answer.status(), 200);
        answer.text().await.expect("metrics body")
    }

    /// Sends a GET to the proxy with `tenant` (if any) and returns the status.
    pub async fn get(&self, path: &str, tenant: Option<&str>) -> u16 {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut request = client.get(format!("http://{}{path}", self.proxy));
        if let Some(tenant) = tenant {
            request = request.header("x-tenant-id", tenant);
        }
        request
            .send()
            .await
            .expect("proxy answer")
            .status()
            .as_u16()
    }
}
