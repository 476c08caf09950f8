//! The health of the new services: one [`Breaker`] per service that has `breaker:` or
//! `health:` in routes.yaml, and the loop that runs the active health checks.
//!
//! The breakers follow the live configuration: when a request (or the check loop) sees a
//! routes.yaml it has not seen yet, the board is rebuilt once, keeping the breaker of every
//! service whose name, resolved address and TLS settings stayed (a reload resets a breaker
//! only when its service moved or is reached otherwise). Health checks run on the admin runtime, never on a proxy worker: each
//! is a fresh connection (`GET <path>`, no pooling, so a dead listener is noticed; TLS with
//! the service's settings for an `https://` one), and a 2xx or 3xx answer within
//! `health.timeout` is healthy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Empty;
use strangler_flags::resilience::HealthCheck;
use strangler_flags::tls::UpstreamTls;
use strangler_flags::Snapshot;
use tokio::sync::watch;

use crate::live::config::LiveConfig;
use crate::resilience::breaker::Breaker;
use crate::tls::client::{http_client, HttpClient};

/// How often the check loop looks for checks that are due.
const TICK: std::time::Duration = std::time::Duration::from_millis(50);

/// One new service with a breaker or a health check: its breaker and its last check.
pub struct ServiceBreaker {
    /// The service's name.
    pub name: Box<str>,
    /// Where it was resolved to (a new address is a new breaker).
    pub addr: SocketAddr,
    /// How it is reached: `Host` sent with a check, TLS settings of an `https://` one.
    pub reach: Reach,
    /// Its breaker.
    pub breaker: Breaker,
    /// The last active check: when it finished and whether it was healthy.
    last_check: parking_lot::Mutex<Option<(SystemTime, bool)>>,
}

/// What a health check needs to reach a service besides its address.
pub struct Reach {
    /// The authority as written in routes.yaml, sent as `Host`.
    pub host: Box<str>,
    /// Its TLS settings, for an `https://` service.
    pub tls: Option<Arc<UpstreamTls>>,
    /// The client of its checks, made once (roots read, keys parsed) with the breaker; it
    /// keeps no idle connection, so every check connects. Why it could not be made, if so.
    client: Result<HttpClient<Empty<Bytes>>, String>,
}

impl Reach {
    /// How to reach `upstream`.
    fn of(upstream: &strangler_flags::Upstream) -> Reach {
        Reach {
            host: upstream.host.clone(),
            tls: upstream.tls.clone(),
            client: http_client(upstream.tls.as_deref(), None),
        }
    }
}

impl ServiceBreaker {
    /// The last active check, if any ran.
    pub fn last_check(&self) -> Option<(SystemTime, bool)> {
        *self.last_check.lock()
    }
}

/// The breakers of one routes.yaml, indexed like its services.
pub struct Board {
    /// The routes.yaml (as compiled) the board was built for.
    file: Option<Arc<Snapshot>>,
    /// `None` for a service without `breaker:` or `health:`.
    pub services: Vec<Option<Arc<ServiceBreaker>>>,
}

/// Every breaker of the instance.
pub struct ServiceHealth {
    board: ArcSwap<Board>,
    /// Serialises rebuilds; the request path takes it only on the first request after a
    /// reload.
    rebuilding: parking_lot::Mutex<()>,
}

impl Default for ServiceHealth {
    fn default() -> ServiceHealth {
        let board = Board {
            file: None,
            services: Vec::new(),
        };
        ServiceHealth {
            board: ArcSwap::from_pointee(board),
            rebuilding: parking_lot::Mutex::new(()),
        }
    }
}

impl ServiceHealth {
    /// The breaker of service `index` of `file`, if it has one.
    pub fn breaker(&self, file: &Arc<Snapshot>, index: usize) -> Option<Arc<ServiceBreaker>> {
        let board = self.board_for(file);
        board.services.get(index).cloned().flatten()
    }

