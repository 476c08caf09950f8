//! The proxy under test: a routes.yaml written for the test into a scratch directory, and a
//! real [`Running`] strangler on pre-bound 127.0.0.1:0 listeners in this process.
//!
//! [`Config`] renders the parts every test shares (listeners, debug headers, upstream URLs,
//! the usual tenant sources) around the routes the test spells out in YAML, so each test
//! reads like the file an operator would write.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use strangler::{Launch, Running};

use super::backend::{Backend, BACKEND_HEADER};
use super::memory::Occupancy;
use super::scratch::Scratch;

/// The response header carrying the proxy's decision (`debug_headers: true`).
pub const DECISION_HEADER: &str = "x-strangler-decision";

/// The usual `tenant:` section: header, then subdomain, then path; no tenant goes to legacy.
const USUAL_TENANT: &str = r#"
  sources: [ { header: X-Tenant-Id }, { subdomain: .shop.example.com }, { path: "/t/{tenant}/**" } ]
  default: legacy
"#;

/// A routes.yaml for one test.
#[derive(Clone)]
pub struct Config {
    legacy: String,
    services: Vec<(String, String)>,
    tenant: String,
    routes: String,
    store: Option<String>,
    diffs: Option<String>,
    store_cache: Option<String>,
    /// Top-level sections appended verbatim (e.g. `qa:`).
    sections: String,
    /// `listen:` when not the usual `127.0.0.1:0`.
    listen: Option<String>,
}

impl Config {
    /// A config whose legacy upstream is `legacy`, with the usual tenant sources and no routes.
    pub fn new(legacy: &Backend) -> Config {
        Config::with_legacy_url(legacy.url())
    }

    /// Like [`Config::new`] with legacy at any URL (e.g. a closed port).
    pub fn with_legacy_url(url: String) -> Config {
        Config {
            legacy: url,
            services: Vec::new(),
            tenant: USUAL_TENANT.to_string(),
            routes: String::new(),
            store: None,
            diffs: None,
            store_cache: None,
            sections: String::new(),
            listen: None,
        }
    }

    /// Replaces `listen:`'s value (YAML, e.g. a flow mapping with `tls:`); the first listener
    /// is still the one the harness binds on port 0.
    pub fn listen(mut self, yaml: &str) -> Config {
        self.listen = Some(yaml.to_string());
        self
    }

    /// A config for the commands that never start it (`check`, `explain`): legacy and the
    /// services `billing` and `catalog` at fixed addresses nothing listens on.
    pub fn offline() -> Config {
        Config::with_legacy_url("http://127.0.0.1:3000".into())
            .service_url("billing", "http://127.0.0.1:3001".into())
            .service_url("catalog", "http://127.0.0.1:3002".into())
    }

    /// Adds the new service `name` served by `backend`.
    pub fn service(self, name: &str, backend: &Backend) -> Config {
        self.service_url(name, backend.url())
    }

    /// Adds the new service `name` at any URL (e.g. a closed port).
    pub fn service_url(mut self, name: &str, url: String) -> Config {
        self.services.push((name.to_string(), url));
        self
    }

    /// Replaces the body of the `tenant:` section (YAML indented by two spaces).
    pub fn tenant(mut self, yaml: &str) -> Config {
        self.tenant = yaml.to_string();
        self
    }

    /// Uses the flag store at `url` (default: one per proxy, in its scratch directory).
    pub fn store(mut self, url: &str) -> Config {
        self.store = Some(url.to_string());
        self
    }

    /// Sets the `diffs:` block, one `key: value` per line.
    pub fn diffs(mut self, yaml: &str) -> Config {
        self.diffs = Some(yaml.to_string());
        self
    }

    /// Keeps the flag cache in `path` (default: beside routes.yaml, in the scratch directory).
    pub fn store_cache(mut self, path: &Path) -> Config {
        self.store_cache = Some(path.display().to_string());
        self
    }

    /// Sets the entries of `routes:` (YAML list items indented by two spaces).
    pub fn routes(mut self, yaml: &str) -> Config {
        self.routes = yaml.to_string();
        self
    }

    /// Appends top-level YAML (a whole section such as `qa:` with its body) verbatim.
    pub fn section(mut self, yaml: &str) -> Config {
        self.sections.push_str(yaml.trim_matches('\n'));
        self.sections.push('\n');
        self
    }

