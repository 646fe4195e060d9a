//! `hallmark mirror` against `s3s-fs`, a real S3-compatible server: credentials from the keyring,
//! only missing objects sent, every object read back, rotted bytes found and resent, refusals that
//! name the fix, a mirror killed mid-upload that resends at most the part in flight (counted by a
//! relay in front of the server), and one through connections cut mid-body and 500/503 answers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::publish::{path, seal_and_sign, sealed_signed};
use crate::{CountingProxy, Fault, Studio};

const ACCESS_KEY: &str = "hallmark-mirror-test";
const SECRET_KEY: &str = "hallmark-mirror-secret";

/// A running `s3s-fs` with its own root folder and one bucket, killed when dropped.
struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    addr: String,
}

impl S3Server {
    fn start(bucket: &str) -> S3Server {
        let binary = std::env::var_os("HALLMARK_S3S_FS")
            .map(PathBuf::from)
            .or_else(|| {
                let candidate = Path::new(&std::env::var_os("HOME")?).join(".cargo/bin/s3s-fs");
                candidate.exists().then_some(candidate)
            })
            .unwrap_or_else(|| PathBuf::from("s3s-fs"));
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("data").join(bucket)).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path().join("data"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(root.path().join("server.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start s3s-fs ({}: {e}); run scripts/setup (cargo install s3s-fs --version 0.14.1 --features binary --locked)",
                    binary.display()
                )
            });
        let start = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "s3s-fs did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        S3Server {
            child,
            root,
            addr: addr.to_string(),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the server keeps `key` of `bucket`.
    fn object(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join("data").join(bucket).join(key)
    }

