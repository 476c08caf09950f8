//! A shadowed request's new-side layout, when its route has a `rewrite:`: the head the new
//! side is sent (the rewrite applied to the copy legacy's head would be) and how a
//! `Location` in the new side's answers maps back into the client's layout. The shadow
//! call to the new side, and a noise probe of it, send this head; its answers are mapped
//! before the diff, so a comparison sets the rewritten request's answer against legacy's in
//! one layout, whichever side is primary.

use std::sync::Arc;

use pingora::http::RequestHeader;
use strangler_flags::pattern::Pattern;
use strangler_flags::rewrite::Rewrite;
use strangler_shadow::Captured;

/// The new side's request and its redirects' way back.
pub struct NewLayout {
    /// The head the new side is sent.
    pub head: RequestHeader,
    /// The route's rewrite.
    rewrite: Arc<Rewrite>,
    /// The route's pattern, which the rewrite's parameters come from.
    pattern: Pattern,
    /// The `Host` the new side got.
    sent_host: Option<String>,
    /// The `Host` the client named.
    client_host: Option<String>,
}

impl NewLayout {
    /// The layout of a request whose new side gets `head`.
    pub fn new(
        head: RequestHeader,
        rewrite: Arc<Rewrite>,
        pattern: Pattern,
        client_host: Option<&str>,
    ) -> NewLayout {
        let sent_host = rewrite.host().or(client_host).map(str::to_owned);
        NewLayout {
            head,
            rewrite,
            pattern,
            sent_host,
            client_host: client_host.map(str::to_owned),
        }
    }

    /// `answer` (from the new side) with its `Location` in the client's layout.
    pub fn map_answer(&self, mut answer: Captured) -> Captured {
        for (name, value) in &mut answer.headers {
            if !name.eq_ignore_ascii_case("location") {
                continue;
            }
            let (sent, client) = (self.sent_host.as_deref(), self.client_host.as_deref());
            if let Some(mapped) = self
                .rewrite
                .client_location(&self.pattern, value, sent, client)
            {
                *value = mapped;
            }
        }
        answer
    }
}

/// The primary call or the shadow call of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The side that served the client.
    Primary,
    /// The other side.
    Shadow,
}

/// The heads each side of a comparison is sent: legacy's, and the new side's when its
/// route rewrites ([`NewLayout`]), whose answers are then mapped to the client's layout.
#[derive(Clone, Copy)]
pub(super) struct Sides<'a> {
    legacy: &'a RequestHeader,
    layout: Option<&'a NewLayout>,
    /// Which role the new side plays.
    new: Role,
}

impl<'a> Sides<'a> {
    /// The sides of a comparison whose shadow is the new side when `new_is_shadow`.
    pub(super) fn new(
        legacy: &'a RequestHeader,
        layout: Option<&'a NewLayout>,
        new_is_shadow: bool,
    ) -> Sides<'a> {
        let new = match new_is_shadow {
            true => Role::Shadow,
            false => Role::Primary,
        };
        Sides {
            legacy,
            layout,
            new,
        }
    }

    /// The head `role` is sent.
    pub(super) fn head(&self, role: Role) -> &'a RequestHeader {
        match self.layout {
            Some(layout) if role == self.new => &layout.head,
            _ => self.legacy,
        }
    }

    /// `answer` from `role`, its redirects in the client's layout if that is the new side.
    pub(super) fn in_client_layout(&self, role: Role, answer: Captured) -> Captured {
        match self.layout {
            Some(layout) if role == self.new => layout.map_answer(answer),
            _ => answer,
        }
    }
}
