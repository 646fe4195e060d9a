//! `scripts/start --demo`: a demo studio of its own (data folder, keyring service, marketplace)
//! with a sample folder sealed, signed and published and simulated buyers, whose earnings verify
//! with statements within a minute. Run without the window (`--no-app --no-setup`).

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The demo script, stopped with its whole process group (marketplace and buyers) when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_publishes_a_sample_and_its_earnings_verify_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let service = format!("studio.hallmark.demo-test.{}", std::process::id());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/start");
    let log = std::fs::File::create(dir.path().join("start.log")).unwrap();
    let _demo = Demo(
        Command::new(&script)
            .args(["--demo", "--no-app", "--no-setup"])
            .env("HALLMARK_DEMO_DIR", &demo_dir)
            .env("HALLMARK_MARKET_ADDR", &addr)
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let data = demo_dir.join("data/studio.hallmark.desktop");
    let hallmark = |args: &[&str]| {
        Command::new(crate::binary("hallmark", "HALLMARK_CLI", "hallmark-cli"))
            .args(args)
            .env("HALLMARK_DATA_DIR", &data)
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .output()
            .unwrap()
    };
    // The build, the publish and a first statement: well within three minutes on this machine.
    let start = Instant::now();
    let verified = loop {
        let fetched = hallmark(&["--json", "earnings", "fetch"]);
        if fetched.status.success() {
            let run = hallmark(&["--json", "earnings", "verify"]);
            let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap_or_default();
            assert!(
                report["findings"].as_array().is_none_or(Vec::is_empty),
                "findings: {report}"
            );
            if report["statemented"]
                .as_array()
                .is_some_and(|totals| !totals.is_empty())
            {
                break report;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "no statemented earnings after three minutes; the script's output:\n{}",
            std::fs::read_to_string(dir.path().join("start.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let eur = &verified["statemented"][0];
    assert_eq!(eur["currency"], "EUR", "{verified}");
    assert_ne!(eur["creatorShare"], "0", "{verified}");
}
