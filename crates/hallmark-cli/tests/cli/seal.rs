//! `hallmark seal`, `export`, `sign` and `verify` against hostile output folders and careless input:
//! the creator chooses the terms, what is signed is the truth, and a failed command leaves nothing.

use std::path::Path;
use std::process::Output;

use super::{hallmark, sealed_dataset, work_folder};

const TERMS: [&str; 4] = [
    "--allow",
    "ai-training,data-mining",
    "--forbid",
    "generative-training,inference",
];

pub fn seal(src: &Path, out: &Path, extra: &[&str]) -> Output {
    hallmark()
        .args(["seal", "-q", "--license", "CC-BY-4.0", "--creator", "Ana"])
        .arg(src)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Signs `out` with a new passphrase key file; returns the sign command's output.
fn sign(out: &Path) -> Output {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("ana.age");
    let pass = "a long enough passphrase";
    let new = hallmark()
        .args(["key", "new", "--name", "Ana", "--key-file"])
        .arg(&key_file)
        .env("HALLMARK_KEY_PASSPHRASE", pass)
        .output()
        .unwrap();
    assert!(new.status.success(), "{}", text(&new.stderr));
    hallmark()
        .arg("sign")
        .arg(out)
        .arg("--key-file")
        .arg(&key_file)
        .env("HALLMARK_KEY_PASSPHRASE", pass)
        .output()
        .unwrap()
}

#[test]
fn the_creator_chooses_every_use_and_a_reseal_keeps_the_choice() {
    let src = work_folder();
    let out = tempfile::tempdir().unwrap();
    let undecided = seal(src.path(), out.path(), &["--allow", "ai-training"]);
    assert_eq!(undecided.status.code(), Some(2));
    let err = text(&undecided.stderr);
    for named in [
        "generative-training",
        "inference",
        "data-mining",
        "--forbid",
    ] {
        assert!(err.contains(named), "{named} in: {err}");
    }
    assert!(!out.path().join("croissant.json").exists());

    let twice = seal(
        src.path(),
        out.path(),
        &["--allow", "all", "--forbid", "inference"],
    );
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice.stderr).contains("two different choices"));

    let unexplained = seal(
        src.path(),
        out.path(),
        &[
            "--allow",
            "ai-training,data-mining,inference",
            "--constrain",
            "generative-training",
        ],
    );
    assert_eq!(unexplained.status.code(), Some(2));
    assert!(text(&unexplained.stderr).contains("--constraints"));

    let ok = hallmark()
        .args(["seal", "--license", "cc-by-4.0", "--creator", "Ana"])
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .args(TERMS)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let said = text(&ok.stdout);
    assert!(
        said.contains("AI training: allowed. Generative AI training: not allowed."),
        "{said}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("croissant.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["hallmark:license"], "CC-BY-4.0",
        "written in SPDX spelling"
    );
    assert_eq!(manifest["hallmark:consent"]["aiInference"], "notAllowed");

    // A reseal keeps the earlier terms for uses it does not name, and changes the one it names.
    let again = seal(src.path(), out.path(), &["--allow", "inference"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("croissant.json")).unwrap()).unwrap();
    assert_eq!(manifest["hallmark:consent"]["aiInference"], "allowed");
    assert_eq!(
        manifest["hallmark:consent"]["aiGenerativeTraining"],
        "notAllowed"
    );
}

#[test]
fn bad_sizes_licenses_versions_and_creators_are_named_and_leave_nothing() {
    let src = work_folder();
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    for (args, says) in [
        (vec!["--shard-size", "abc"], "write it like 64MiB"),
        (vec!["--shard-size", "0"], "more than 0 bytes"),
        (vec!["--version", "2"], "semantic version"),
    ] {
        let mut all = TERMS.to_vec();
        all.extend(args);
        let run = seal(src.path(), &out, &all);
        assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
        assert!(
            text(&run.stderr).contains(says),
            "{says}: {}",
            text(&run.stderr)
        );
        assert!(!out.exists(), "nothing was created for {says}");
    }
    let nobody = hallmark()
        .args(["seal", "--license", "CC-BY-4.0", "--creator", " "])
        .arg(src.path())
        .arg("--out")
        .arg(&out)
        .args(TERMS)
        .output()
        .unwrap();
    assert_eq!(nobody.status.code(), Some(2));
    assert!(
        text(&nobody.stderr).contains("creator is missing"),
        "{}",
        text(&nobody.stderr)
    );
    assert!(!out.exists());
    let typo = hallmark()
        .args(["seal", "--license", "CC-BY-SA-4.O", "--creator", "Ana"])
        .arg(src.path())
        .arg("--out")
        .arg(&out)
        .args(TERMS)
        .output()
        .unwrap();
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        text(&typo.stderr).contains("did you mean CC-BY-SA-4.0"),
        "{}",
        text(&typo.stderr)
    );

    let inside = src.path().join("out");
    let run = seal(src.path(), &inside, &TERMS);
    assert_eq!(run.status.code(), Some(2));
    assert!(!inside.exists(), "no folder is left inside the source");
}

