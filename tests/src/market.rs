//! The real `hallmark` CLI and `hallmark-market` server as tests run them: a marketplace served
//! on loopback from a data folder of its own, and a creator's studio (a data folder and a keyring
//! service of the test's own) in which `hallmark` runs. Shared by the market and e2e suites.

// Test helpers: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A binary built next to the tests (`HALLMARK_…` names another), or how to build it.
pub fn binary(name: &str, env: &str, package: &str) -> PathBuf {
    crate::built_binary(name, env, &format!("cargo build -p {package}")).unwrap()
}

/// How long the server may take to say where it listens.
const STARTUP: Duration = Duration::from_secs(30);

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

    /// [`Market::start`] with more `serve` options (such as `--public-url`).
    pub fn start_with(data: &Path, listen: &str, options: &[&str]) -> Market {
        let log = data.with_extension("log");
        let child = Command::new(binary(
            "hallmark-market",
            "HALLMARK_MARKET",
            "hallmark-market",
        ))
        .args(["serve", "--listen", listen, "--data"])
        .arg(data)
        .args(options)
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
    /// Hallmark's data folder for this studio.
    data: PathBuf,
    /// The temporary folder holding it, when the studio made its own.
    _home: Option<tempfile::TempDir>,
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
        let home = tempfile::tempdir().unwrap();
        Studio::sharing(
            home.path().join("data"),
            &format!("studio.hallmark.market-test.{test}.{}", std::process::id()),
            Some(home),
            name,
        )
    }

    /// A studio in an existing data folder and keyring service (the app's, in an end-to-end
    /// test), with a new key named `name`.
    pub fn sharing(
        data: PathBuf,
        service: &str,
        home: Option<tempfile::TempDir>,
        name: &str,
    ) -> Studio {
        let mut studio = Studio {
            data,
            _home: home,
            service: service.to_owned(),
            did: String::new(),
        };
        let made = studio.run(&["key", "new", "--json", "--name", name]);
        studio.did = made.json()["did"].as_str().unwrap().to_owned();
        studio
    }

    /// Hallmark's data folder for this studio.
    pub fn data(&self) -> PathBuf {
        self.data.clone()
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

/// Seals `src` into `out` (at `shard_size`) and signs it, in `studio`.
pub fn seal_and_sign(studio: &Studio, src: &Path, out: &Path, shard_size: &str) {
    let (src_path, out_path) = (path(src), path(out));
    studio
        .run(&[
            "-q",
            "seal",
            &src_path,
            "--out",
            &out_path,
            "--license",
            "CC-BY-4.0",
            "--creator",
            "Ana",
            "--name",
            "takes",
            "--shard-size",
            shard_size,
            "--allow",
            "all",
        ])
        .ok();
    studio.run(&["sign", &out_path]).ok();
}

pub fn path(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}
