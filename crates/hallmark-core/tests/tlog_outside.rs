//! The log our appender writes, checked by an outside verifier: Go's sumdb note and tlog (tools/tlog-verify).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hallmark_core::did::SigningIdentity;
use hallmark_core::tlog::{self, EMPTY_ROOT};

const ORIGIN: &str = "market.example/log";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds tools/tlog-verify with Go's packages from Debian (no module proxy).
fn build_verifier() -> PathBuf {
    let version = Command::new("go").arg("version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "`go` is not on PATH ({version:?}); run scripts/setup, which installs golang-go and \
         golang-golang-x-mod-dev for the outside log verifier"
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tlog-verify");
    let build = Command::new("go")
        .current_dir(workspace())
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOFLAGS", "")
        .args(["build", "-o"])
        .arg(&out)
        .arg("./tools/tlog-verify")
        .output()
        .expect("run go build");
    assert!(
        build.status.success(),
        "go build ./tools/tlog-verify failed (run scripts/setup for golang-golang-x-mod-dev):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    out
}

fn entry(i: u64) -> Vec<u8> {
    let mut e = vec![0u8; 32];
    e[..8].copy_from_slice(&i.to_be_bytes());
    e[31] = (i % 251) as u8;
    e
}

/// Writes every file of `writes` under `dir` by its C2SP path.
fn write_files(dir: &Path, writes: &[(String, Vec<u8>)]) {
    for (path, bytes) in writes {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, bytes).expect("write");
    }
}

/// A folder store for the appender.
struct Folder<'a>(&'a Path);
impl tlog::TileStore for Folder<'_> {
    fn read(&self, path: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.0.join(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn run(tool: &Path, args: &[&str]) -> Output {
    Command::new(tool)
        .args(args)
        .output()
        .expect("run tlog-verify")
}

#[test]
fn go_verifies_what_the_appender_wrote_and_refuses_tampering() {
    let tool = build_verifier();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("log");
    let key = SigningIdentity::generate();
    let (mut size, mut root) = (0, EMPTY_ROOT);
    let mut checkpoints = Vec::new();
    for batch in [1u64, 300, 455, 244] {
        let entries: Vec<Vec<u8>> = (size..size + batch).map(entry).collect();
        let step = tlog::append(&Folder(&log), size, &root, &entries).expect("append");
        write_files(&log, &step.writes);
        (size, root) = (step.size, step.root);
        let note = tlog::sign_checkpoint(&key, ORIGIN, size, &root).expect("sign");
        std::fs::write(log.join(tlog::CHECKPOINT_PATH), &note).expect("write checkpoint");
        checkpoints.push(note);
    }
    assert_eq!(size, 1000);
    let old = dir.path().join("old-checkpoint");
    std::fs::write(&old, &checkpoints[1]).expect("old");
    let vkey = tlog::verifier_key(ORIGIN, &key.public()).expect("vkey");
    let log_arg = log.to_str().expect("utf-8 path");
    let old_arg = old.to_str().expect("utf-8 path");
    let indexes = "0,1,255,256,300,511,512,755,998,999";
    let args = [
        "-log", log_arg, "-vkey", &vkey, "-origin", ORIGIN, "-index", indexes, "-old", old_arg,
    ];

    let ok = run(&tool, &args);
    assert!(
        ok.status.success(),
        "tlog-verify refused our log: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("JSON report");
    assert_eq!(report["size"], 1000);
    assert_eq!(
        report["root"].as_str(),
        Some(base64_std(&root).as_str()),
        "Go computed the root we signed"
    );
    assert_eq!(report["included"].as_array().map(Vec::len), Some(10));
    assert_eq!(report["consistent_with"]["size"], 301);

    // A tampered full tile, entry bundle or partial tile is caught.
    for (path, index) in [
        ("tile/0/001", "300"),
        ("tile/entries/002", "512,600"),
        ("tile/0/003.p/232", "999"),
        ("tile/1/000.p/3", "5"),
    ] {
        let file = log.join(path);
        let good = std::fs::read(&file).expect(path);
        let mut bad = good.clone();
        bad[9] ^= 0x40;
        std::fs::write(&file, &bad).expect("tamper");
        let args = [
            "-log", log_arg, "-vkey", &vkey, "-origin", ORIGIN, "-index", index,
        ];
        let refused = run(&tool, &args);
        assert!(!refused.status.success(), "Go accepted a tampered {path}");
        std::fs::write(&file, &good).expect("restore");
        assert!(run(&tool, &args).status.success(), "restored {path}");
    }

    // A checkpoint signed by another key under the same origin is refused.
    let other = SigningIdentity::generate();
    let forged = tlog::sign_checkpoint(&other, ORIGIN, size, &root).expect("sign");
    let forged_file = dir.path().join("forged");
    std::fs::write(&forged_file, forged).expect("forged");
    let forged_arg = forged_file.to_str().expect("utf-8");
    let args = [
        "-log",
        log_arg,
        "-vkey",
        &vkey,
        "-origin",
        ORIGIN,
        "-checkpoint",
        forged_arg,
    ];
    let refused = run(&tool, &args);
    assert!(
        !refused.status.success(),
        "Go accepted another key's checkpoint"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature"));

    // An older checkpoint that is not a prefix of this log is refused.
    let fork =
        tlog::append(&tlog::MemoryTiles::default(), 0, &EMPTY_ROOT, &[b"fork"]).expect("append");
    let fork_note = tlog::sign_checkpoint(&key, ORIGIN, fork.size, &fork.root).expect("sign");
    std::fs::write(&old, fork_note).expect("fork");
    let args = [
        "-log", log_arg, "-vkey", &vkey, "-origin", ORIGIN, "-old", old_arg,
    ];
    assert!(
        !run(&tool, &args).status.success(),
        "Go accepted a forked old checkpoint"
    );
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