    /// The routes.yaml text.
    pub fn render(&self) -> String {
        let listen = self.listen.as_deref().unwrap_or("127.0.0.1:0");
        let mut text = format!(
            "listen: {listen}\nadmin: 127.0.0.1:0\nthreads: 2\ndebug_headers: true\n\
             connect_timeout: 1s\nlegacy: {}\n",
            self.legacy
        );
        if self.services.is_empty() {
            text.push_str("services: {}\n");
        } else {
            text.push_str("services:\n");
            for (name, url) in &self.services {
                text.push_str(&format!("  {name}: {url}\n"));
            }
        }
        text.push_str(&format!("tenant:\n{}\n", self.tenant.trim_matches('\n')));
        if self.routes.trim().is_empty() {
            text.push_str("routes: []\n");
        } else {
            text.push_str(&format!("routes:\n{}\n", self.routes.trim_matches('\n')));
        }
        if let Some(store) = &self.store {
            text.push_str(&format!("store: {store}\n"));
        }
        if let Some(diffs) = &self.diffs {
            text.push_str("diffs:\n");
            for line in diffs.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(cache) = &self.store_cache {
            text.push_str(&format!("store_cache: {cache}\n"));
        }
        text.push_str(&self.sections);
        text
    }
}

/// A running proxy and the directory holding its routes.yaml. Dropping it stops the proxy.
pub struct Proxy {
    /// Declared first so the proxy stops before its directory goes away.
    running: Running,
    scratch: Scratch,
    path: PathBuf,
    client: reqwest::Client,
    _occupancy: Occupancy,
}

impl Proxy {
    /// Starts a proxy on `config` that follows changes of its file, like `strangler run`.
    pub async fn start(config: &Config) -> Proxy {
        Proxy::launch(config, true, Occupancy::share).await
    }

    /// Starts a proxy that reloads only when asked (`POST /admin/reload`), so a test can
    /// assert exactly what each reload did.
    pub async fn start_unwatched(config: &Config) -> Proxy {
        Proxy::launch(config, false, Occupancy::share).await
    }

    /// Starts a proxy whose `/admin/*` endpoints require `token`.
    pub async fn start_with_admin_token(config: &Config, token: &str) -> Proxy {
        let token = strangler::AdminToken::admin(token);
        Proxy::launch_with(config, move |launch| launch.admin_tokens = vec![token]).await
    }

    /// Starts a proxy whose `/admin/*` endpoints require `token`, its launch settings
    /// adjusted by `adjust` (a ramp clock, a notification retry).
    pub async fn start_adjusted(
        config: &Config,
        token: &str,
        adjust: impl FnOnce(&mut Launch) + Send + 'static,
    ) -> Proxy {
        let token = strangler::AdminToken::admin(token);
        Proxy::launch_with(config, move |launch| {
            launch.admin_tokens = vec![token];
            adjust(launch);
        })
        .await
    }

    /// Starts a proxy whose `/admin/*` endpoints accept the named `tokens`.
    pub async fn start_with_admin_tokens(
        config: &Config,
        tokens: Vec<strangler::AdminToken>,
    ) -> Proxy {
        Proxy::launch_with(config, move |launch| launch.admin_tokens = tokens).await
    }

    /// Starts a proxy once no other test has one running, and keeps the process to itself
    /// until dropped: for tests that measure the process's memory.
    pub async fn start_alone(config: &Config) -> Proxy {
        Proxy::launch(config, true, Occupancy::alone).await
    }

    /// The error `Running::start` gives for `config`, which the test expects to be refused.
    pub async fn refused(config: &Config) -> String {
        let scratch = Scratch::new();
        let path = scratch.write("routes.yaml", &with_own_store(config.render(), &scratch));
        let started =
            tokio::task::spawn_blocking(move || Running::start(launch(path, false)).map(drop))
                .await
                .expect("start thread");
        match started {
            Ok(()) => panic!(
                "the proxy started on a config it should refuse:\n{}",
                config.render()
            ),
            Err(e) => format!("{e:#}"),
        }
    }

    async fn launch(config: &Config, watch: bool, occupy: fn() -> Occupancy) -> Proxy {
        Proxy::launch_full(config, watch, occupy, |_| {}).await
    }

    async fn launch_with(
        config: &Config,
        adjust: impl FnOnce(&mut Launch) + Send + 'static,
    ) -> Proxy {
        Proxy::launch_full(config, true, Occupancy::share, adjust).await
    }

    async fn launch_full(
        config: &Config,
        watch: bool,
        occupy: fn() -> Occupancy,
        adjust: impl FnOnce(&mut Launch) + Send + 'static,
    ) -> Proxy {
        let scratch = Scratch::new();
        let path = scratch.write("routes.yaml", &with_own_store(config.render(), &scratch));
        let file = path.clone();
        let (running, occupancy) = tokio::task::spawn_blocking(move || {
            let occupancy = occupy();
            let mut launch = launch(file, watch);
            adjust(&mut launch);
            let running = Running::start(launch).expect("the proxy starts");
            (running, occupancy)
        })
        .await
        .expect("start thread");
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Proxy {
            running,
            scratch,
            path,
            client,
            _occupancy: occupancy,
        }
    }