    /// Parts of unfinished multipart uploads the server holds.
    fn parts(&self) -> usize {
        std::fs::read_dir(self.root.path().join("data"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".upload_id-")
            })
            .count()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hallmark ARGS` with `stdin` as its standard input.
fn run_with_input(studio: &Studio, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = studio.command(args).stdin(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Every object of the seal in `out` (shards by the manifest's SHA-256, the files by their bytes)
/// stored under `prefix` exactly.
fn assert_mirrored_exactly(server: &S3Server, bucket: &str, prefix: &str, out: &Path) {
    let manifest_bytes = std::fs::read(out.join("croissant.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
    for file in manifest["distribution"].as_array().unwrap() {
        let Some(name) = file["contentUrl"].as_str() else {
            continue; // a file set, not a file
        };
        let stored = std::fs::read(server.object(bucket, &format!("{prefix}/{name}")))
            .unwrap_or_else(|e| panic!("{name} is not in the bucket: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&stored)),
            file["sha256"].as_str().unwrap(),
            "{name}"
        );
    }
    for name in ["croissant.json", "credential.json"] {
        assert_eq!(
            std::fs::read(server.object(bucket, &format!("{prefix}/{name}"))).unwrap(),
            std::fs::read(out.join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn a_mirror_sends_what_the_bucket_lacks_and_a_check_finds_and_resends_rotted_bytes() {
    let studio = Studio::new("mirror", "Ana");
    let server = S3Server::start("datasets");
    // About 18 MiB in shards of about 8 MiB: multipart uploads in 5 MiB parts.
    let (src, out) = sealed_signed(&studio, 6, 3 << 20, "8MiB");
    let out_path = path(out.path());
    let endpoint = server.url();
    let mirror = |extra: &[&str]| {
        let mut args = vec![
            "mirror",
            out_path.as_str(),
            "s3://datasets/takes/v1",
            "--endpoint",
            endpoint.as_str(),
            "--part-size",
            "5MiB",
        ];
        args.extend_from_slice(extra);
        studio.run(&args)
    };

    // No credentials: bad input that names both ways to give them, nothing sent.
    let none = mirror(&[]);
    assert_eq!(none.code(), Some(2), "{}", none.stderr());
    for fix in [
        "hallmark mirror --set-credentials s3://datasets/takes/v1",
        "AWS_ACCESS_KEY_ID",
    ] {
        assert!(none.stderr().contains(fix), "{}", none.stderr());
    }
    assert!(!server.object("datasets", "takes").exists());

    // A wrong secret in the keyring: the bucket's refusal, with what to check.
    let set = |secret: &str| {
        let kept = run_with_input(
            &studio,
            &[
                "mirror",
                "--set-credentials",
                "s3://datasets",
                "--endpoint",
                &endpoint,
            ],
            &format!("{ACCESS_KEY}\n{secret}\n"),
        );
        assert!(kept.status.success(), "{kept:?}");
        assert!(
            !String::from_utf8_lossy(&kept.stdout).contains(secret),
            "the secret was printed"
        );
    };
    set("not-the-secret");
    let refused = mirror(&[]);
    assert_eq!(refused.code(), Some(3), "{}", refused.stderr());
    assert!(
        refused.stderr().contains("check the access key"),
        "{}",
        refused.stderr()
    );

    // The right key: everything is sent, in equal parts, and stored exactly.
    set(SECRET_KEY);
    let first = mirror(&["--json"]).json();
    assert_eq!(first["objects"], 6, "{first}");
    assert_eq!(first["sent"].as_array().unwrap().len(), 6, "{first}");
    assert_eq!(first["verified"], true, "{first}");
    assert_mirrored_exactly(&server, "datasets", "takes/v1", out.path());

    // Again: nothing is sent.
    let again = mirror(&["--json"]).json();
    assert_eq!(again["bytesSent"], 0, "{again}");
    assert_eq!(
        again["alreadyThere"].as_array().unwrap().len(),
        6,
        "{again}"
    );

    // Read back: identical. Then a shard rots in the bucket (same size, its ETag unchanged):
    // the check names it, and the next mirror sends that one again.
    mirror(&["--check"]).ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("croissant.json")).unwrap()).unwrap();
    let shard = manifest["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f["contentUrl"].as_str().filter(|n| n.ends_with(".tar")))
        .unwrap()
        .to_owned();
    let stored = server.object("datasets", &format!("takes/v1/{shard}"));
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[4096] ^= 0x40;
    std::fs::write(&stored, &bytes).unwrap();
    let check = mirror(&["--check"]);
    assert_eq!(check.code(), Some(1), "{}", check.stderr());
    assert!(
        check
            .stdout()
            .contains(&format!("differs: takes/v1/{shard}")),
        "{}",
        check.stdout()
    );
    assert!(
        check.stdout().contains("1 of 6 objects differ"),
        "{}",
        check.stdout()
    );
    let repaired = mirror(&["--json"]).json();
    assert_eq!(repaired["sent"], serde_json::json!([shard]), "{repaired}");
    mirror(&["--check"]).ok();
    assert_mirrored_exactly(&server, "datasets", "takes/v1", out.path());

    // A new seal of an edited folder (same sizes, so the same-sized manifest and index): they are
    // sent again, not taken for the old ones, and the bucket holds exactly the new seal.
    let edited = src.path().join("take-000.bin");
    let mut bytes = std::fs::read(&edited).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&edited, &bytes).unwrap();
    seal_and_sign(&studio, src.path(), out.path(), "8MiB");
    let resealed = mirror(&["--json"]).json();
    let sent: Vec<&str> = resealed["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in ["index.jsonl", "credential.json", "croissant.json"] {
        assert!(sent.contains(&name), "{name} not sent again: {resealed}");
    }
    assert_mirrored_exactly(&server, "datasets", "takes/v1", out.path());
    mirror(&["--check"]).ok();

    // A name that is not a bucket.
    let bad = studio.run(&["mirror", &out_path, "s3://Bad_Bucket/x"]);
    assert_eq!(bad.code(), Some(2), "{}", bad.stderr());
    assert!(bad.stderr().contains("bucket name"), "{}", bad.stderr());

    // Forgotten credentials are gone.
    studio
        .run(&[
            "mirror",
            "--forget-credentials",
            "s3://datasets",
            "--endpoint",
            &endpoint,
        ])
        .ok();
    assert_eq!(mirror(&[]).code(), Some(2));
}

#[test]
fn a_mirror_killed_mid_upload_resends_at_most_the_part_in_flight() {
    let studio = Studio::new("mirror-kill", "Ana");
    let server = S3Server::start("datasets");
    let mut relay = CountingProxy::bind();
    relay.forward_to(&server.addr);
    // One shard of 60 MiB: twelve 5 MiB parts, one stream.
    let (_src, out) = sealed_signed(&studio, 1, 60 << 20, "64MiB");
    let out_path = path(out.path());
    let args = [
        "mirror",
        out_path.as_str(),
        "s3://datasets/takes",
        "--endpoint",
        relay.url.as_str(),
        "--part-size",
        "5MiB",
        "--streams",
        "1",
        "--json",
    ];
    let with_key = |mut command: Command| {
        command
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        command
    };
    let mut child = with_key(studio.command(&args)).spawn().unwrap();
    let start = Instant::now();
    while server.parts() < 4 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror finished before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first_run = relay.received();
    // Parts the server holds (one may be cut short); the object is not there yet.
    let held = server.parts();
    assert!((4..12).contains(&held), "{held} parts");
    assert!(
        !server
            .object("datasets", "takes")
            .join("index.jsonl")
            .exists()
    );

    let done = with_key(studio.command(&args)).output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_mirrored_exactly(&server, "datasets", "takes", out.path());
    let total: u64 = std::fs::read_dir(server.object("datasets", "takes"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let second_run = relay.received() - first_run;
    // What the server received in both runs, beyond the objects' bytes, is at most the one part
    // in flight at the kill (plus the requests' headers); the second run skipped the parts held.
    let part = 5u64 << 20;
    let overhead = 256 << 10;
    assert!(
        first_run + second_run <= total + part + overhead,
        "received {first_run} + {second_run} bytes for {total} bytes of objects"
    );
    assert!(
        second_run <= total - (held as u64 - 1) * part + overhead,
        "the second run sent {second_run} bytes though {held} parts were held: {report}"
    );
}

#[test]
fn a_mirror_through_cut_connections_and_failing_answers_stores_every_object_exactly() {
    let studio = Studio::new("mirror-faults", "Ana");
    let server = S3Server::start("datasets");
    let mut relay = CountingProxy::bind();
    relay.forward_to(&server.addr);
    // About 24 MiB in shards of about 12 MiB: multipart uploads of 5 MiB parts, and small objects.
    let (_src, out) = sealed_signed(&studio, 8, 3 << 20, "12MiB");
    let out_path = path(out.path());
    let mirror = |prefix: &str| {
        studio
            .command(&[
                "mirror",
                &out_path,
                &format!("s3://datasets/{prefix}"),
                "--endpoint",
                &relay.url,
                "--part-size",
                "5MiB",
                "--streams",
                "2",
                "--json",
            ])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .output()
            .unwrap()
    };
    for (prefix, fault) in [
        ("cut", Fault::Cut { after: 3 << 20 }),
        ("unavailable", Fault::Answer { status: 503 }),
        ("failing", Fault::Answer { status: 500 }),
    ] {
        relay.spoil(fault, 3);
        let done = mirror(prefix);
        assert!(
            done.status.success(),
            "{fault:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        assert_eq!(relay.to_spoil(), 0, "{fault:?}: not every fault was met");
        let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(
            report["sent"].as_array().unwrap().len(),
            5,
            "{fault:?}: {report}"
        );
        assert_mirrored_exactly(&server, "datasets", prefix, out.path());
    }
}
