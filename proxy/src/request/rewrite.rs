//! A route's `rewrite:` at the edge: the request its new side receives (path, `Host`,
//! headers) and the redirects it answers with, mapped back into the client's layout. The
//! rules are compiled in the snapshot (`strangler_flags::rewrite`); this applies them to
//! Pingora's heads. Legacy always gets the request as the client sent it: a rewrite is
//! applied only when the new side serves, or to the copy a shadow call to it sends.
//!
//! The path is rewritten from the normalised path the route matched (so `//` and
//! `%61`-style spellings rewrite alike; matrix parameters are left out), the query
//! string is kept as sent. A `Location` with no inverse (outside `add_prefix`, another
//! host, a relative one) is passed on as the new side sent it.

use http::header::{HOST, LOCATION};
use http::Uri;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::{Error, ErrorType, Result};
use strangler_flags::rewrite::Rewrite;
use strangler_flags::{Route, Side};

use crate::request::context::RequestCtx;
use crate::request::head::header_str;
use crate::shadow::layout::NewLayout;

/// `upstream` (the head legacy would get) as the new side of `route` receives it: its
/// `rewrite:` applied, if it has one.
pub(super) fn apply(route: &Route, upstream: &mut RequestHeader) -> Result<()> {
    let Some(rewrite) = route.rewrite() else {
        return Ok(());
    };
    if let Some(target) = upstream_target(route, rewrite, &upstream.uri)? {
        upstream.set_uri(target);
    }
    if let Some(host) = rewrite.host() {
        upstream.insert_header(HOST, host)?;
    }
    for name in rewrite.removed_headers() {
        upstream.remove_header(&**name);
    }
    for (name, value) in rewrite.set_headers() {
        upstream.insert_header(name.to_string(), &**value)?;
    }
    Ok(())
}

/// The rewritten target (scheme and authority kept when the client sent them), or None
/// when the path does not change.
fn upstream_target(route: &Route, rewrite: &Rewrite, uri: &Uri) -> Result<Option<Uri>> {
    if !rewrite.changes_path() {
        return Ok(None);
    }
    let path = strangler_flags::matched_path(uri.path()).map_err(|e| internal(e.to_string()))?;
    let Some(mut target) = rewrite.upstream_path(route.path_pattern(), &path) else {
        return Ok(None);
    };
    if let Some(query) = uri.query() {
        target.push('?');
        target.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(target.parse().map_err(|e| internal(format!("{e}")))?);
    Uri::from_parts(parts)
        .map(Some)
        .map_err(|e| internal(e.to_string()))
}

/// Maps the `Location` of an answer from the new side of `route` back into the client's
/// layout; `client` is the request as the client sent it.
fn map_location(
    route: &Route,
    client: &RequestHeader,
    response: &mut ResponseHeader,
) -> Result<()> {
    let Some(rewrite) = route.rewrite() else {
        return Ok(());
    };
    let Some(location) = header_str_of(response, LOCATION.as_str()) else {
        return Ok(());
    };
    let client_host = client_host(client);
    let sent_host = rewrite.host().or(client_host);
    let pattern = route.path_pattern();
    match rewrite.client_location(pattern, location, sent_host, client_host) {
        Some(mapped) => response.insert_header(LOCATION, mapped),
        None => Ok(()),
    }
}

/// The host the client named (`:authority` or `Host`).
fn client_host(client: &RequestHeader) -> Option<&str> {
    match client.uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => header_str(client, HOST.as_str()),
    }
}

fn header_str_of<'a>(response: &'a ResponseHeader, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

fn internal(why: String) -> Box<Error> {
    Error::explain(ErrorType::InternalError, format!("rewrite: {why}"))
}

/// Keeps the mirror's copies (legacy's head, and the new side's when the route rewrites),
/// then rewrites `upstream` when the new side serves; `client` is the request as sent.
pub(super) fn upstream_request(
    client: &RequestHeader,
    upstream: &mut RequestHeader,
    ctx: &mut RequestCtx,
) -> Result<()> {
    let serves_new = ctx.served_side() == Side::New;
    let route = ctx
        .config
        .as_deref()
        .zip(ctx.route)
        .map(|(loaded, index)| &loaded.snapshot.routes()[index]);
    if let Some(mirror) = &mut ctx.mirror {
        let layout = match route {
            Some(route) => new_layout(route, client, upstream)?,
            None => None,
        };
        mirror.on_upstream_request(upstream, layout);
    }
    match route {
        Some(route) if serves_new => apply(route, upstream),
        _ => Ok(()),
    }
}

/// The new side's head and redirects for a mirror, when `route` rewrites.
fn new_layout(
    route: &Route,
    client: &RequestHeader,
    legacy: &RequestHeader,
) -> Result<Option<NewLayout>> {
    let Some(rewrite) = route.rewrite() else {
        return Ok(None);
    };
    let mut head = legacy.clone();
    apply(route, &mut head)?;
    let pattern = route.path_pattern().clone();
    let layout = NewLayout::new(head, rewrite.clone(), pattern, client_host(client));
    Ok(Some(layout))
}

/// Maps the redirect of an answer the new side served back to the client's layout.
pub(super) fn client_response(
    client: &RequestHeader,
    response: &mut ResponseHeader,
    ctx: &RequestCtx,
) -> Result<()> {
    match ctx.route() {
        Some(route) if ctx.served_side() == Side::New => map_location(route, client, response),
        _ => Ok(()),
    }
}
