//! Real servers the marketplace tests run against: a throwaway PostgreSQL cluster from Debian's
//! package and `s3s-fs`, an S3-compatible server that checks signatures and multipart uploads.
//!
//! Each is started once per test process and stops when the process ends, however it ends: it
//! runs under `sh`, which kills it when the pipe from this process closes.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A server process tied to this test process.
#[derive(Debug)]
struct Tethered {
    /// Closing this (when the process exits) stops the server.
    _tether: Mutex<ChildStdin>,
    /// The `sh` that runs it (reaped by init once this process is gone).
    _shell: Mutex<Child>,
    port: u16,
    root: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Runs `command` under `sh` until this process ends, and waits until `port` accepts connections.
fn tether(command: &str, port: u16, root: &Path, log: &Path) -> Tethered {
    let script = format!(
        "{command} >{log} 2>&1 & pid=$!; cat >/dev/null; kill -INT $pid; sleep 2; kill -9 $pid 2>/dev/null; rm -rf {root}",
        log = log.display(),
        root = root.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run sh");
    let tether = child.stdin.take().expect("piped stdin");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            panic!(
                "{command} did not listen on port {port} within 30 s; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Tethered {
        _tether: Mutex::new(tether),
        _shell: Mutex::new(child),
        port,
        root: root.to_owned(),
    }
}

fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .filter(|bin| bin.join("initdb").exists())
        .expect("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb); run scripts/setup")
}

fn postgres() -> &'static Tethered {
    static CLUSTER: OnceLock<Tethered> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let root = tempfile::Builder::new()
            .prefix("hallmark-pg-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let bin = postgres_bin();
        // PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
        let as_owner = if rustix::process::geteuid().is_root() {
            let status = Command::new("chown")
                .arg("postgres")
                .arg(&root)
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "cannot chown {} to postgres",
                root.display()
            );
            "setpriv --reuid=postgres --regid=postgres --clear-groups "
        } else {
            ""
        };
        let initdb = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{as_owner}{}/initdb -D {}/db -A trust -U hallmark --no-sync",
                bin.display(),
                root.display()
            ))
            .output()
            .expect("initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = free_port();
        tether(
            &format!(
                "exec {as_owner}{bin}/postgres -D {root}/db -k {root} -p {port} \
                 -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                bin = bin.display(),
                root = root.display()
            ),
            port,
            &root,
            &root.join("server.log"),
        )
    })
}

/// A fresh, empty database on the test cluster: its URL.
pub async fn postgres_database() -> String {
    use sqlx::Connection as _;
    let cluster = postgres();
    let admin = format!("postgres://hallmark@127.0.0.1:{}/postgres", cluster.port);
    // The port opens before the cluster takes sessions ("the database system is starting up").
    let started = Instant::now();
    let mut connection = loop {
        match sqlx::PgConnection::connect(&admin).await {
            Ok(connection) => break connection,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("connect to the test cluster: {e}"),
        }
    };
    let name = format!("t_{}", hex_random());
    sqlx::Executor::execute(&mut connection, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create database");
    format!("postgres://hallmark@127.0.0.1:{}/{name}", cluster.port)
}

fn hex_random() -> String {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The access key and secret `s3s-fs` checks signatures with.
pub const S3_ACCESS_KEY: &str = "hallmark-test";
pub const S3_SECRET_KEY: &str = "hallmark-test-secret";

fn s3s_fs() -> &'static Tethered {
    static SERVER: OnceLock<Tethered> = OnceLock::new();
    SERVER.get_or_init(|| {
        let binary = std::env::var_os("HALLMARK_S3S_FS")
            .map(PathBuf::from)
            .or_else(|| {
                let home = std::env::var_os("HOME")?;
                let candidate = Path::new(&home).join(".cargo/bin/s3s-fs");
                candidate.exists().then_some(candidate)
            })
            .unwrap_or_else(|| PathBuf::from("s3s-fs"));
        let root = tempfile::Builder::new()
            .prefix("hallmark-s3-")
            .tempdir()
            .expect("temp dir")
            .keep();
        std::fs::create_dir_all(root.join("data")).expect("s3 root");
        let port = free_port();
        let mut check = Command::new(&binary);
        if check.arg("--version").output().is_err() {
            panic!(
                "s3s-fs is not installed ({}); run scripts/setup (cargo install s3s-fs --version 0.14.1 --features binary --locked)",
                binary.display()
            );
        }
        tether(
            &format!(
                "exec {} --host 127.0.0.1 --port {port} --access-key {S3_ACCESS_KEY} --secret-key {S3_SECRET_KEY} {}/data",
                binary.display(),
                root.display()
            ),
            port,
            &root,
            &root.join("server.log"),
        )
    })
}

/// A fresh bucket on the test S3 server: the `--store` URL and the `AWS_*` settings to reach it.
pub fn s3_bucket() -> (String, Vec<(String, String)>) {
    let server = s3s_fs();
    let bucket = format!("b{}", hex_random());
    std::fs::create_dir_all(server.root.join("data").join(&bucket)).expect("create bucket");
    let options = [
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", server.port),
        ),
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
    ];
    let _ = std::io::stdout().flush();
    (
        format!("s3://{bucket}/shards"),
        options
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// Where the test S3 server keeps a bucket's objects on disk (to look at what was stored).
pub fn s3_root() -> PathBuf {
    s3s_fs().root.join("data")
}
