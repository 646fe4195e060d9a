//! The real `hallmark` CLI against the real `hallmark-market` server: joining, status, tokens that
//! work with curl, a marketplace whose key changed, addresses that are bad or unreachable, and
//! publishing (a version listed, published again, an edited source, a publish killed and resumed),
//! and earnings (fetched after simulated sales, verified to the simulator's tally, tampered with).
//!
//! Both binaries are the ones built next to this test (`cargo build -p hallmark-cli -p
//! hallmark-market`, as scripts/test does). The CLI keeps its keys in the OS keyring: run under a
//! private D-Bus session with gnome-keyring unlocked, as scripts/test does.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod earnings;
mod join;
mod publish;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to say where it listens.
const STARTUP: Duration = Duration::from_secs(30);

fn binary(name: &str, env: &str, package: &str) -> PathBuf {
    hallmark_tests::built_binary(name, env, &format!("cargo build -p {package}")).unwrap()
}

/// A running `hallmark-market serve`, killed when dropped.
#[derive(Debug)]
pub struct Market {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on, to start another server there.
    pub addr: String,
    /// Its did:key, as it prints it.
    pub did: String,
}

impl Market {
    /// Serves a marketplace with its data in `data`, listening on `listen` (`127.0.0.1:0` for any
    /// free port); returns once it has said where it listens.
    pub fn start(data: &Path, listen: &str) -> Market {
        Market::start_with(data, listen, &[])
    }

    /// [`Market::start`] with more `serve` flags.
    pub fn start_with(data: &Path, listen: &str, flags: &[&str]) -> Market {
        let log = data.with_extension("log");
        let child = Command::new(binary(
            "hallmark-market",
            "HALLMARK_MARKET",
            "hallmark-market",
        ))
        .args(["serve", "--listen", listen, "--data"])
        .arg(data)
        .args(flags)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
        let mut market = Market {
            child,
            url: String::new(),
            addr: String::new(),
            did: String::new(),
        };
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let url = text
                .lines()
                .find_map(|l| l.strip_prefix("hallmark-market listening on "));
            let did = text
                .lines()
                .find_map(|l| l.strip_prefix("marketplace "))
                .and_then(|l| l.split_whitespace().next());
            if let (Some(url), Some(did)) = (url, did) {
                market.url = url.trim().to_owned();
                market.addr = market.url.trim_start_matches("http://").to_owned();
                market.did = did.to_owned();
                return market;
            }
            if let Some(status) = market.child.try_wait().unwrap() {
                panic!("hallmark-market exited ({status}) before listening; its output: {text}");
            }
            assert!(
                start.elapsed() < STARTUP,
                "hallmark-market did not say where it listens within {STARTUP:?}; its output: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGKILL) and waits for it to go.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Market {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A creator's studio: a data folder and a keyring service of the test's own, with one key.
#[derive(Debug)]
pub struct Studio {
    pub home: tempfile::TempDir,
    service: String,
    /// The creator's did:key.
    pub did: String,
}

impl Studio {
    /// A studio with one key named `name` in the keyring.
    pub fn new(test: &str, name: &str) -> Studio {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no D-Bus session: run under dbus-run-session with gnome-keyring unlocked, as scripts/test does"
        );
        let mut studio = Studio {
            home: tempfile::tempdir().unwrap(),
            service: format!("studio.hallmark.market-test.{test}.{}", std::process::id()),
            did: String::new(),
        };
        let made = studio.run(&["key", "new", "--json", "--name", name]);
        studio.did = made.json()["did"].as_str().unwrap().to_owned();
        studio
    }

    /// Hallmark's data folder for this studio.
    pub fn data(&self) -> PathBuf {
        self.home.path().join("data")
    }

    /// `hallmark ARGS` in this studio, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("hallmark", "HALLMARK_CLI", "hallmark-cli"));
        command
            .args(args)
            .env("HALLMARK_DATA_DIR", self.data())
            .env("HALLMARK_KEYRING_SERVICE", &self.service)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `hallmark ARGS` in this studio; a run that takes over a minute fails the test.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut child = self.command(args).spawn().unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                let mut stderr = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr)
                    .unwrap();
                panic!("hallmark {args:?} still running after a minute (killed); stderr: {stderr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Run {
            args: args.join(" "),
            output: child.wait_with_output().unwrap(),
        }
    }
}

/// What one `hallmark` run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    args: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts success and returns stdout.
    pub fn ok(&self) -> String {
        assert!(
            self.output.status.success(),
            "hallmark {} failed ({:?}): {}",
            self.args,
            self.code(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts success and parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok()).unwrap()
    }
}

/// An address nothing listens on.
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// `curl -sS -f -H "Authorization: Bearer TOKEN" URL`, as a script runs it; returns the body.
pub fn curl_with_token(url: &str, token: &str) -> Output {
    Command::new("curl")
        .args(["-sS", "-f", "--max-time", "30", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()
        .expect("cannot run curl; install it (scripts/setup does)")
}