    /// Stops the proxy the way SIGTERM does: stop accepting, let requests in flight finish
    /// for up to `grace`, then stop.
    pub async fn shutdown(self, grace: std::time::Duration) {
        let Proxy {
            running,
            scratch,
            _occupancy,
            ..
        } = self;
        let stopping = tokio::task::spawn_blocking(move || running.shutdown(grace));
        stopping.await.expect("shutdown thread");
        drop((scratch, _occupancy));
    }

    /// The running instance.
    pub fn running(&self) -> &Running {
        &self.running
    }

    /// The routes.yaml the proxy serves.
    pub fn config_path(&self) -> &Path {
        &self.path
    }

    /// The directory holding routes.yaml.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// `http://PROXY{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.proxy_addr())
    }

    /// `http://ADMIN{path}`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.admin_addr())
    }

    /// A request to the proxy.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A GET to the proxy.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// A GET to the proxy as `tenant` (in the tenant header).
    pub fn get_as(&self, tenant: &str, path: &str) -> RequestBuilder {
        self.get(path).header(super::TENANT, tenant)
    }

    /// An admin call with the bearer `token`: status and JSON body (null when not JSON).
    pub async fn admin_call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.admin_url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Runs `strangler COMMAND --config <this proxy's routes.yaml> ARGS` (a command that
    /// reads the store, such as `diffs` or `report`); its stdout, once it succeeded.
    pub fn strangler(&self, command: &str, args: &[&str]) -> String {
        let config = self.config_path().to_str().unwrap().to_owned();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_strangler"))
            .args([command, "--config", &config])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running strangler {command}: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A GET to the admin listener: status and body text.
    pub async fn admin_get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(self.admin_url(path))
            .send()
            .await
            .expect("admin GET");
        (
            response.status(),
            response.text().await.expect("admin body"),
        )
    }

    /// `GET /admin/config` as JSON.
    pub async fn admin_config(&self) -> Value {
        let (status, body) = self.admin_get("/admin/config").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).expect("admin config is JSON")
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let (status, body) = self.admin_get("/metrics").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `POST /admin/reload`: status and JSON body.
    pub async fn reload(&self) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.admin_url("/admin/reload"))
            .send()
            .await
            .expect("admin reload");
        let status = response.status();
        (status, response.json().await.expect("reload answers JSON"))
    }

    /// Writes `config` over routes.yaml in place (the proxy reloads if it watches).
    pub fn rewrite(&self, config: &Config) {
        self.rewrite_text(&config.render());
    }

    /// Writes `text` over routes.yaml in place.
    pub fn rewrite_text(&self, text: &str) {
        std::fs::write(&self.path, text).expect("rewriting routes.yaml");
    }
}

/// Gives each proxy its own flag store in its scratch directory, unless the test chose one.
pub fn with_own_store(text: String, scratch: &Scratch) -> String {
    if text.lines().any(|line| line.starts_with("store:")) {
        return text;
    }
    format!(
        "{text}store: sqlite://{}/strangler.db\n",
        scratch.path().display()
    )
}

fn launch(config: PathBuf, watch: bool) -> Launch {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let mut launch = Launch::new(config);
    launch.listen = Some(bind());
    launch.admin = Some(bind());
    launch.watch = watch;
    launch.admin_tokens.clear();
    launch
}

/// What a client saw: status, headers, the backend that answered and the decision.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body as JSON (the echo backend's report), or a JSON string of the raw text.
    pub body: Value,
}

impl Answer {
    /// The backend that answered (`x-backend`), or "" when no backend did.
    pub fn backend(&self) -> &str {
        self.header(BACKEND_HEADER).unwrap_or("")
    }

    /// A response header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `x-strangler-decision` header.
    pub fn decision(&self) -> &str {
        self.header(DECISION_HEADER).unwrap_or("")
    }

    /// One `key=value` field of the decision header (`route`, `side`, `reason`).
    pub fn decided(&self, key: &str) -> Option<&str> {
        self.decision()
            .split("; ")
            .find_map(|field| field.strip_prefix(key)?.strip_prefix('='))
    }

    /// A request header as the echo backend received it.
    pub fn upstream_header(&self, name: &str) -> Option<&str> {
        self.body["headers"][name].as_str()
    }
}

/// Sends a request and collects what the client sees; panics on a transport error.
pub async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("the proxy answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("reading the body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}
