//! The route table: a trie over path segments so a lookup costs one step per request
//! segment (plus the few branches a parameter opens), not a scan of every route. Each node
//! has its literal children in a hash map, at most one parameter child, the routes whose
//! pattern ends exactly there and the routes whose pattern ends there with `**`. Route
//! lists are sorted by [`Rank`], best first, so the first route at a
//! node whose method and host conditions pass is that node's best candidate.

use crate::hash::FastMap;
use crate::pattern::Segment;
use crate::route::{Rank, Route};
use crate::RequestView;

/// The compiled lookup structure over a snapshot's routes (which it indexes).
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    root: Node,
    ranks: Vec<Rank>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    literals: FastMap<Box<str>, Node>,
    param: Option<Box<Node>>,
    /// Routes whose pattern ends at this node.
    exact: Vec<usize>,
    /// Routes whose pattern ends at this node with `**`.
    globstar: Vec<usize>,
}

/// The request fields a lookup needs, read once.
struct Query<'a> {
    method: &'a str,
    host: Option<&'a str>,
}

impl RouteTable {
    /// Builds the trie over `routes`; indexes refer to that slice.
    pub fn new(routes: &[Route]) -> RouteTable {
        let ranks: Vec<Rank> = routes.iter().map(Route::rank).collect();
        let mut root = Node::default();
        for (index, route) in routes.iter().enumerate() {
            root.insert(route.pattern.segments(), index);
        }
        root.sort(&ranks);
        RouteTable { root, ranks }
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
            method: req.method(),
            host: req.host(),
        };
        let rest = path.strip_prefix('/').filter(|rest| !rest.is_empty());
        let mut best = None;
        self.walk(&self.root, rest, routes, &query, &mut best);
        best.map(|index| &routes[index])
    }

    /// Visits `node` with the unmatched `rest` of the path (None when it is used up).
    fn walk(
        &self,
        node: &Node,
        rest: Option<&str>,
        routes: &[Route],
        query: &Query<'_>,
        best: &mut Option<usize>,
    ) {
        self.consider(&node.globstar, routes, query, best);
        let Some(rest) = rest else {
            self.consider(&node.exact, routes, query, best);
            return;
        };
        let (segment, next) = match rest.split_once('/') {
            Some((segment, next)) => (segment, Some(next)),
            None => (rest, None),
        };
        if let Some(child) = node.literals.get(segment) {
            self.walk(child, next, routes, query, best);
        }
        if let Some(child) = &node.param {
            self.walk(child, next, routes, query, best);
        }
    }

    /// Takes the first admissible route of `candidates` if it outranks `best`.
    fn consider(
        &self,
        candidates: &[usize],
        routes: &[Route],
        query: &Query<'_>,
        best: &mut Option<usize>,
    ) {
        for &index in candidates {
            if best.is_some_and(|best| self.ranks[index] <= self.ranks[best]) {
                return;
            }
            if routes[index].admits(query.method, query.host) {
                *best = Some(index);
                return;
            }
        }
    }
}

impl Node {
    fn insert(&mut self, segments: &[Segment], index: usize) {
        let Some((first, rest)) = segments.split_first() else {
            self.exact.push(index);
            return;
        };
        match first {
            Segment::Globstar => self.globstar.push(index),
            Segment::Literal(text) => self
                .literals
                .entry(text.clone())
                .or_default()
                .insert(rest, index),
            Segment::Param(_) => self
                .param
                .get_or_insert_with(Box::default)
                .insert(rest, index),
        }
    }

    /// Sorts every route list best rank first.
    fn sort(&mut self, ranks: &[Rank]) {
        let by_rank_descending = |a: &usize, b: &usize| ranks[*b].cmp(&ranks[*a]);
        self.exact.sort_by(by_rank_descending);
        self.globstar.sort_by(by_rank_descending);
        self.literals
            .values_mut()
            .for_each(|child| child.sort(ranks));
        if let Some(child) = &mut self.param {
            child.sort(ranks);
        }
    }
}
