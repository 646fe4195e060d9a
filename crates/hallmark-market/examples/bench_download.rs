//! Download benchmark: wrk against the marketplace's metered `GET /v1/shards/{cid}` and against nginx serving the same shard files, with receipts counted after each run (`scripts/bench-download`).
//!
//! It starts the marketplace in this process (SQLite, local blobs, system clock, open buyer
//! sign-up) on a loopback port, publishes two generated datasets through the HTTP API as a studio
//! does (did:key sign-in, tus upload of each shard, multipart publish with the presentation):
//! `shards`, shards of about 8 MiB fetched whole, and `samples`, files of 3.5 KiB fetched one
//! sample's span (3,584 bytes) at a time by `Range`. It exports the same shard files for nginx, and
//! per round and scenario takes a fresh entitlement and many access tokens, writes a wrk script
//! that cycles through distinct (token, shard, range) requests (a repeated one is not billed
//! twice, by design), and runs wrk against both servers, alternating which goes first.
//!
//! A marketplace run is cut off by revoking the entitlement after HALLMARK_BENCH_SECONDS while wrk
//! runs on for two more seconds: every later request is a free 403, so no paid request is in
//! flight when wrk stops (one would be billed, its last chunk sent, yet not counted by wrk). The
//! rates are over the paid window. Receipts of the run's entitlement must equal wrk's 2xx count.
//!
//! Settings: HALLMARK_BENCH_ROUNDS (2), HALLMARK_BENCH_SECONDS (10), HALLMARK_BENCH_CONNECTIONS
//! (16), HALLMARK_BENCH_THREADS (2), HALLMARK_BENCH_SCENARIOS (`shards,samples`).

// A benchmark run by hand: a failure ends it with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use hallmark_core::did::SigningIdentity;
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_core::seal::{IndexedSample, SealOptions};
use hallmark_market::{AppState, Config, SystemClock};
use rand_core::{RngCore as _, SeedableRng as _};
use serde_json::{Value, json};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?}: expected a number"))
        })
        .unwrap_or(default)
}

/// One benchmark scenario: a published version and the requests that read it.
struct Scenario {
    name: &'static str,
    version: String,
    /// (path, range header or none, body bytes) of each distinct request for one token.
    items: Vec<(String, Option<String>, u64)>,
    /// The most successful requests per second a run is sized for (tokens × items ≥ rate × time).
    sized_for: u64,
}

/// What wrk's `done()` printed.
#[derive(Debug, Default)]
struct Wrk {
    requests: u64,
    non_2xx: u64,
    duration_us: u64,
    socket_errors: String,
}

impl Wrk {
    fn ok(&self) -> u64 {
        self.requests - self.non_2xx
    }
}

