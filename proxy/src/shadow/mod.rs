//! Shadow compare at the edge: the capture of a shadowed request while the primary serves
//! it ([`mirror`]; with a route's `rewrite:`, the new side's head and redirects in
//! [`layout`]), the shadow call ([`client`]) and the comparison on a runtime of their
//! own ([`dispatch`], which takes jobs in per burst: [`intake`]), the comparison's span when the request is traced ([`traced`]), the diff store's writer ([`diff_writer`]) and the reports read back from
//! it ([`reports`], as text: [`report_text`]). The diff engine itself is the `strangler-shadow` crate.
//!
//! May import [`crate::telemetry`], [`crate::tls`] and [`crate::live`]; the request hooks call in, never the
//! other way.

pub mod client;
pub mod diff_writer;
pub mod dispatch;
pub mod intake;
pub mod layout;
pub mod mirror;
pub mod report_text;
pub mod reports;
pub mod traced;
