//! The "bare Pingora built the same way" reference for `bench/run.sh`.
//!
//! One `ProxyHttp` with a single `upstream_peer`, one worker thread, plain
//! HTTP, built with the workspace's `pingora` dependency and release profile.
//! Whatever strangler costs beyond this proxy is strangler's own overhead,
//! so this crate must stay free of anything strangler-specific.
//!
//! ```text
//! cargo run --release -p bare-pingora -- 127.0.0.1:8081 127.0.0.1:8080
//! curl -i 127.0.0.1:8081/ok
//! ```

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;

/// Sends every request to the one backend, reusing pooled connections.
struct Forward {
    /// The backend's address, parsed once at start so requests pay no parsing.
    backend: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Forward {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    /// The only decision: every request goes to the backend over plain HTTP.
    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.backend, false, String::new())))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(Ok(backend))) = (args.next(), args.next().map(|a| a.parse())) else {
        eprintln!("usage: bare-pingora LISTEN_ADDR BACKEND_IP:PORT [THREADS]");
        std::process::exit(2);
    };
    let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    let conf = ServerConf {
        threads,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Forward { backend });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
