//! What the proxy says about itself: which build it is, Prometheus metrics, the JSON log and its writer, the
//! access log, each request's identity (request id, W3C trace context), its spans over OTLP,
//! the per-route counts the readiness rollup is flushed from ([`rollup`]), and the
//! notifications sent to `notify:` receivers.
//!
//! The lowest layer of the crate: it imports nothing of the crate outside this folder and
//! takes plain records (an [`access_log::AccessRecord`], a route index, a label), never a
//! request context, so every other folder may use it.

pub mod access_log;
pub mod build_info;
pub mod catalog;
pub mod log_writer;
pub mod metrics;
pub mod notify;
pub mod otlp;
pub mod outbound;
pub mod rollup;
pub mod trace;