    /// The board for `file`, rebuilt first if it was built for another file.
    pub fn board_for(&self, file: &Arc<Snapshot>) -> Arc<Board> {
        let board = self.board.load_full();
        if board.file.as_ref().is_some_and(|f| Arc::ptr_eq(f, file)) {
            return board;
        }
        let _serial = self.rebuilding.lock();
        let board = self.board.load_full();
        if board.file.as_ref().is_some_and(|f| Arc::ptr_eq(f, file)) {
            return board;
        }
        let rebuilt = Arc::new(rebuild(&board, file));
        self.board.store(rebuilt.clone());
        rebuilt
    }

    /// Runs the active health checks of the live configuration until `shutdown`.
    pub async fn run_checks(
        self: Arc<Self>,
        live: Arc<LiveConfig>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut due: HashMap<(Box<str>, SocketAddr), Instant> = HashMap::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let file = live.current().file.clone();
            let board = self.board_for(&file);
            let guarded = |(name, addr): &(Box<str>, SocketAddr)| {
                board
                    .services
                    .iter()
                    .flatten()
                    .any(|g| g.name == *name && g.addr == *addr)
            };
            due.retain(|key, _| guarded(key));
            for (index, guarded) in board.services.iter().enumerate() {
                let (Some(guarded), Some(check)) = (guarded, &file.service_policy(index).health)
                else {
                    continue;
                };
                let key = (guarded.name.clone(), guarded.addr);
                let next = due.entry(key).or_insert_with(Instant::now);
                if Instant::now() >= *next {
                    *next = Instant::now() + check.interval;
                    tokio::spawn(check_once(guarded.clone(), check.clone()));
                }
            }
        }
    }
}

/// `GET path` of `guarded`: the status, or why there is none.
async fn ask(guarded: &ServiceBreaker, path: &str) -> Result<http::StatusCode, String> {
    let reach = &guarded.reach;
    let client = reach.client.as_ref().map_err(Clone::clone)?;
    let scheme = if reach.tls.is_some() { "https" } else { "http" };
    let request = http::Request::get(format!("{scheme}://{}{path}", guarded.addr))
        .header(http::header::HOST, &*reach.host)
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let answer = client.request(request).await.map_err(|e| e.to_string())?;
    Ok(answer.status())
}

/// A board for `file`, keeping the breakers of `old` whose service kept its address and TLS.
fn rebuild(old: &Board, file: &Arc<Snapshot>) -> Board {
    let services = file.services().iter().enumerate().map(|(index, upstream)| {
        let settings = file.service_policy(index).breaker.clone()?;
        let kept = old.services.iter().flatten().find(|g| {
            *g.name == *upstream.name && g.addr == upstream.addr && g.reach.tls == upstream.tls
        });
        if let Some(kept) = kept {
            kept.breaker.set_settings(settings);
            return Some(kept.clone());
        }
        Some(Arc::new(ServiceBreaker {
            name: upstream.name.clone(),
            addr: upstream.addr,
            reach: Reach::of(upstream),
            breaker: Breaker::new(&upstream.name, settings, Instant::now()),
            last_check: parking_lot::Mutex::new(None),
        }))
    });
    Board {
        file: Some(file.clone()),
        services: services.collect(),
    }
}

/// One check of one service, on a fresh connection (TLS with the service's settings for an
/// `https://` one); its outcome goes to the breaker and the counters.
async fn check_once(guarded: Arc<ServiceBreaker>, check: HealthCheck) {
    let answered = tokio::time::timeout(check.timeout, ask(&guarded, &check.path)).await;
    let ok = matches!(answered, Ok(Ok(status)) if status.is_success() || status.is_redirection());
    let result = if ok { "ok" } else { "failed" };
    metrics::counter!("strangler_health_check_total",
        "service" => guarded.name.to_string(), "result" => result)
    .increment(1);
    *guarded.last_check.lock() = Some((SystemTime::now(), ok));
    let breaker = &guarded.breaker;
    breaker.record_check(ok, check.healthy, check.unhealthy, Instant::now());
}
