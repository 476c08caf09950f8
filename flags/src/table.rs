//! The route table: a trie over path segments so a lookup costs one step per request
//! segment (plus the few branches a parameter opens), not a scan of every route. Each node
//! has its literal children in a hash map, at most one parameter child, the routes whose
//! pattern ends exactly there and the routes whose pattern ends there with `**`. Route
//! lists are sorted by [`Rank`], best first, so the first route at a
//! node whose method and host conditions pass is that node's best candidate.
//!
//! Under `paths.case: insensitive` the literal children are lowercase (the patterns were
//! folded at load) and a request segment with an uppercase letter is looked up lowercased
//! in a buffer on the stack, so a lookup still allocates nothing; a case-sensitive table
//! pays one flag test per segment.

use crate::config::paths::PathCase;
use crate::hash::{FastMap, ShortKey};
use crate::pattern::Segment;
use crate::route::{Rank, Route};
use crate::RequestView;

/// The compiled lookup structure over a snapshot's routes (which it indexes).
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    root: Node,
    /// Request segments are lowercased before a literal lookup (`paths.case: insensitive`).
    fold: bool,
}

/// A route ending at a node, with what choosing among candidates needs kept inline: the
/// lookup reads the route itself only when it has a method, host, header, cookie or query
/// condition.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    rank: Rank,
    /// No `methods:`, `host:` or other condition: every request reaching the node is
    /// admitted.
    unconditional: bool,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literals: FastMap<ShortKey, Node>,
    param: Option<Box<Node>>,
    /// Routes whose pattern ends at this node.
    exact: Vec<Candidate>,
    /// Routes whose pattern ends at this node with `**`.
    globstar: Vec<Candidate>,
}

/// The request fields a lookup needs, read once, and the request for the conditions.
struct Query<'a, R> {
    req: &'a R,
    method: &'a str,
    host: Option<&'a str>,
    fold: bool,
}

/// The longest request segment lowercased on the stack; a longer one with an uppercase
/// letter is compared with each literal child instead.
const FOLD_BUFFER: usize = 64;

impl RouteTable {
    /// Builds the trie over `routes`, whose patterns are compared under `case` (folded
    /// already when insensitive); indexes refer to that slice.
    pub fn new(routes: &[Route], case: PathCase) -> RouteTable {
        let mut root = Node::default();
        for (index, route) in routes.iter().enumerate() {
            let candidate = Candidate {
                index,
                rank: route.rank(),
                unconditional: route.methods.is_none()
                    && route.host.is_none()
                    && route.conditions.is_empty(),
            };
            root.insert(route.pattern.segments(), candidate);
        }
        root.sort();
        RouteTable {
            root,
            fold: case == PathCase::Insensitive,
        }
    }

    /// The most specific route of `routes` (the slice given to `new`) matching `req`, whose
    /// normalised path is `path` (`req.path()`, the raw one, is not looked at).
    pub fn find<'s>(
        &self,
        routes: &'s [Route],
        req: &impl RequestView,
        path: &str,
    ) -> Option<&'s Route> {
        let query = Query {
            req,
            method: req.method(),
            host: req.host(),
            fold: self.fold,
        };
        let rest = path.strip_prefix('/').filter(|rest| !rest.is_empty());
        let mut best = None;
        walk(&self.root, rest, routes, &query, &mut best);
        best.map(|candidate: Candidate| &routes[candidate.index])
    }
}

/// Visits `node` with the unmatched `rest` of the path (None when it is used up).
fn walk<R: RequestView>(
    node: &Node,
    rest: Option<&str>,
    routes: &[Route],
    query: &Query<'_, R>,
    best: &mut Option<Candidate>,
) {
    consider(&node.globstar, routes, query, best);
    let Some(rest) = rest else {
        consider(&node.exact, routes, query, best);
        return;
    };
    let (segment, next) = match rest.split_once('/') {
        Some((segment, next)) => (segment, Some(next)),
        None => (rest, None),
    };
    if let Some(child) = literal_child(node, segment, query.fold) {
        walk(child, next, routes, query, best);
    }
    if let Some(child) = &node.param {
        walk(child, next, routes, query, best);
    }
}

/// The literal child of `node` for `segment`, regardless of ASCII case when `fold`.
fn literal_child<'n>(node: &'n Node, segment: &str, fold: bool) -> Option<&'n Node> {
    if !fold || !segment.bytes().any(|b| b.is_ascii_uppercase()) {
        return node.literals.get(segment.as_bytes());
    }
    let mut buffer = [0u8; FOLD_BUFFER];
    match buffer.get_mut(..segment.len()) {
        Some(folded) => {
            folded.copy_from_slice(segment.as_bytes());
            folded.make_ascii_lowercase();
            node.literals.get(&*folded)
        }
        None => node
            .literals
            .iter()
            .find(|(literal, _)| literal.as_bytes().eq_ignore_ascii_case(segment.as_bytes()))
            .map(|(_, child)| child),
    }
}

/// Takes the first admissible route of `candidates` if it outranks `best`.
fn consider<R: RequestView>(
    candidates: &[Candidate],
    routes: &[Route],
    query: &Query<'_, R>,
    best: &mut Option<Candidate>,
) {
    for candidate in candidates {
        if best.is_some_and(|best| candidate.rank <= best.rank) {
            return;
        }
        if candidate.unconditional
            || routes[candidate.index].admits(query.req, query.method, query.host)
        {
            *best = Some(*candidate);
            return;
        }
    }
}

impl Node {
    fn insert(&mut self, segments: &[Segment], candidate: Candidate) {
        let Some((first, rest)) = segments.split_first() else {
            self.exact.push(candidate);
            return;
        };
        match first {
            Segment::Globstar => self.globstar.push(candidate),
            Segment::Literal(text) => self
                .literals
                .entry(ShortKey::from(&**text))
                .or_default()
                .insert(rest, candidate),
            Segment::Param(_) => self
                .param
                .get_or_insert_with(Box::default)
                .insert(rest, candidate),
        }
    }

    /// Sorts every route list best rank first.
    fn sort(&mut self) {
        let by_rank_descending = |a: &Candidate, b: &Candidate| b.rank.cmp(&a.rank);
        self.exact.sort_by(by_rank_descending);
        self.globstar.sort_by(by_rank_descending);
        self.literals.values_mut().for_each(Node::sort);
        if let Some(child) = &mut self.param {
            child.sort();
        }
    }
}
