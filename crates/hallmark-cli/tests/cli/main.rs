//! Runs the built `hallmark` binary as a user would and checks its output and exit codes.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod keys;

use std::process::Command;

mod review;
pub mod review_folder;
mod seal;

pub fn hallmark() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hallmark"))
}

#[test]
fn summary_json_counts_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("voice")).unwrap();
    std::fs::write(dir.path().join("voice/take1.wav"), vec![1u8; 4410]).unwrap();
    std::fs::write(dir.path().join("voice/take1.txt"), b"hello there").unwrap();
    let out = hallmark()
        .args(["summary", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["files"], 2);
    assert_eq!(json["bytes"], 4410 + 11);
    assert_eq!(json["folders"], 1);
}

#[test]
fn summary_text_names_size_in_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), vec![b'a'; 2048]).unwrap();
    let out = hallmark().arg("summary").arg(dir.path()).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("files:   1"), "{text}");
    assert!(text.contains("2.05 kB (2048 bytes)"), "{text}");
}

#[test]
fn a_missing_folder_is_bad_input_with_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-here");
    let out = hallmark().arg("summary").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&*missing.to_string_lossy()), "{err}");
    assert!(err.contains("check the path"), "{err}");
}

#[test]
fn a_closed_pipe_is_a_clean_exit() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        std::fs::write(dir.path().join(format!("f{i}")), b"").unwrap();
    }
    let mut child = hallmark()
        .args(["summary", "--json", "--quiet"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn work_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..8 {
        std::fs::write(
            dir.path().join(format!("{i}.txt")),
            format!("line {i}\n").repeat(200),
        )
        .unwrap();
        std::fs::write(dir.path().join(format!("{i}.json")), b"{}").unwrap();
    }
    dir
}

#[test]
fn seal_json_then_export_writes_shards_named_by_cid() {
    let src = work_folder();
    let out = tempfile::tempdir().unwrap();
    let sealed = hallmark()
        .args([
            "seal",
            "--json",
            "--license",
            "CC-BY-4.0",
            "--creator",
            "Ana",
            "--shard-size",
            "4KiB",
            "--allow",
            "all",
        ])
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        sealed.status.success(),
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&sealed.stdout).unwrap();
    assert_eq!(json["report"]["samples"], 8);
    let shards = json["report"]["shards"].as_array().unwrap();
    assert!(shards.len() > 1);
    assert!(
        out.path().join("croissant.json").is_file() && out.path().join("index.jsonl").is_file()
    );
    assert!(
        std::fs::read_dir(src.path()).unwrap().count() == 16,
        "the creator's folder is untouched"
    );

    let dest = tempfile::tempdir().unwrap();
    let exported = hallmark()
        .arg("export")
        .arg(out.path())
        .arg("--shards")
        .arg(dest.path())
        .output()
        .unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    for shard in shards {
        let name = format!("{}.tar", shard["cid"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(dest.path().join(&name)).unwrap().len(),
            shard["size"].as_u64().unwrap()
        );
    }
}

#[test]
fn seal_names_a_bad_license_and_how_to_write_one() {
    let src = work_folder();
    let out = tempfile::tempdir().unwrap();
    let run = hallmark()
        .args([
            "seal",
            "--license",
            "CC-BY-4",
            "--creator",
            "Ana",
            "--allow",
            "all",
        ])
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8(run.stderr).unwrap();
    assert!(
        err.contains("\"CC-BY-4\" is not an SPDX license expression"),
        "{err}"
    );
    assert!(err.contains("https://spdx.org/licenses"), "{err}");
    assert!(
        !out.path().join("index.jsonl").exists(),
        "nothing is written for a bad license"
    );
}

#[test]
fn export_without_a_seal_says_how_to_seal() {
    let empty = tempfile::tempdir().unwrap();
    let run = hallmark()
        .arg("export")
        .arg(empty.path())
        .arg("--shards")
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8(run.stderr).unwrap();
    assert!(
        err.contains("holds no sealed dataset") && err.contains("hallmark seal"),
        "{err}"
    );
}

#[test]
fn verify_exits_0_when_valid_and_1_naming_the_changed_file() {
    let (src, out) = sealed_dataset();
    let verify = || {
        hallmark()
            .arg("verify")
            .arg(out.path())
            .arg("--source")
            .arg(src.path())
            .output()
            .unwrap()
    };
    let ok = verify();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    std::fs::write(src.path().join("3.txt"), "edited").unwrap();
    let bad = verify();
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8(bad.stdout).unwrap();
    assert!(
        text.contains("3.txt: size expected 1400 bytes, found 6 bytes"),
        "{text}"
    );
}

pub fn sealed_dataset() -> (tempfile::TempDir, tempfile::TempDir) {
    let src = work_folder();
    let out = tempfile::tempdir().unwrap();
    let seal = hallmark()
        .args(["seal", "-q", "--license", "CC-BY-4.0", "--creator", "Ana"])
        .args(["--allow", "ai-training,data-mining"])
        .args(["--forbid", "generative-training,inference"])
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        seal.status.success(),
        "{}",
        String::from_utf8_lossy(&seal.stderr)
    );
    (src, out)
}