#[tokio::main]
async fn main() {
    let rounds = setting("HALLMARK_BENCH_ROUNDS", 2);
    let seconds = setting("HALLMARK_BENCH_SECONDS", 10);
    let connections = setting("HALLMARK_BENCH_CONNECTIONS", 16);
    let threads = setting("HALLMARK_BENCH_THREADS", 2);
    let wanted = std::env::var("HALLMARK_BENCH_SCENARIOS").unwrap_or("shards,samples".into());
    for tool in ["wrk", "nginx"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(found, "{tool} is missing; run scripts/setup");
    }
    let dir = tempfile::Builder::new()
        .prefix("hallmark-bench-download.")
        .tempdir()
        .unwrap();
    let d = dir.path();

    // The marketplace, in this process.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        data_dir: d.join("market"),
        database_url: None,
        store_url: None,
        store_options: Vec::new(),
        public_url: base.clone(),
        creator_share: "0.8".parse().unwrap(),
        limits: hallmark_market::Limits::default(),
        statement_period_seconds: hallmark_market::config::DEFAULT_STATEMENT_PERIOD_SECONDS,
        open_buyer_signup: true,
    };
    let state = AppState::open(config, Arc::new(SystemClock)).await.unwrap();
    tokio::spawn(hallmark_market::serve(
        state.clone(),
        listener,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let www = d.join("www/v1/shards");
    std::fs::create_dir_all(&www).unwrap();

    // The datasets: published through the API, their shard files also under nginx's root.
    let creator = SigningIdentity::generate();
    let (session, creator_credential) = join(&http, &base, &creator).await;
    let mut scenarios = Vec::new();
    if wanted.contains("shards") {
        eprintln!("==> sealing and publishing 80 MiB of 1 MiB files in shards of about 8 MiB");
        let files = random_files(80, (1 << 20) - 512, "bin", 1);
        let (version, _, sizes) = publish(
            &http,
            &base,
            &creator,
            &session,
            &creator_credential,
            "bench-shards",
            &files,
            10 << 20,
            &www,
        )
        .await;
        let items = sizes
            .iter()
            .map(|(cid, size)| (format!("/v1/shards/{cid}"), None, *size))
            .collect();
        scenarios.push(Scenario {
            name: "8 MiB shards",
            version,
            items,
            sized_for: 800,
        });
    }
    if wanted.contains("samples") {
        eprintln!("==> sealing and publishing 4,096 files of 3.5 KiB in shards of about 4 MiB");
        let files = random_files(4096, 3584, "txt", 2);
        let (version, samples, _) = publish(
            &http,
            &base,
            &creator,
            &session,
            &creator_credential,
            "bench-samples",
            &files,
            4 << 20,
            &www,
        )
        .await;
        let items = samples
            .iter()
            .map(|sample| {
                let first = sample.files[0].offset;
                let last = sample
                    .files
                    .iter()
                    .map(|f| f.offset + f.size)
                    .max()
                    .unwrap()
                    - 1;
                let cid = sample.shard.strip_suffix(".tar").unwrap();
                (
                    format!("/v1/shards/{cid}"),
                    Some(format!("bytes={first}-{last}")),
                    last - first + 1,
                )
            })
            .collect::<Vec<_>>();
        assert!(items.iter().all(|(_, _, len)| *len <= 4096));
        scenarios.push(Scenario {
            name: "4 KiB sample ranges",
            version,
            items,
            sized_for: 20_000,
        });
    }

    // nginx over the same files: a static server as commonly configured (sendfile, keep-alive).
    let nginx_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let nginx = Nginx::start(d, nginx_port);
    let nginx_base = format!("http://127.0.0.1:{nginx_port}");
    wait_for(&http, &format!("{nginx_base}{}", scenarios[0].items[0].0)).await;

    let api_key = http
        .post(format!("{base}/v1/buyers"))
        .json(&json!({ "name": "Benchmark buyer" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["apiKey"]
        .as_str()
        .expect("no API key")
        .to_owned();

    println!(
        "wrk -t{threads} -c{connections}, {seconds} s paid window per run, {rounds} rounds; \
         marketplace at {base}, nginx at {nginx_base}"
    );
    let mut failures = Vec::new();
    for round in 1..=rounds {
        for scenario in &scenarios {
            // A fresh entitlement and enough tokens that no (token, shard, range) repeats.
            let entitlement = http
                .post(format!("{base}/v1/buyer/entitlements"))
                .bearer_auth(&api_key)
                .json(&json!({ "version": scenario.version }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["id"]
                .as_str()
                .expect("no entitlement")
                .to_owned();
            let wanted = scenario.sized_for * (seconds + 3);
            let count = wanted.div_ceil(scenario.items.len() as u64).max(2);
            let tokens: Vec<String> = futures_util::stream::iter(0..count)
                .map(|_| {
                    let http = http.clone();
                    let url = format!("{base}/v1/buyer/entitlements/{entitlement}/tokens");
                    let api_key = api_key.clone();
                    async move {
                        let token: Value = http
                            .post(url)
                            .bearer_auth(api_key)
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        token["token"].as_str().expect("no token").to_owned()
                    }
                })
                .buffer_unordered(8)
                .collect()
                .await;
            let distinct = count * scenario.items.len() as u64;
            let script = d.join(format!("round{round}-{}.lua", scenario.items.len()));
            std::fs::write(&script, lua(&tokens, &scenario.items, threads)).unwrap();
            let mean_bytes = scenario.items.iter().map(|i| i.2).sum::<u64>() as f64
                / scenario.items.len() as f64;

            let mut market = None;
            let mut static_files = None;
            for turn in 0..2 {
                if (turn + round) % 2 == 1 {
                    // The marketplace: paid window, then the entitlement revoked.
                    let started = Instant::now();
                    let child = spawn_wrk(d, &script, &base, threads, connections, seconds + 2);
                    tokio::time::sleep_until((started + Duration::from_secs(seconds)).into()).await;
                    let revoked = http
                        .delete(format!("{base}/v1/buyer/entitlements/{entitlement}"))
                        .bearer_auth(&api_key)
                        .send()
                        .await
                        .unwrap();
                    assert!(revoked.status().is_success(), "revocation refused");
                    let paid = started.elapsed();
                    let wrk = finish_wrk(child).await;
                    let bodies: Vec<String> =
                        sqlx::query_scalar("SELECT body FROM receipts WHERE entitlement_id = $1")
                            .bind(&entitlement)
                            .fetch_all(&state.db.pool)
                            .await
                            .unwrap();
                    let bytes: u64 = bodies
                        .iter()
                        .map(|b| {
                            let v: Value = serde_json::from_str(b).unwrap();
                            v["range"]["last"].as_u64().unwrap()
                                - v["range"]["first"].as_u64().unwrap()
                                + 1
                        })
                        .sum();
                    market = Some((wrk, paid, bodies.len() as u64, bytes));
                } else {
                    let child = spawn_wrk(d, &script, &nginx_base, threads, connections, seconds);
                    static_files = Some(finish_wrk(child).await);
                }
            }
            let (m, paid, receipts, m_bytes) = market.unwrap();
            let n = static_files.unwrap();
            let m_secs = paid.as_secs_f64();
            let n_secs = n.duration_us as f64 / 1e6;
            let (m_rps, n_rps) = (m.ok() as f64 / m_secs, n.ok() as f64 / n_secs);
            let (m_mbps, n_mbps) = (
                m_bytes as f64 / m_secs / 1e6,
                n.ok() as f64 * mean_bytes / n_secs / 1e6,
            );
            println!(
                "round {round} {:<20} marketplace {:>9.1} MB/s {:>8.0} req/s | nginx {:>9.1} MB/s {:>8.0} req/s | ratio {:.2} | receipts {receipts} / 2xx {} ({} distinct requests available){}{}",
                scenario.name,
                m_mbps,
                m_rps,
                n_mbps,
                n_rps,
                m_mbps / n_mbps,
                m.ok(),
                distinct,
                if scenario.items[0].1.is_some() {
                    format!(" | {m_rps:.0} paid durable accesses/s")
                } else {
                    String::new()
                },
                [&m.socket_errors, &n.socket_errors]
                    .iter()
                    .filter(|e| !e.is_empty())
                    .map(|e| format!(" | socket errors {e}"))
                    .collect::<String>(),
            );
            if receipts != m.ok() {
                failures.push(format!(
                    "round {round}, {}: {receipts} receipts for {} successful requests",
                    scenario.name,
                    m.ok()
                ));
            }
            if m.ok() >= distinct {
                failures.push(format!(
                    "round {round}, {}: {} requests used up the {distinct} distinct ones; raise sized_for",
                    scenario.name,
                    m.ok()
                ));
            }
            if n.non_2xx > 0 {
                failures.push(format!(
                    "round {round}, {}: nginx answered {} non-2xx",
                    scenario.name, n.non_2xx
                ));
            }
        }
    }
    drop(nginx);
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("error: {failure}");
        }
        std::process::exit(1);
    }
}

/// Signs a new creator in by did:key and registers them: the session token and creator credential.
async fn join(http: &reqwest::Client, base: &str, key: &SigningIdentity) -> (String, Value) {
    let challenge = challenge(http, base).await;
    let now = hallmark_market::clock::rfc3339(time::OffsetDateTime::now_utc());
    let presentation = hallmark_core::creator::present(key, &[], &challenge, base, &now).unwrap();
    let session: Value = http
        .post(format!("{base}/v1/auth/sessions"))
        .json(&presentation)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"]
        .as_str()
        .expect("sign-in refused")
        .to_owned();
    let creator: Value = http
        .put(format!("{base}/v1/creators/me"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Benchmark creator" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (token, creator["credential"].clone())
}

async fn challenge(http: &reqwest::Client, base: &str) -> String {
    let body: Value = http
        .post(format!("{base}/v1/auth/challenges"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["challenge"].as_str().expect("no challenge").to_owned()
}

/// `count` files of `size` pseudo-random bytes named `s00000.EXT`….
fn random_files(count: usize, size: usize, ext: &str, seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let mut bytes = vec![0; size];
            rng.fill_bytes(&mut bytes);
            (format!("s{i:05}.{ext}"), bytes)
        })
        .collect()
}

/// Seals `files` into shards of about `shard_size`, signs, uploads every shard by tus and
/// publishes the version; links each shard file into `www` by CID. The version id, the index's
/// samples and each shard's (CID, size).
#[allow(clippy::too_many_arguments)]
async fn publish(
    http: &reqwest::Client,
    base: &str,
    key: &SigningIdentity,
    session: &str,
    creator_credential: &Value,
    name: &str,
    files: &[(String, Vec<u8>)],
    shard_size: u64,
    www: &Path,
) -> (String, Vec<IndexedSample>, Vec<(String, u64)>) {
    use base64::Engine as _;
    let src = tempfile::tempdir().unwrap();
    for (file, bytes) in files {
        std::fs::write(src.path().join(file), bytes).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let now = hallmark_market::clock::rfc3339(time::OffsetDateTime::now_utc());
    let info = DatasetInfo {
        name: name.into(),
        description: "generated for the download benchmark".into(),
        license: "CC-BY-4.0".into(),
        creator_name: "Benchmark creator".into(),
        creator_url: None,
        url: None,
        version: "1.0.0".into(),
        date_published: now[..10].into(),
        keywords: vec![],
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    };
    let options = SealOptions {
        shard_size,
        ..SealOptions::default()
    };
    let (progress, cancel) = (NoProgress, CancelToken::new());
    hallmark_core::dataset::seal_folder(
        src.path(),
        out.path(),
        &options,
        &info,
        hallmark_core::dataset::ResealPolicy::default(),
        &progress,
        &cancel,
    )
    .unwrap();
    hallmark_core::credential::sign_dataset(out.path(), key, &now).unwrap();
    let exported =
        hallmark_core::dataset::export_shards(out.path(), www, None, &progress, &cancel).unwrap();
    let mut sizes = Vec::new();
    for shard in &exported {
        let cid = shard
            .path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&shard.path).unwrap();
        // nginx serves it at /v1/shards/<cid>, the marketplace's path.
        std::fs::rename(&shard.path, www.join(&cid)).unwrap();
        let response = http
            .post(format!("{base}/v1/uploads"))
            .bearer_auth(session)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", bytes.len().to_string())
            .header(
                "Upload-Metadata",
                format!(
                    "cid {}",
                    base64::engine::general_purpose::STANDARD.encode(&cid)
                ),
            )
            .header("Content-Type", "application/offset+octet-stream")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "the tus upload of {cid} failed");
        sizes.push((cid, bytes.len() as u64));
    }
    let read = |file: &str| std::fs::read(out.path().join(file)).unwrap();
    let dataset_credential: Value = serde_json::from_slice(&read("credential.json")).unwrap();
    let challenge = challenge(http, base).await;
    let presentation = hallmark_core::creator::present(
        key,
        &[creator_credential.clone(), dataset_credential],
        &challenge,
        base,
        &now,
    )
    .unwrap();
    let part = |bytes: Vec<u8>| reqwest::multipart::Part::bytes(bytes);
    let form = reqwest::multipart::Form::new()
        .part("manifest", part(read("croissant.json")))
        .part("index", part(read("index.jsonl")))
        .part(
            "presentation",
            part(serde_json::to_vec(&presentation).unwrap()),
        )
        .text("price", "0.002")
        .text("currency", "EUR");
    let response = http
        .post(format!("{base}/v1/versions"))
        .bearer_auth(session)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "publish refused");
    let listed: Value = response.json().await.unwrap();
    let samples = read("index.jsonl")
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    eprintln!(
        "    {name}: {} shards of {:.2} MiB on average, {} files",
        sizes.len(),
        sizes.iter().map(|s| s.1).sum::<u64>() as f64 / sizes.len() as f64 / f64::from(1 << 20),
        files.len()
    );
    (listed["id"].as_str().unwrap().to_owned(), samples, sizes)
}

/// The wrk script: request k of a run (threads interleaved) is item k mod n with token k div n,
/// so no (token, shard, range) repeats until tokens × items are used; `done()` prints the counts.
fn lua(tokens: &[String], items: &[(String, Option<String>, u64)], threads: u64) -> String {
    let mut s =
        String::from("-- Generated by bench_download: distinct metered requests, counted.\n");
    s.push_str("local tokens = {\n");
    for t in tokens {
        writeln!(s, "  \"{t}\",").unwrap();
    }
    s.push_str("}\nlocal paths = {\n");
    for (path, _, _) in items {
        writeln!(s, "  \"{path}\",").unwrap();
    }
    s.push_str("}\nlocal ranges = {\n");
    for (_, range, _) in items {
        match range {
            Some(r) => writeln!(s, "  \"{r}\",").unwrap(),
            None => s.push_str("  false,\n"),
        }
    }
    write!(
        s,
        r#"}}
local threads = {threads}
local n = #paths
local k = 0
counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  k = id
end
function request()
  local i = k % n + 1
  local t = math.floor(k / n) % #tokens + 1
  k = k + threads
  local headers = {{ Authorization = "Bearer " .. tokens[t] }}
  if ranges[i] then headers["Range"] = ranges[i] end
  return wrk.format("GET", paths[i], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("HALLMARK requests=%d non2xx=%d duration_us=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, e.status, summary.duration, e.connect, e.read, e.write, e.timeout))
end
"#
    )
    .unwrap();
    s
}

fn spawn_wrk(
    d: &Path,
    script: &Path,
    base: &str,
    threads: u64,
    connections: u64,
    seconds: u64,
) -> (std::process::Child, PathBuf) {
    let out = d.join("wrk.out");
    let child = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(script)
        .arg(format!("{base}/"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start wrk");
    (child, out)
}

async fn finish_wrk((mut child, out): (std::process::Child, PathBuf)) -> Wrk {
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(status.success(), "wrk failed:\n{text}");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("HALLMARK "))
        .unwrap_or_else(|| panic!("wrk printed no counts:\n{text}"));
    let mut wrk = Wrk::default();
    let mut errors = Vec::new();
    for pair in line.split_whitespace() {
        let (name, value) = pair.split_once('=').unwrap();
        let value: u64 = value.parse().unwrap();
        match name {
            "requests" => wrk.requests = value,
            "non2xx" => wrk.non_2xx = value,
            "duration_us" => wrk.duration_us = value,
            _ if value > 0 => errors.push(format!("{name} {value}")),
            _ => {}
        }
    }
    wrk.socket_errors = errors.join(", ");
    wrk
}

/// nginx as a child process over `d/www`, stopped when dropped.
struct Nginx(std::process::Child);

impl Nginx {
    fn start(d: &Path, port: u16) -> Nginx {
        std::fs::create_dir_all(d.join("logs")).unwrap();
        let user = if rustix::process::getuid().is_root() {
            "user root root;"
        } else {
            ""
        };
        let dir = d.display();
        let conf = format!(
            "# nginx for the download benchmark: the shard files, as a static server.\n\
             daemon off;\n{user}\nworker_processes 2;\npid {dir}/nginx.pid;\n\
             error_log {dir}/nginx-error.log;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n\
             keepalive_requests 1000000;\n  client_body_temp_path {dir}/nginx-tmp;\n\
             proxy_temp_path {dir}/nginx-tmp;\n  fastcgi_temp_path {dir}/nginx-tmp;\n\
             uwsgi_temp_path {dir}/nginx-tmp;\n  scgi_temp_path {dir}/nginx-tmp;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {dir}/www;\n  }}\n}}\n"
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let log = std::fs::File::create(d.join("nginx.out")).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start nginx");
        Nginx(child)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop; then wait for it.
        let pid = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
        let _ = self.0.wait();
    }
}

async fn wait_for(http: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing answers at {url}");
}
