//! Runs the legacy monolith alone, outside `strangler demo`.
//!
//! ```text
//! cargo run -p strangler-examples --bin legacy-monolith -- --listen 127.0.0.1:3000
//! curl -si localhost:3000/api/invoices/7
//! curl -si -H 'x-strangler-tenant: acme' localhost:3000/api/tickets/3
//! curl -s localhost:3000/api/invoices/7/pdf
//! ```
//!
//! Each JSON answer has `"served_by": "legacy"`, the tenant from `x-strangler-tenant`
//! (null without it) and a fresh `generated_at` and `request_id`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;

/// The legacy monolith: invoices, tickets and users.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("legacy monolith listening on http://{}", args.listen);
    strangler_examples::serve(listener, strangler_examples::legacy::router()).await?;
    Ok(())
}
