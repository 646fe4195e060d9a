//! The real `hallmark` CLI against the real `hallmark-market` server: joining, status, tokens that
//! work with curl, a marketplace whose key changed, addresses that are bad or unreachable, and
//! publishing (a version listed, published again, an edited source, a publish killed and resumed),
//! and mirrors to `s3s-fs`, an S3-compatible server (resumed after a kill, checked by reading back),
//! and earnings (fetched after simulated sales, verified to the simulator's tally, tampered with).
//!
//! Both binaries are the ones built next to this test (`cargo build -p hallmark-cli -p
//! hallmark-market`, as scripts/test does). The CLI keeps its keys in the OS keyring: run under a
//! private D-Bus session with gnome-keyring unlocked, as scripts/test does.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod earnings;
mod join;
mod mirror;
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

/// What the relay does to the connections it is told to spoil.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Closes both sides once this many bytes went from client to server.
    Cut { after: u64 },
    /// Answers the connection's first request with this status (and `Connection: close`).
    Answer { status: u16 },
}

/// A TCP relay to a server that counts the bytes clients send through it (what the server
/// received), and spoils the next connections it is told to.
#[derive(Debug)]
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
    fault: std::sync::Arc<std::sync::Mutex<(Option<Fault>, u32)>>,
    listener: Option<TcpListener>,
}

impl CountingProxy {
    /// Listens on a free port; [`CountingProxy::forward_to`] starts relaying.
    pub fn bind() -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        CountingProxy {
            url: format!("http://{}", listener.local_addr().unwrap()),
            received: Default::default(),
            fault: Default::default(),
            listener: Some(listener),
        }
    }

    /// Spoils the next `connections` connections with `fault`.
    pub fn spoil(&self, fault: Fault, connections: u32) {
        *self.fault.lock().unwrap() = (Some(fault), connections);
    }

    /// Connections still to spoil.
    pub fn to_spoil(&self) -> u32 {
        self.fault.lock().unwrap().1
    }

    /// Relays every connection to `upstream` (`host:port`), for as long as the test runs.
    pub fn forward_to(&mut self, upstream: &str) {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = self.listener.take().unwrap();
        let (received, fault) = (self.received.clone(), self.fault.clone());
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let spoil = {
                    let mut f = fault.lock().unwrap();
                    match f.0 {
                        Some(fault) if f.1 > 0 => {
                            f.1 -= 1;
                            Some(fault)
                        }
                        _ => None,
                    }
                };
                if let Some(Fault::Answer { status }) = spoil {
                    std::thread::spawn(move || {
                        // Read the head, then answer in the server's place and close.
                        let mut head = Vec::new();
                        let mut buffer = [0u8; 4096];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match client.read(&mut buffer) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buffer[..n]),
                            }
                        }
                        let _ = write!(
                            client,
                            "HTTP/1.1 {status} Injected\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                        let _ = client.shutdown(std::net::Shutdown::Both);
                    });
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let cut = match spoil {
                    Some(Fault::Cut { after }) => after,
                    _ => u64::MAX,
                };
                let (mut client_in, mut server_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut server_in, mut client_out) = (server, client);
                let received = received.clone();
                std::thread::spawn(move || {
                    let mut buffer = vec![0u8; 64 << 10];
                    let mut sent = 0u64;
                    loop {
                        let room = usize::try_from(cut - sent)
                            .unwrap_or(usize::MAX)
                            .min(buffer.len());
                        if room == 0 {
                            let _ = client_in.shutdown(std::net::Shutdown::Both);
                            let _ = server_out.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        match client_in.read(&mut buffer[..room]) {
                            Ok(n) if n > 0 && server_out.write_all(&buffer[..n]).is_ok() => {
                                sent += n as u64;
                                received.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            _ => break,
                        }
                    }
                    let _ = server_out.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_in, &mut client_out);
                    let _ = client_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
    }

    /// Bytes clients sent to the server so far.
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }
}
