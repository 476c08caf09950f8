//! The arguments of `strangler flags`, as clap parses them: the admin URL, `--json`, and
//! one command with its own arguments.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};
use strangler_flags::Side;

/// `strangler flags [--admin URL] [--json] <command>`.
#[derive(Args)]
pub struct FlagsArgs {
    /// The proxy's admin listener.
    #[arg(long, env = "STRANGLER_ADMIN", default_value = "http://127.0.0.1:9180")]
    pub admin: String,
    /// Print the server's JSON answer instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: FlagsCommand,
}

/// What to show or change.
#[derive(Subcommand)]
pub enum FlagsCommand {
    /// Every route's effective kill switch, percent, tenant sides and schedule.
    List,
    /// routes.yaml with the runtime flags folded in, for teams that commit their flags.
    Export,
    /// Set a route's rollout percentage (0 to 100, at most two decimals).
    SetPercent {
        route: String,
        percent: f64,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Drop a route's runtime percentage: routes.yaml's `rollout.percent` decides again.
    ClearPercent {
        route: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Set a route's runtime shadow sample (0 to 100), or `--clear` it.
    #[command(group(ArgGroup::new("sample").required(true).args(["percent", "clear"])))]
    ShadowSample {
        route: String,
        /// The share of the route's requests to shadow.
        percent: Option<f64>,
        /// Drop the runtime sample: routes.yaml's `shadow.sample` decides again.
        #[arg(long)]
        clear: bool,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Set or clear tenant sides of a route.
    Tenants {
        route: String,
        #[command(subcommand)]
        action: TenantsAction,
    },
    /// Turn a route's kill switch on (every request to legacy), or the global one.
    Kill {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Turn a route's kill switch off, or the global one.
    Unkill {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Set, clear, pause or resume a route's ramp: `--step AT=PERCENT` (repeatable), or an
    /// interval ramp `--every 1h --by 5 --until 100` (from `--start`, default now).
    #[command(group(ArgGroup::new("action").required(true).args(["steps", "every", "clear", "pause", "resume"])))]
    Schedule {
        route: String,
        /// A step of the ramp, `2026-11-23T08:00:00Z=25` (repeatable).
        #[arg(long = "step", value_name = "AT=PERCENT", value_parser = parse_step)]
        steps: Vec<Value>,
        /// An interval ramp: raise the percentage this often (`30m`, `1h`, `1d`).
        #[arg(long, requires_all = ["by", "until"], conflicts_with = "steps")]
        every: Option<String>,
        /// How much each raise of an interval ramp adds (also its first value).
        #[arg(long, requires = "every")]
        by: Option<f64>,
        /// Where an interval ramp stops.
        #[arg(long, requires = "every")]
        until: Option<f64>,
        /// When an interval ramp's first raise applies (RFC 3339); default now.
        #[arg(long, requires = "every")]
        start: Option<String>,
        /// Drop the ramp.
        #[arg(long)]
        clear: bool,
        /// Freeze the ramp where it is.
        #[arg(long)]
        pause: bool,
        /// Continue a paused ramp.
        #[arg(long)]
        resume: bool,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Start, show, pause, resume, advance or clear a route's gated ramp.
    Ramp(super::ramp::RampArgs),
    /// The newest audit entries.
    Audit {
        #[arg(long)]
        route: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Restore the flags as they were before audit entry ID.
    Revert {
        id: i64,
        #[arg(long)]
        comment: Option<String>,
    },
}

/// `tenants ROUTE set ...` or `tenants ROUTE clear TENANT`.
#[derive(Subcommand)]
pub enum TenantsAction {
    /// Give tenants a side: `acme=new globex=legacy`, or every line of `--file`.
    Set {
        #[arg(value_name = "TENANT=SIDE", value_parser = parse_tenant_side,
              required_unless_present = "file", conflicts_with = "file")]
        pairs: Vec<(String, Side)>,
        /// A file of `tenant side` or `tenant=side` lines, for many tenants in one change.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Drop a tenant's runtime side, or `--all` of the route's: routes.yaml decides again.
    #[command(group(ArgGroup::new("which").required(true).args(["tenant", "all"])))]
    Clear {
        tenant: Option<String>,
        /// Every runtime tenant side of the route, in one change.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        comment: Option<String>,
    },
}

/// One route, or `--all` for the global switch.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    pub(super) route: Option<String>,
    /// The global kill switch.
    #[arg(long)]
    pub(super) all: bool,
}

/// `2026-11-23T08:00:00Z=25` as `{"at": "...", "percent": 25}`; the server checks the rest.
fn parse_step(raw: &str) -> Result<Value, String> {
    let (at, percent) = raw
        .rsplit_once('=')
        .ok_or_else(|| format!("{raw:?} is not AT=PERCENT"))?;
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{at:?} is not an RFC 3339 time: {e}"))?;
    let percent: f64 = percent
        .parse()
        .map_err(|_| format!("{percent:?} is not a percentage"))?;
    Ok(json!({ "at": at, "percent": percent }))
}

/// `acme=new` as (`acme`, New).
fn parse_tenant_side(raw: &str) -> Result<(String, Side), String> {
    let (tenant, side) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not TENANT=SIDE"))?;
    Ok((tenant.trim().to_string(), parse_side(side.trim())?))
}

pub(super) fn parse_side(raw: &str) -> Result<Side, String> {
    match raw {
        "legacy" => Ok(Side::Legacy),
        "new" => Ok(Side::New),
        _ => Err(format!("side {raw:?} is neither `legacy` nor `new`")),
    }
}
