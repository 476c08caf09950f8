//! A fixed-rate (open-loop) HTTP/1.1 load generator for `bench/run.sh` (`LOAD=open`).
//!
//! wrk keeps each connection busy: it sends the next request when the last is answered,
//! so a slower proxy is simply offered less load, and its latency at saturation is
//! connections ÷ throughput whatever the proxy does. This one sends requests when they
//! are due, `rate` per second spread evenly, each on a connection that is idle, and
//! measures each request's latency from when it was *due*, not from when it went out:
//! a request that waited for a free connection counts its wait (the correction wrk2 makes
//! for coordinated omission). So two proxies offered the same rate can be compared at a
//! load both sustain, which is how a primary's p99 with and without shadowing is judged.
//!
//! One thread paces and writes (sleeping until the next request is due; the kernel's
//! timer slack, about 50 µs, is part of every latency alike), one current-thread tokio
//! runtime reads the answers, one task per connection. Connections are kept alive and
//! never pipelined. The summary is printed in `wrk --latency`'s shape.
//!
//! ```text
//! openloop -R 10000 -c 50 -d 10s -H 'X-Tenant-Id: acme' http://127.0.0.1:8081/ok
//! ```

mod pacer;
mod reader;
mod report;
mod response;

use std::time::Duration;

/// What the command line asked for.
pub struct Args {
    pub rate: u64,
    pub connections: usize,
    pub duration: Duration,
    pub headers: Vec<String>,
    pub url: String,
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("openloop: {e}\nusage: openloop -R RATE [-c CONNS] [-d SECS] [-H 'Name: value']... http://HOST:PORT/PATH");
            std::process::exit(2);
        }
    };
    if let Err(e) = pacer::run(&args) {
        eprintln!("openloop: {e}");
        std::process::exit(1);
    }
}

/// wrk's flags where they mean the same (`-c`, `-d`, `-H`; `-t` and `--latency` are
/// accepted and ignored), and wrk2's `-R` for the rate.
fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut rate, mut connections, mut duration) = (None, 10, Duration::from_secs(10));
    let (mut headers, mut url) = (Vec::new(), None);
    while let Some(arg) = argv.next() {
        let (flag, inline) = split_flag(&arg);
        let mut value = || {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-R" | "--rate" => rate = Some(number(&value()?)?),
            "-c" | "--connections" => connections = number(&value()?)? as usize,
            "-d" | "--duration" => {
                duration = Duration::from_secs(number(value()?.trim_end_matches('s'))?)
            }
            "-H" | "--header" => headers.push(value()?),
            "-t" | "--threads" => drop(value()?),
            "--latency" => {}
            _ if !arg.starts_with('-') => url = Some(arg),
            _ => return Err(format!("unknown flag {arg}")),
        }
    }
    let rate = rate
        .filter(|r| *r > 0)
        .ok_or("-R RATE (requests per second) is required")?;
    let url = url.ok_or("a URL is required")?;
    if connections == 0 {
        return Err("-c must be at least 1".into());
    }
    Ok(Args {
        rate,
        connections,
        duration,
        headers,
        url,
    })
}

/// `-c50` as `-c` and `50`; `--rate` stays whole.
fn split_flag(arg: &str) -> (String, Option<String>) {
    if arg.len() > 2 && arg.starts_with('-') && !arg.starts_with("--") {
        return (arg[..2].to_owned(), Some(arg[2..].to_owned()));
    }
    (arg.to_owned(), None)
}

fn number(text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        parse_args(line.split(' ').map(str::to_owned))
    }

    #[test]
    fn wrk_style_flags_are_read() {
        let a = args("-t1 -c50 -d10s --latency -R 2000 -H X-Tenant-Id:acme http://127.0.0.1:1/ok")
            .unwrap();
        assert_eq!((a.rate, a.connections), (2000, 50));
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.headers, ["X-Tenant-Id:acme"]);
        assert_eq!(a.url, "http://127.0.0.1:1/ok");
    }

    #[test]
    fn a_missing_rate_or_url_is_an_error() {
        assert!(args("-c5 http://127.0.0.1:1/").is_err());
        assert!(args("-R 10").is_err());
        assert!(args("-R 10 -x http://127.0.0.1:1/").is_err());
    }
}
