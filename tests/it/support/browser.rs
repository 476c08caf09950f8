//! A real headless Chromium, driven over WebDriver by Debian's chromedriver, for the console's
//! tests. Each [`Browser`] starts its own chromedriver on a free port and its own browser
//! profile; both go when it is dropped. Without chromedriver the test fails and says how to
//! install it (`./test` installs it).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Map, Value};

use crate::support::scratch::Scratch;

const INSTALL: &str = "the console tests need Debian's chromium and chromium-driver \
    (apt-get install chromium chromium-driver; ./test installs them), or CHROMEDRIVER \
    naming a chromedriver binary and CHROME_BIN its browser";

/// How long a page element may take to appear.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A chromedriver process, its browser session, and the profile directory.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: Scratch,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub async fn start() -> Browser {
        let driver_path =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chrome = std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
        assert!(
            PathBuf::from(&driver_path).exists() && PathBuf::from(&chrome).exists(),
            "{INSTALL}"
        );
        let port = free_port();
        // Its own process group, so dropping the browser also ends the Chromium processes
        // chromedriver started (killing chromedriver alone leaves them running, each holding
        // inotify instances and memory, until the machine runs out).
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {driver_path}: {e}; {INSTALL}"));
        let profile = Scratch::new();
        let client = connect(port, &chrome, &profile).await;
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The element at `css`, once it is there.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} within {PATIENCE:?}: {e}"))
    }

    /// The text of the element at `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Waits until the text of the element at `css` contains `wanted`.
    pub async fn wait_text(&self, css: &str, wanted: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(wanted) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let banner = self
                    .eval("return document.getElementById('banner').textContent")
                    .await;
                panic!("{css} did not come to contain {wanted:?} within {PATIENCE:?}; it says {text:?}; the banner says {banner}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element at `css`. The pages redraw their data every two seconds, so an
    /// element found a moment before may be gone ("stale"): it is found again and clicked.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match self.find(css).await.click().await {
                Ok(_) => return,
                Err(e) if is_stale(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("clicking {css}: {e}"),
            }
        }
    }

    /// Replaces the value of the input at `css` with `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.expect("clearing");
        element.send_keys(text).await.expect("typing");
    }

    /// Accepts the page's `confirm()` dialog, once it is open.
    pub async fn confirm(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.client.accept_alert().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no confirm dialog opened"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signs in to the console at `url` with `token`.
    pub async fn sign_in(&self, url: &str, token: &str) {
        self.client.goto(url).await.expect("opening the console");
        self.type_into("#token", token).await;
        self.click("#login button[type=submit]").await;
        self.wait_text("#who", "·").await;
        self.wait_loaded().await;
    }

    /// Waits until the page shown has loaded its data once.
    pub async fn wait_loaded(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self
            .client
            .find(Locator::Css("main [data-loaded=true]"))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() > deadline {
                let banner = self
                    .eval("return document.getElementById('banner').textContent")
                    .await;
                panic!("the page did not load within {PATIENCE:?}; the banner says {banner}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `name`.png in the screenshot folder (`STRANGLER_SCREENSHOTS`,
    /// else `target/console-screenshots`).
    pub async fn screenshot(&self, name: &str) {
        self.eval("window.scrollTo(0, 0); return null").await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::env::var("STRANGLER_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots")
            });
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("writing the screenshot");
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script")
    }
}

impl Drop for Browser {
    /// Ends chromedriver and every browser process it started (its process group), even
    /// when the test panicked.
    fn drop(&mut self) {
        let group = self.driver.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

/// Connects to chromedriver on `port` once it listens, with a headless browser.
async fn connect(port: u16, chrome: &str, profile: &Scratch) -> Client {
    let mut capabilities = Map::new();
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ]
    .map(String::from)
    .into_iter()
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chrome, "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let attempt = ClientBuilder::new(connector.clone())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => return client,
            Err(e) if tokio::time::Instant::now() > deadline => {
                panic!("chromedriver: {e}; {INSTALL}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Whether WebDriver refused an element because the page replaced it.
fn is_stale(error: &fantoccini::error::CmdError) -> bool {
    error.to_string().contains("stale element")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
