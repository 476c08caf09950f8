//! Runs the new billing service alone, outside `strangler demo`.
//!
//! ```text
//! cargo run -p strangler-examples --bin billing-service -- --listen 127.0.0.1:3001
//! curl -si localhost:3001/api/invoices/7          # "currency": "eur", the deliberate difference
//! curl -si -X POST localhost:3001/api/invoices -H 'content-type: application/json' \
//!      -d '{"customer":"Acme GmbH","lines":[{"description":"Support plan","quantity":2,"unit_price_cents":12000}]}'
//! curl -si localhost:3001/api/tickets/3           # 404: tickets never moved here
//! ```

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;

/// The new billing service: the invoice endpoints only.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3001")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!("billing service listening on http://{}", args.listen);
    strangler_examples::serve(listener, strangler_examples::billing::router()).await?;
    Ok(())
}
