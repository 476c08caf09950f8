//! `strangler demo`: the example legacy monolith and billing service started in-process on
//! the addresses routes.yaml names, the proxy in front of them, and curl lines to try.

use std::path::{Path, PathBuf};

use crate::admin::tokens::TOKEN_ENV;
use crate::cli::error::CliError;
use crate::live::routes_file;
use crate::process::server::Running;

/// Starts the example backends, then serves `config` in front of them as `strangler run`
/// does, with the demo's token when `STRANGLER_ADMIN_TOKEN` is not set; with `tls`, over
/// HTTPS on port 8443 too ([`crate::cli::demo_tls`]).
pub fn demo(config: PathBuf, tls: bool) -> Result<(), CliError> {
    if std::env::var_os(TOKEN_ENV).is_none() {
        // Before any thread starts: the demo's flag changes need a token too.
        std::env::set_var(TOKEN_ENV, DEMO_TOKEN);
    }
    let _backends = start_backends(&config)?;
    crate::cli::demo_history::seed(&config, &_backends)?;
    if !tls {
        let banner = |running: &Running| instructions(running.proxy_addr(), running.admin_addr());
        return crate::cli::run::serve(config, false, Some(Box::new(banner)));
    }
    let prepared = crate::cli::demo_tls::prepare(&config)?;
    let cert = prepared.cert.display().to_string();
    let banner = move |running: &Running| {
        let plain = instructions(running.proxy_addr(), running.admin_addr());
        let https = running.proxy_addrs().get(1).copied();
        plain + &https.map(|addr| tls_lines(addr, &cert)).unwrap_or_default()
    };
    crate::cli::run::serve(prepared.config, false, Some(Box::new(banner)))
}

/// The HTTPS lines of `demo --tls`.
fn tls_lines(https: std::net::SocketAddr, cert: &str) -> String {
    let port = https.port();
    format!(
        "HTTPS (self-signed certificate {cert}, made at this start; routes.tls.yaml serves):\n\
         \x20 curl -si --cacert {cert} -H 'X-Tenant-Id: qa-internal' https://localhost:{port}/api/invoices/7\n\
         \x20 curl -si --cacert {cert} --http2 https://localhost:{port}/api/tickets   # HTTP/2 by ALPN\n\
         \x20 curl -si http://localhost:{port}/                                       # plain HTTP to the TLS port: 400\n\
         While --tls runs the proxy follows routes.tls.yaml (written from routes.yaml at start).\n"
    )
}

/// Starts the example backends named in `config` on a runtime of their own (they must not
/// share the proxy's workers) and returns that runtime, which serves them until dropped.
fn start_backends(config: &Path) -> Result<tokio::runtime::Runtime, CliError> {
    let snapshot = routes_file::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("demo-backends")
        .enable_all()
        .build()
        .map_err(CliError::io("starting the demo backends' runtime"))?;
    let mut backends = vec![(
        snapshot.legacy().addr,
        strangler_examples::legacy::router(),
        "legacy monolith",
    )];
    for route in snapshot.routes() {
        let upstream = snapshot.upstream(strangler_flags::Side::New, Some(route));
        if &*upstream.name == "billing" && !backends.iter().any(|(a, _, _)| *a == upstream.addr) {
            backends.push((
                upstream.addr,
                strangler_examples::billing::router(),
                "billing service",
            ));
        }
    }
    crate::cli::demo_receiver::start(&snapshot, &runtime)?;
    for (addr, router, what) in backends {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|source| CliError::Bind { what, addr, source })?;
        runtime.spawn(strangler_examples::serve(listener, router));
        eprintln!("demo: {what} on http://{addr}");
    }
    Ok(runtime)
}

/// The admin token the demo uses when `STRANGLER_ADMIN_TOKEN` is not set.
const DEMO_TOKEN: &str = "demo";

/// The lines printed once the demo is up.
fn instructions(proxy: std::net::SocketAddr, admin: std::net::SocketAddr) -> String {
    format!(
        "\nstrangler demo is up: proxy http://{proxy}, admin http://{admin}\n\
         Console: open http://{admin}/ and sign in with the token `demo` (or $STRANGLER_ADMIN_TOKEN)\n\
         Try:\n\
         \x20 curl -si -H 'X-Tenant-Id: qa-internal' http://{proxy}/api/invoices/7   # override: new (billing)\n\
         \x20 curl -si -H 'X-Tenant-Id: bigcorp' http://{proxy}/api/invoices/7       # override: legacy\n\
         \x20 curl -si -H 'X-Tenant-Id: acme' http://{proxy}/api/invoices/7          # sticky 25 % bucket\n\
         \x20 curl -si http://{proxy}/api/tickets                                     # no route: legacy\n\
         \x20 cargo run --release -- explain --config routes.yaml --method GET --path /api/invoices/7 --tenant acme\n\
         \x20 curl -s http://{admin}/metrics | grep strangler_requests_total\n\
         Runtime flags (token: $STRANGLER_ADMIN_TOKEN, or `demo`):\n\
         \x20 curl -s -H 'Authorization: Bearer demo' http://{admin}/admin/routes\n\
         \x20 curl -s -H 'Authorization: Bearer demo' -X PUT http://{admin}/admin/routes/invoices/tenants -H 'content-type: application/json' -d '{{\"tenants\": {{\"acme\": \"new\"}}}}'\n\
         \x20 curl -s -H 'Authorization: Bearer demo' -X POST http://{admin}/admin/routes/invoices/kill\n\
         \x20 curl -s -H 'Authorization: Bearer demo' http://{admin}/admin/audit\n\
         Shadow compare (every invoices request is also answered by the other side, and compared):\n\
         \x20 for i in $(seq 1 50); do curl -s -o /dev/null -H \"X-Tenant-Id: tenant-$i\" http://{proxy}/api/invoices/$i; done\n\
         \x20 cargo run --release -- diffs --config routes.yaml       # the one real difference: /currency\n\
         \x20 curl -s -H 'Authorization: Bearer demo' 'http://{admin}/admin/diffs?route=invoices'\n\
         Readiness (which parts of the monolith can go; invoice-list's history is seeded demo data):\n\
         \x20 cargo run --release -- report --config routes.yaml      # invoice-list: legacy path removable\n\
         Gated ramp: under the loop above, invoices climbs 25 -> 50 -> 100 % every 30 s while its\n\
         evidence holds; the notifications it sends are printed here (`demo: notification ...`):\n\
         \x20 curl -s -H 'Authorization: Bearer demo' http://{admin}/admin/routes/invoices/ramp\n\
         \x20 cargo run --release -- flags list                     # PERCENT and the ramp's waiting reason\n\
         Edit routes.yaml (e.g. percent: 100) and the proxy follows within a second. Ctrl-C stops.\n"
    )
}