#[test]
fn another_source_is_refused_unless_asked_and_rehash_reads_everything() {
    let (_src, out) = sealed_dataset();
    let other = work_folder();
    let refused = seal(other.path(), out.path(), &TERMS);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("--replace-source"));
    let replaced = hallmark()
        .args([
            "seal",
            "--json",
            "--license",
            "CC-BY-4.0",
            "--creator",
            "Ana",
        ])
        .arg(other.path())
        .arg("--out")
        .arg(out.path())
        .args(["--replace-source", "--rehash"])
        .output()
        .unwrap();
    assert!(replaced.status.success(), "{}", text(&replaced.stderr));
    let json: serde_json::Value = serde_json::from_slice(&replaced.stdout).unwrap();
    assert_eq!(json["report"]["files_hashed"], json["report"]["files"]);
}

#[test]
fn a_reseal_sets_the_old_signature_aside_and_says_sign_again() {
    let (src, out) = sealed_dataset();
    let signed = sign(out.path());
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let said = text(&signed.stdout);
    assert!(
        said.contains("license: CC-BY-4.0"),
        "terms shown before signing: {said}"
    );
    assert!(said.contains("Data mining: allowed."), "{said}");

    std::fs::write(src.path().join("2.txt"), "a new take").unwrap();
    let reseal = hallmark()
        .args(["seal", "--license", "CC-BY-4.0", "--creator", "Ana"])
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(reseal.status.success(), "{}", text(&reseal.stderr));
    assert!(
        text(&reseal.stdout).contains("signed for an earlier seal — sign again"),
        "{}",
        text(&reseal.stdout)
    );
    assert!(!out.path().join("credential.json").exists());
    let verify = hallmark().arg("verify").arg(out.path()).output().unwrap();
    assert_eq!(verify.status.code(), Some(0));
    let said = text(&verify.stdout);
    assert!(
        said.contains("signed for an earlier seal — sign again"),
        "{said}"
    );
    assert!(!said.contains("digest"), "plain words, not digests: {said}");
}

#[test]
fn sign_signs_the_manifests_terms_not_the_unsigned_state() {
    let (_src, out) = sealed_dataset();
    // Terms edited in Hallmark's unsigned record are not what gets signed.
    let state_path = out.path().join(".hallmark/seal.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    state["info"]["license"] = "CC0-1.0".into();
    state["info"]["consent"]["aiGenerativeTraining"] = "allowed".into();
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let signed = sign(out.path());
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    let credential: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("credential.json")).unwrap())
            .unwrap();
    let subject = &credential["credentialSubject"];
    assert_eq!(subject["license"], "CC-BY-4.0");
    assert_eq!(subject["consent"]["aiGenerativeTraining"], "notAllowed");

    // Terms edited in the manifest after signing: verify fails and names the signed digest.
    let manifest_path = out.path().join("croissant.json");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap().replace(
        "\"aiGenerativeTraining\": \"notAllowed\"",
        "\"aiGenerativeTraining\": \"allowed\"",
    );
    std::fs::write(&manifest_path, manifest).unwrap();
    let verify = hallmark().arg("verify").arg(out.path()).output().unwrap();
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
    let said = text(&verify.stdout);
    assert!(said.contains("croissant.json: digestSRI"), "{said}");
    assert!(
        said.contains("consent"),
        "the changed terms are named: {said}"
    );
}

