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

mod demo;
mod earnings;
mod join;
mod mirror;
mod publish;

use std::net::TcpListener;
use std::process::{Command, Output};

pub use hallmark_tests::market::{Market, Run, Studio, binary};

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
