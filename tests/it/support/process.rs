//! The `strangler` binary as a real process, for what only a process can show: signals,
//! exit codes, and listening sockets passed from one process to the next.
//!
//! Its stdout (the JSON log, access lines included) and its stderr are collected by a
//! thread each, so a test can wait for a line, find the address it bound on port 0, count
//! what it served, and search everything the process wrote.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs a `strangler` command that ends by itself (`check`, `explain`) with `args`: what
/// it printed and how it exited.
pub fn strangler(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(args)
        .output()
        .expect("running strangler")
}

/// A running `strangler run` process; killed if dropped while still running.
pub struct StranglerProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl StranglerProcess {
    /// `strangler run --config CONFIG EXTRA...`.
    pub fn run(config: &Path, extra: &[&str]) -> StranglerProcess {
        StranglerProcess::run_with_env(config, extra, &[])
    }

    /// Like [`StranglerProcess::run`] with more environment variables.
    pub fn run_with_env(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> StranglerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strangler"));
        command
            .envs(env.iter().copied())
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra);
        StranglerProcess::spawn(command)
    }

    /// `strangler run --config CONFIG` under an open-files limit of `soft` (`hard` at most),
    /// set by the shell as `ulimit -n` would.
    pub fn run_with_open_files(config: &Path, soft: u64, hard: u64) -> StranglerProcess {
        let script =
            format!("ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" run --config \"$1\"");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_strangler"))
            .arg(config);
        StranglerProcess::spawn(command)
    }

    /// Starts `command` with its stdout collected, without the test's own `RUST_LOG` and
    /// `STRANGLER_ADMIN_TOKEN` unless the test set them for the process.
    fn spawn(mut command: Command) -> StranglerProcess {
        for name in ["RUST_LOG", "STRANGLER_ADMIN_TOKEN"] {
            if !command.get_envs().any(|(k, v)| k == name && v.is_some()) {
                command.env_remove(name);
            }
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting strangler run");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("piped stdout"), lines.clone());
        collect(child.stderr.take().expect("piped stderr"), lines.clone());
        StranglerProcess { child, lines }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` (`libc::SIGTERM`, `libc::SIGQUIT`, ...).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; it takes no pointers.
        let sent = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(sent, 0, "kill({}, {signal})", self.pid());
    }

    /// Waits (bounded) for a log line whose `message` is `message`; returns it parsed.
    pub async fn wait_for_log(&self, message: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(found) = self.log(message) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {message:?} log line within {limit:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first log line whose `message` is `message`.
    pub fn log(&self, message: &str) -> Option<Value> {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|value| value["message"] == message)
    }

    /// The admin address the process logged when it started serving.
    pub fn admin(&self) -> String {
        let line = self.log("strangler is serving").expect("serving line");
        line["admin"].as_str().expect("admin address").to_owned()
    }

    /// GET `path` on the admin address the process logged: the status, or `None` when the
    /// connection is refused (or nothing answers within 5 s).
    pub async fn admin_status(&self, path: &str) -> Option<u16> {
        let line = self.log("strangler is serving").expect("serving line");
        let admin = line["admin"].as_str().expect("admin address");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let answer = client.get(format!("http://{admin}{path}")).send().await;
        answer.ok().map(|r| r.status().as_u16())
    }

    /// Waits for "strangler is serving" and returns the proxy address it names.
    pub async fn serving(&self) -> SocketAddr {
        let line = self
            .wait_for_log("strangler is serving", Duration::from_secs(30))
            .await;
        line["proxy"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no proxy address in {line}"))
    }

    /// Every proxy listener's address, in `listen:`'s order, once it serves.
    pub async fn listeners(&self) -> Vec<SocketAddr> {
        let line = self
            .wait_for_log("strangler is serving", Duration::from_secs(30))
            .await;
        let all = line["listeners"].as_str().unwrap_or_default();
        all.split(' ').filter_map(|a| a.parse().ok()).collect()
    }

    /// How many access-log lines with status 200 the process wrote.
    pub fn served(&self) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter(|l| l.contains("\"log\":\"access\"") && l.contains("\"status\":200"))
            .count()
    }

    /// Everything the process wrote to stdout and stderr so far, a line each.
    pub fn output(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Waits up to `limit` for the process to exit; panics if it does not.
    pub async fn exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pid {} still running after {limit:?}:\n{}",
                self.pid(),
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Appends every line `stream` yields to `lines`, on a thread of its own.
fn collect(stream: impl std::io::Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            lines.lock().expect("lines").push(line);
        }
    });
}

impl Drop for StranglerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