#[test]
fn export_writes_only_names_derived_from_digests_and_prints_totals() {
    let (_src, out) = sealed_dataset();
    let manifest_path = out.path().join("croissant.json");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    let shards = tempfile::tempdir().unwrap();
    let ok = hallmark()
        .arg("export")
        .arg(out.path())
        .arg("--shards")
        .arg(shards.path())
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let said = text(&ok.stdout);
    assert!(
        said.contains("exported ") && said.contains("written"),
        "{said}"
    );
    let again = hallmark()
        .arg("export")
        .arg(out.path())
        .arg("--shards")
        .arg(shards.path())
        .output()
        .unwrap();
    assert!(
        text(&again.stdout).contains("0 written"),
        "{}",
        text(&again.stdout)
    );

    // A manifest whose shard names climb out of --shards is refused; nothing is written there.
    let json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let first = json["distribution"][0]["contentUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let victim_dir = tempfile::tempdir().unwrap();
    let escape = format!(
        "../{}/x.tar",
        victim_dir.path().file_name().unwrap().to_string_lossy()
    );
    std::fs::write(&manifest_path, manifest.replace(&first, &escape)).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let run = hallmark()
        .arg("export")
        .arg(out.path())
        .arg("--shards")
        .arg(fresh.path())
        .output()
        .unwrap();
    assert_ne!(run.status.code(), Some(0));
    assert!(
        text(&run.stderr).contains("is not named by its digest"),
        "{}",
        text(&run.stderr)
    );
    assert_eq!(std::fs::read_dir(victim_dir.path()).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(fresh.path()).unwrap().count(), 0);
}

#[test]
fn export_into_the_source_folder_is_refused() {
    let (src, out) = sealed_dataset();
    let run = hallmark()
        .arg("export")
        .arg(out.path())
        .arg("--shards")
        .arg(src.path().join("shards"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", text(&run.stderr));
    assert!(
        text(&run.stderr).contains("outside"),
        "{}",
        text(&run.stderr)
    );
    assert!(!src.path().join("shards").exists());
}

#[test]
fn a_reseal_keeps_the_signed_terms_not_terms_edited_into_the_unsigned_record() {
    let (src, out) = sealed_dataset();
    let state_path = out.path().join(".hallmark/seal.json");
    let mut state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    for field in [
        "aiTraining",
        "aiGenerativeTraining",
        "aiInference",
        "dataMining",
    ] {
        state["info"]["consent"][field] = "allowed".into();
    }
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    let again = seal(src.path(), out.path(), &[]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("croissant.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["hallmark:consent"]["aiGenerativeTraining"],
        "notAllowed"
    );
    assert_eq!(manifest["hallmark:consent"]["aiInference"], "notAllowed");
}

#[test]
fn verify_prints_no_control_character_from_a_hostile_index() {
    let (src, out) = sealed_dataset();
    let index = out.path().join("index.jsonl");
    let mut text_index = std::fs::read_to_string(&index).unwrap();
    let fake = serde_json::json!({
        "key": "k", "shard": "x.tar",
        "files": [{
            "path": "x\u{1b}[2J\u{1b}[H\rvalid: matches\n  signed by did:key:z6MkTrustMe",
            "field": "txt", "size": 7, "sha256": "0".repeat(64),
            "mediaType": "text/plain", "offset": 512
        }]
    });
    text_index.push_str(&format!("{fake}\n"));
    std::fs::write(&index, text_index).unwrap();
    let run = hallmark()
        .arg("verify")
        .arg(out.path())
        .arg("--source")
        .arg(src.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let said = text(&run.stdout);
    assert!(!said.contains('\u{1b}') && !said.contains('\r'), "{said:?}");
    assert!(said.contains("\\u{1b}[2J"), "shown escaped: {said}");
}

#[test]
fn verify_signed_refuses_an_unsigned_or_stale_dataset() {
    let (src, out) = sealed_dataset();
    let run = |args: &[&str]| {
        hallmark()
            .arg("verify")
            .arg(out.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(
        run(&[]).status.code(),
        Some(0),
        "unsigned is valid by default"
    );
    let unsigned = run(&["--signed"]);
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(
        text(&unsigned.stdout).contains("not signed"),
        "{}",
        text(&unsigned.stdout)
    );
    assert!(sign(out.path()).status.success());
    assert_eq!(run(&["--signed"]).status.code(), Some(0));
    std::fs::write(src.path().join("1.txt"), "changed").unwrap();
    assert!(seal(src.path(), out.path(), &[]).status.success());
    let stale = run(&["--signed"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(
        text(&stale.stdout).contains("signed for an earlier seal — sign again"),
        "{}",
        text(&stale.stdout)
    );
}

/// Runs the built `hallmark` as an ordinary user: as root (CI) every file is readable, so the test
/// drops to `nobody` with util-linux's `setpriv`, from a copy of the binary that user can reach.
#[cfg(unix)]
fn as_ordinary_user(dir: &Path) -> std::process::Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root {
        return hallmark();
    }
    let copy = dir.join("hallmark");
    std::fs::copy(env!("CARGO_BIN_EXE_hallmark"), &copy).unwrap();
    let mut command = std::process::Command::new("setpriv");
    command
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(copy);
    command
}

#[cfg(unix)]
#[test]
fn unreadable_files_are_reported_by_summary_and_passed_over_by_seal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.txt"), "mine").unwrap();
    std::fs::write(src.join("b.txt"), "locked").unwrap();
    std::fs::set_permissions(src.join("b.txt"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o755)).unwrap();
    let summary = as_ordinary_user(dir.path())
        .arg("summary")
        .arg(&src)
        .output()
        .unwrap();
    assert!(summary.status.success(), "{}", text(&summary.stderr));
    let said = text(&summary.stdout);
    assert!(said.contains("files:   1"), "{said}");
    assert!(
        said.contains("b.txt: unreadable: permission denied"),
        "{said}"
    );
    let sealed = as_ordinary_user(dir.path())
        .args([
            "seal",
            "--license",
            "CC0-1.0",
            "--creator",
            "Ana",
            "--allow",
            "all",
        ])
        .arg(&src)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(sealed.status.success(), "{}", text(&sealed.stderr));
    let said = text(&sealed.stdout);
    assert!(
        said.contains("b.txt: unreadable: permission denied"),
        "{said}"
    );
    let index = std::fs::read_to_string(dir.path().join("out/index.jsonl")).unwrap();
    assert!(
        index.contains("a.txt") && !index.contains("b.txt"),
        "{index}"
    );
}
