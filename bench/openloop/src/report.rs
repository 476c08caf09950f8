//! The run's summary, printed in the shape of `wrk --latency`'s so `bench/report.py` reads
//! either: the latency distribution, requests, socket errors, non-2xx answers, req/s.

use std::time::Duration;

/// What one run measured.
#[derive(Default)]
pub struct Tally {
    /// Each answered request's latency in µs, from when it was due to its last byte.
    pub latencies_us: Vec<u32>,
    /// Answers with a status outside 200–399.
    pub non_2xx: u64,
    /// Connections that failed to connect.
    pub connect_errors: u64,
    /// Reads that failed, or answers this generator could not read.
    pub read_errors: u64,
    /// Requests that could not be written.
    pub write_errors: u64,
    /// Requests still unanswered when the run ended.
    pub timeouts: u64,
    /// Requests sent more than 1 ms after they were due: every connection was busy.
    pub late: u64,
    /// Bytes of answers read.
    pub bytes: u64,
}

impl Tally {
    /// Adds one connection's figures.
    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.non_2xx += other.non_2xx;
        self.connect_errors += other.connect_errors;
        self.read_errors += other.read_errors;
        self.write_errors += other.write_errors;
        self.timeouts += other.timeouts;
        self.late += other.late;
        self.bytes += other.bytes;
    }
}

/// What the run was asked to do.
pub struct Plan<'a> {
    pub url: &'a str,
    pub rate: u64,
    pub connections: usize,
    pub elapsed: Duration,
}

/// Prints the summary.
pub fn print(plan: &Plan, mut tally: Tally) {
    tally.latencies_us.sort_unstable();
    let lat = &tally.latencies_us;
    let secs = plan.elapsed.as_secs_f64();
    println!("Running {:.0}s test @ {}", secs, plan.url);
    println!(
        "  open loop: {} requests/s due, {} connections; latency from when each was due",
        plan.rate, plan.connections
    );
    println!("  Latency Distribution");
    for (label, q) in [("50", 0.50), ("75", 0.75), ("90", 0.90), ("99", 0.99)] {
        println!("    {label}%  {}", ms(percentile(lat, q)));
    }
    println!("    99.9%  {}", ms(percentile(lat, 0.999)));
    println!("    max  {}", ms(lat.last().copied().unwrap_or(0)));
    println!(
        "  {} requests in {:.2}s, {:.2}MB read",
        lat.len(),
        secs,
        tally.bytes as f64 / 1e6
    );
    println!(
        "  Socket errors: connect {}, read {}, write {}, timeout {}",
        tally.connect_errors, tally.read_errors, tally.write_errors, tally.timeouts
    );
    if tally.non_2xx > 0 {
        println!("  Non-2xx or 3xx responses: {}", tally.non_2xx);
    }
    println!("  Sent late (every connection busy): {}", tally.late);
    println!("Requests/sec: {:.2}", lat.len() as f64 / secs);
}

/// The `q` quantile of sorted `values` (nearest rank).
fn percentile(values: &[u32], q: f64) -> u32 {
    if values.is_empty() {
        return 0;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// µs as wrk writes a latency: `123.00us`, `1.23ms`.
fn ms(us: u32) -> String {
    if us < 1000 {
        format!("{us}.00us")
    } else {
        format!("{:.2}ms", f64::from(us) / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 0.999), 100);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn latencies_read_as_wrk_writes_them() {
        assert_eq!(ms(250), "250.00us");
        assert_eq!(ms(1234), "1.23ms");
    }
}
