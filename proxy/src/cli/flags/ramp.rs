//! `strangler flags ramp ROUTE ...`: start a gated ramp (`--steps 5,10,25 --every 30m` and
//! the gates), show it (no option), or `--pause`, `--resume`, `--advance --force`,
//! `--clear` it; each becomes one call of [`crate::admin::ramp`].

use clap::{ArgGroup, Args};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::Call;

/// The arguments of `flags ramp`.
#[derive(Args)]
#[command(group(ArgGroup::new("action").args(["steps", "pause", "resume", "advance", "clear"])))]
pub struct RampArgs {
    /// The route.
    pub route: String,
    /// Start a ramp through these percents, in order: `5,10,25,50,100`.
    #[arg(long, value_delimiter = ',', requires = "every")]
    pub steps: Vec<f64>,
    /// The least time at each step: `30m`, `1h`.
    #[arg(long, requires = "steps")]
    pub every: Option<String>,
    /// Gate: the highest error rate of the new side at a step (`1%`); over it, the route trips.
    #[arg(long, requires = "steps")]
    pub max_error_rate: Option<String>,
    /// Gate: the highest p95 at a step (`400ms`); over it, the route trips.
    #[arg(long, requires = "steps")]
    pub max_p95: Option<String>,
    /// Gate: requests at a step before it may advance.
    #[arg(long, requires = "steps")]
    pub min_requests: Option<u64>,
    /// Gate: the lowest shadow match rate at a step (`99.5%`).
    #[arg(long, requires = "steps")]
    pub min_match_rate: Option<String>,
    /// Gate: shadow comparisons at a step before the match rate counts.
    #[arg(long, requires = "steps")]
    pub min_comparisons: Option<u64>,
    /// Freeze the ramp at its step.
    #[arg(long)]
    pub pause: bool,
    /// Continue a paused ramp (the step's time and evidence start over).
    #[arg(long)]
    pub resume: bool,
    /// Move to the next step now, whatever the gates say (needs `--force`).
    #[arg(long, requires = "force")]
    pub advance: bool,
    /// Confirms `--advance`.
    #[arg(long)]
    pub force: bool,
    /// Drop the ramp.
    #[arg(long)]
    pub clear: bool,
    #[arg(long)]
    pub comment: Option<String>,
}

/// The call `flags ramp` makes.
pub fn call(args: &RampArgs) -> Call {
    let base = ["admin", "routes", &args.route, "ramp"];
    let on = |action: &str| Call::new(Method::POST, &[&base[..], &[action]].concat());
    let call = if args.pause {
        on("pause")
    } else if args.resume {
        on("resume")
    } else if args.advance {
        on("advance").body(json!({ "force": args.force }))
    } else if args.clear {
        Call::new(Method::DELETE, &base)
    } else if args.steps.is_empty() {
        return Call::new(Method::GET, &base);
    } else {
        Call::new(Method::PUT, &base).body(plan(args))
    };
    call.body_comment(&args.comment)
}

/// `rollout.ramp` as JSON, gates given only.
fn plan(args: &RampArgs) -> Value {
    let mut gates = Map::new();
    let mut gate = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            gates.insert(key.into(), value);
        }
    };
    gate(
        "max_error_rate",
        args.max_error_rate.as_ref().map(|v| json!(v)),
    );
    gate("max_p95", args.max_p95.as_ref().map(|v| json!(v)));
    gate("min_requests", args.min_requests.map(|v| json!(v)));
    gate(
        "min_match_rate",
        args.min_match_rate.as_ref().map(|v| json!(v)),
    );
    gate("min_comparisons", args.min_comparisons.map(|v| json!(v)));
    json!({ "steps": args.steps, "every": args.every, "gates": gates })
}

/// One line for a ramp as `GET /admin/routes` shows it: `ramp 10% (step 2/5), waiting:
/// min_requests 12 against 500`.
pub fn summary(ramp: &Value) -> Option<String> {
    let state = ramp["state"].as_str()?;
    let steps = ramp["steps"].as_array().map_or(0, Vec::len);
    let step = ramp["step"].as_u64().unwrap_or(0) + 1;
    let percent = ramp["percent"].as_f64().unwrap_or(0.0);
    let at = format!("ramp {percent}% (step {step}/{steps})");
    Some(match ramp["waiting"].as_str() {
        Some(waiting) => format!("{at}, waiting: {waiting}"),
        None => format!("{at}, {state}"),
    })
}
