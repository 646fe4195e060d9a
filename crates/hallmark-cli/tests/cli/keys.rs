//! `hallmark key …` and `hallmark credential …`: keyring races, the passphrase rule, messages that
//! name the right syntax, and key files that are not what they claim to be.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::hallmark;

/// The passphrase variable scripts use; the errors must name it.
const PASSPHRASE_ENV: &str = "HALLMARK_KEY_PASSPHRASE";

fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run under dbus-run-session with gnome-keyring unlocked, as scripts/test does"
    );
}

/// A keyring service name of the test's own, so tests never see each other's keys.
fn service(test: &str) -> String {
    format!("studio.hallmark.cli-test.{test}.{}", std::process::id())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn did_of(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["did"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs `command` and kills it if it is still running after `limit`: a hang fails the test.
fn output_within(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?} (killed); stderr: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn keys_made_in_parallel_are_all_listed_and_each_loads() {
    require_keyring();
    let service = service("parallel");
    let children: Vec<_> = (0..8)
        .map(|i| {
            hallmark()
                .args(["key", "new", "--json", "--name", &format!("Ana {i}")])
                .env("HALLMARK_KEYRING_SERVICE", &service)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut made: Vec<String> = children
        .into_iter()
        .map(|child| did_of(&child.wait_with_output().unwrap()))
        .collect();
    made.sort();

    let list = hallmark()
        .args(["key", "list", "--json"])
        .env("HALLMARK_KEYRING_SERVICE", &service)
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", stderr(&list));
    let mut listed: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["did"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, made, "every key made is listed, once");

    for did in &made {
        let show = hallmark()
            .args(["key", "show", did, "--json"])
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .output()
            .unwrap();
        assert_eq!(did_of(&show), *did, "the key's secret loads");
        let delete = hallmark()
            .args(["key", "delete", did, "--yes"])
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .output()
            .unwrap();
        assert!(delete.status.success(), "{}", stderr(&delete));
    }
}

fn new_key_file(path: &Path, passphrase: &str) -> Output {
    hallmark()
        .args(["key", "new", "--json", "--name", "Ana", "--key-file"])
        .arg(path)
        .env(PASSPHRASE_ENV, passphrase)
        .output()
        .unwrap()
}

#[test]
fn a_new_key_file_needs_a_passphrase_of_eight_characters_from_the_environment_too() {
    let dir = tempfile::tempdir().unwrap();
    for short in ["", "1234567", "åäöüßçé"] {
        let path = dir.path().join("short.age");
        let out = new_key_file(&path, short);
        assert_eq!(out.status.code(), Some(2), "{short:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(PASSPHRASE_ENV), "{short:?}: {err}");
        assert!(err.contains("at least 8 characters"), "{short:?}: {err}");
        assert!(!path.exists(), "no key file is written with {short:?}");
    }
    for good in ["12345678", "åäöüßçéñ", "a few words make a passphrase"] {
        let path = dir.path().join(format!("{}.age", good.len()));
        let out = new_key_file(&path, good);
        assert!(out.status.success(), "{good:?}: {}", stderr(&out));
        assert!(path.is_file());
    }
}

#[test]
fn an_existing_key_file_refuses_an_empty_passphrase_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ana.age");
    let did = did_of(&new_key_file(&path, "a long enough passphrase"));
    let show = |passphrase: &str| {
        hallmark()
            .args(["key", "show", "--json", "--key-file"])
            .arg(&path)
            .env(PASSPHRASE_ENV, passphrase)
            .output()
            .unwrap()
    };
    let empty = show("");
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    let err = stderr(&empty);
    assert!(
        err.contains(PASSPHRASE_ENV) && err.contains("empty"),
        "{err}"
    );
    let wrong = show("short");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("passphrase does not open"),
        "a short passphrase is tried, not refused by the rule for new ones: {}",
        stderr(&wrong)
    );
    assert_eq!(did_of(&show("a long enough passphrase")), did);
}

#[test]
fn with_several_keys_each_command_names_its_own_syntax() {
    require_keyring();
    let service = service("which");
    let cli = |args: &[&str]| {
        hallmark()
            .args(args)
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .env(PASSPHRASE_ENV, "a long enough passphrase")
            .output()
            .unwrap()
    };
    let first = did_of(&cli(&["key", "new", "--json", "--name", "Ana"]));
    let second = did_of(&cli(&["key", "new", "--json", "--name", "Ana again"]));
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.age");
    let statement = dir.path().join("rotation.json");
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["key", "show"], "hallmark key show DID"),
        (
            vec!["key", "export", "--out", backup.to_str().unwrap()],
            "hallmark key export DID --out",
        ),
        (
            vec!["key", "rotate", "--statement", statement.to_str().unwrap()],
            "hallmark key rotate DID --statement",
        ),
    ];
    for (args, syntax) in cases {
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("there are 2 keys"), "{args:?}: {err}");
        assert!(err.contains(syntax), "{args:?}: {err}");
        assert!(!err.contains("--key DID"), "{args:?}: {err}");
    }
    assert!(!backup.exists() && !statement.exists());
    for did in [first, second] {
        assert!(cli(&["key", "delete", &did, "--yes"]).status.success());
    }
}

#[test]
fn an_empty_credential_list_says_so_and_how_to_import_one() {
    let data = tempfile::tempdir().unwrap();
    let list = |json: bool| {
        let mut command = hallmark();
        command.args(["credential", "list"]);
        if json {
            command.arg("--json");
        }
        command
            .env("HALLMARK_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    let text = list(false);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("no creator credentials"), "{text}");
    assert!(text.contains("hallmark credential import"), "{text}");
    let json = list(true);
    assert!(json.status.success() && json.stdout.is_empty());
}

#[test]
fn an_endless_or_huge_key_file_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.age");
    // Sparse: a size of gigabytes that costs no disk.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let mut inputs = vec![huge];
    if cfg!(unix) {
        inputs.push("/dev/zero".into());
    }
    for input in inputs {
        let mut command = hallmark();
        command
            .args(["key", "show", "--key-file"])
            .arg(&input)
            .env(PASSPHRASE_ENV, "a long enough passphrase");
        let out = output_within(command, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&*input.to_string_lossy()), "{err}");
        assert!(err.contains("too large for a key file"), "{err}");
    }
}

#[test]
fn a_rotation_writes_its_statement_keeps_a_copy_for_the_app_and_happens_once() {
    require_keyring();
    let service = service("rotate");
    let data = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        hallmark()
            .args(args)
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .env("HALLMARK_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    let old = did_of(&cli(&["key", "new", "--json", "--name", "Ana"]));
    let dir = tempfile::tempdir().unwrap();
    let statement = dir.path().join("rotation.json");
    let path = statement.to_str().unwrap();
    let new = did_of(&cli(&[
        "key",
        "rotate",
        &old,
        "--json",
        "--statement",
        path,
    ]));
    assert_ne!(new, old);
    let rotation =
        hallmark_core::rotation::open(&std::fs::read(&statement).unwrap(), "2100-01-01T00:00:00Z")
            .unwrap();
    assert_eq!(
        (rotation.from.as_str(), rotation.to.as_str()),
        (old.as_str(), new.as_str())
    );
    let kept = hallmark_core::rotation::Kept::new(&data.path().join("rotations"));
    assert_eq!(
        kept.rotation_of(&old, "2100-01-01T00:00:00Z").map(|r| r.to),
        Some(new.clone())
    );
    // Once: a second rotation of the old key is refused, and leaves no statement file behind.
    let again = dir.path().join("again.json");
    let out = cli(&[
        "key",
        "rotate",
        &old,
        "--statement",
        again.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already replaced"),
        "{}",
        stderr(&out)
    );
    assert!(!again.exists());
    for did in [old, new] {
        assert!(cli(&["key", "delete", &did, "--yes"]).status.success());
    }
}