#[test]
fn a_key_file_signs_offline_and_verify_names_the_signer_or_the_tampered_file() {
    let (_src, out) = sealed_dataset();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("ana.age");
    let new = hallmark()
        .args(["key", "new", "--json", "--name", "Ana", "--key-file"])
        .arg(&key_file)
        .env("HALLMARK_KEY_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&new.stdout).unwrap();
    let did = record["did"].as_str().unwrap().to_owned();
    assert!(did.starts_with("did:key:z6Mk"));

    let wrong = hallmark()
        .arg("sign")
        .arg(out.path())
        .arg("--key-file")
        .arg(&key_file)
        .env("HALLMARK_KEY_PASSPHRASE", "not it")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("passphrase does not open"));

    let sign = hallmark()
        .arg("sign")
        .arg(out.path())
        .arg("--key-file")
        .arg(&key_file)
        .env("HALLMARK_KEY_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let verify = hallmark().arg("verify").arg(out.path()).output().unwrap();
    assert_eq!(verify.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&verify.stdout).contains(&format!("signed by {did}")));

    let index = out.path().join("index.jsonl");
    let text =
        std::fs::read_to_string(&index)
            .unwrap()
            .replacen("\"size\":1400", "\"size\":1401", 1);
    std::fs::write(&index, text).unwrap();
    let tampered = hallmark().arg("verify").arg(out.path()).output().unwrap();
    assert_eq!(tampered.status.code(), Some(1));
    let report = String::from_utf8(tampered.stdout).unwrap();
    assert!(
        report.contains("index.jsonl: digestSRI expected"),
        "{report}"
    );
}

