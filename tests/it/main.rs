//! The one integration target: the real proxy and real backends, in-process on port 0, driven
//! with real HTTP the way a client would. One module per capability; `support` holds the
//! backends, the proxy harness and the bounded poll every asynchronous check goes through.

mod support;

mod admin;
mod admin_tokens;
mod anonymous;
mod binary;
mod breaker;
mod cli;
mod conditions;
mod conformance;
mod console;
mod dashboard;
mod deploy;
mod descriptors;
mod fallback;
mod flag_store_outage;
mod flags_cli;
mod forwarding;
mod grpc;
mod guard;
mod jwt;
mod limits;
mod notify;
mod prometheus;
mod propagation;
mod protocols;
mod qa;
mod ramp;
mod readiness;
mod reload;
mod rewrites;
mod rollout;
mod routing;
mod runtime_flags;
mod schema;
mod secrets;
mod shadow;
mod shadow_intake;
mod shadow_mirror;
mod shadow_report;
mod shadow_verdicts;
mod shutdown;
mod slow_clients;
mod store_file;
mod tenants;
mod timeouts;
mod tls_admin;
mod tls_listener;
mod tls_upstream;
mod traces;
mod upgrade;
mod version;
mod workers;