#[test]
fn without_a_keyring_the_error_says_so_and_names_key_file() {
    let run = hallmark()
        .args(["key", "list"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env("XDG_RUNTIME_DIR", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8(run.stderr).unwrap();
    assert!(err.contains("no OS keyring is available"), "{err}");
    assert!(err.contains("--key-file PATH"), "{err}");
}

#[test]
fn keys_in_the_real_keyring_sign_and_can_be_deleted() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no D-Bus session: run under dbus-run-session with gnome-keyring unlocked, as scripts/test does"
    );
    let service = format!("studio.hallmark.cli-test.{}", std::process::id());
    let cli = |args: &[&str]| {
        hallmark()
            .args(args)
            .env("HALLMARK_KEYRING_SERVICE", &service)
            .output()
            .unwrap()
    };
    let new = cli(&["key", "new", "--json", "--name", "Ana"]);
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    let did = serde_json::from_slice::<serde_json::Value>(&new.stdout).unwrap()["did"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = String::from_utf8(cli(&["key", "list"]).stdout).unwrap();
    assert!(list.contains(&did) && list.contains("Ana"), "{list}");

    let (_src, out) = sealed_dataset();
    let sign = cli(&["sign", out.path().to_str().unwrap()]);
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let credential = std::fs::read_to_string(out.path().join("credential.json")).unwrap();
    assert!(credential.contains(&did));
    assert!(
        !credential.contains("privateKey"),
        "the secret never leaves the keyring"
    );

    // Rotation: a new key, and a statement the old key signed that names it.
    let statement = out.path().join("rotation.json");
    let rotate = cli(&[
        "key",
        "rotate",
        &did,
        "--json",
        "--statement",
        statement.to_str().unwrap(),
    ]);
    assert!(
        rotate.status.success(),
        "{}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    let new_did = serde_json::from_slice::<serde_json::Value>(&rotate.stdout).unwrap()["did"]
        .as_str()
        .unwrap()
        .to_owned();
    let signed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&statement).unwrap()).unwrap();
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let proof = hallmark_core::integrity::verify(
        &signed,
        &hallmark_core::integrity::ProofExpectation::assertion(&now),
    )
    .unwrap();
    assert_eq!(proof.signer.to_string(), did);
    assert_eq!(signed["credentialSubject"]["rotatedTo"], new_did.as_str());
    assert!(cli(&["key", "delete", &new_did, "--yes"]).status.success());

    assert_eq!(
        cli(&["key", "delete", &did]).status.code(),
        Some(2),
        "no --yes and no terminal: refused"
    );
    assert!(cli(&["key", "delete", &did, "--yes"]).status.success());
    assert!(
        !String::from_utf8(cli(&["key", "list"]).stdout)
            .unwrap()
            .contains(&did)
    );
}

#[test]
fn a_marketplace_credential_is_checked_and_presented_with_the_dataset_over_a_challenge() {
    use hallmark_core::{creator, did::SigningIdentity};
    let (_src, out) = sealed_dataset();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("ana.age");
    let with_pass = |args: &[&std::ffi::OsStr]| {
        hallmark()
            .args(args)
            .env("HALLMARK_KEY_PASSPHRASE", "a long enough passphrase")
            .output()
            .unwrap()
    };
    let new = with_pass(&[
        "key".as_ref(),
        "new".as_ref(),
        "--json".as_ref(),
        "--name".as_ref(),
        "Ana".as_ref(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
    ]);
    let holder: serde_json::Value = serde_json::from_slice(&new.stdout).unwrap();
    let holder = holder["did"].as_str().unwrap().to_owned();
    assert!(
        with_pass(&[
            "sign".as_ref(),
            out.path().as_os_str(),
            "--key-file".as_ref(),
            key_file.as_os_str()
        ])
        .status
        .success()
    );

    // The marketplace side, with a test issuer key.
    let marketplace = SigningIdentity::generate();
    let issued = creator::issue(
        &marketplace,
        &holder.parse().unwrap(),
        "Ana Example",
        "2026-01-01T00:00:00Z",
        "2099-01-01T00:00:00Z",
    )
    .unwrap();
    let credential = keys.path().join("creator.json");
    std::fs::write(&credential, serde_json::to_vec(&issued).unwrap()).unwrap();

    let market = marketplace.public().to_string();
    let check = hallmark()
        .args(["credential", "check"])
        .arg(&credential)
        .args(["--marketplace", &market, "--holder", &holder])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("until 2099-01-01T00:00:00Z"));
    let stranger = SigningIdentity::generate().public().to_string();
    let wrong = hallmark()
        .args(["credential", "check"])
        .arg(&credential)
        .args(["--marketplace", &stranger, "--holder", &holder])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("not by the marketplace"));

    // Imported credentials are kept and listed with their validity.
    let data = keys.path().join("data");
    let import = hallmark()
        .args(["credential", "import"])
        .arg(&credential)
        .args(["--marketplace", &market, "--holder", &holder])
        .env("HALLMARK_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stdout)
    );
    let listed = hallmark()
        .args(["credential", "list"])
        .env("HALLMARK_DATA_DIR", &data)
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(
        listed,
        format!("Ana Example from {market}: valid until 2099-01-01T00:00:00Z\n")
    );

    let vp = keys.path().join("presentation.json");
    let present = with_pass(&[
        "present".as_ref(),
        out.path().as_os_str(),
        "--creator-credential".as_ref(),
        credential.as_os_str(),
        "--challenge".as_ref(),
        "nonce-42".as_ref(),
        "--domain".as_ref(),
        "market.example".as_ref(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
        "--to".as_ref(),
        vp.as_os_str(),
    ]);
    assert!(
        present.status.success(),
        "{}",
        String::from_utf8_lossy(&present.stderr)
    );
    let presentation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&vp).unwrap()).unwrap();
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let accepted = creator::check_presentation(
        &presentation,
        &marketplace.public(),
        "nonce-42",
        "market.example",
        &now,
    )
    .unwrap();
    assert_eq!(accepted.datasets.len(), 1);
    assert_eq!(accepted.creator.holder, holder);
}
