//! `hallmark review`: every kind of finding on a generated folder, masked personal data, the
//! creator's decisions applied to the seal, decisions remembered per content, and the publish check.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::hallmark;
use super::review_folder::{self, CARD, EMAIL, NOT_A_CARD, PHONE};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn review(src: &Path, out: &Path, extra: &[&str]) -> Output {
    hallmark()
        .args(["review", "-q"])
        .arg(src)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn review_json(src: &Path, out: &Path) -> Value {
    let run = review(src, out, &["--json"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    for whole in [EMAIL, PHONE, CARD, NOT_A_CARD, "SN-0042-7731", "Jane Doe"] {
        assert!(!stdout.contains(whole), "{whole} shown whole:\n{stdout}");
    }
    serde_json::from_str(&stdout).unwrap()
}

fn seal(src: &Path, out: &Path) -> Value {
    let run = super::seal::seal(src, out, &["--json", "--allow", "all"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    serde_json::from_slice(&run.stdout).unwrap()
}

/// The paths the index of `out` lists.
fn sealed_paths(out: &Path) -> Vec<String> {
    let mut paths: Vec<String> = std::fs::read_to_string(out.join("index.jsonl"))
        .unwrap()
        .lines()
        .flat_map(|line| {
            let sample: Value = serde_json::from_str(line).unwrap();
            sample["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    paths.sort();
    paths
}

/// The findings of `kind`, as (id, paths).
fn of_kind(review: &Value, kind: &str) -> Vec<(String, Vec<String>)> {
    review["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["path"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn find<'a>(review: &'a Value, kind: &str, path: &str) -> &'a Value {
    review["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["files"][0]["path"] == path)
        .unwrap_or_else(|| panic!("no {kind} finding for {path} in {review:#}"))
}

#[test]
fn review_reports_every_kind_of_finding_masked_and_grouped() {
    let src = tempfile::tempdir().unwrap();
    review_folder::flagged_folder(src.path());
    let out = tempfile::tempdir().unwrap();
    let found = review_json(src.path(), &out.path().join("dataset"));

    let gps = find(&found, "location", "photos/home.jpg");
    assert_eq!(gps["severity"], "high");
    assert!(
        gps["what"].as_str().unwrap().contains("GPSLatitude"),
        "{gps}"
    );
    let serial = find(&found, "serial_numbers", "photos/home.jpg");
    assert!(
        serial["what"]
            .as_str()
            .unwrap()
            .contains("BodySerialNumber")
    );
    let artist = find(&found, "people_names", "audio/song.mp3");
    assert!(
        artist["what"].as_str().unwrap().contains("artist"),
        "{artist}"
    );

    let personal: Vec<&Value> = found["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "personal_data")
        .collect();
    let kinds: Vec<(&str, u64, u64)> = personal
        .iter()
        .map(|f| {
            assert_eq!(f["files"][0]["path"], "notes/contacts.txt");
            assert_eq!(f["severity"], "high");
            (
                f["personalData"].as_str().unwrap(),
                f["count"].as_u64().unwrap(),
                f["occurrences"][0]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    // One card: the number that fails the Luhn check is not reported.
    assert_eq!(
        {
            let mut k = kinds.clone();
            k.sort();
            k
        },
        vec![("email", 1, 1), ("payment_card", 1, 3), ("phone", 1, 2)]
    );
    let card = personal
        .iter()
        .find(|f| f["personalData"] == "payment_card")
        .unwrap();
    assert_eq!(
        card["occurrences"][0]["excerpt"],
        "paid with **** **** **** 1111 (refunded)"
    );

    let broken = find(&found, "broken", "photos/cut.jpg");
    assert!(
        broken["what"].as_str().unwrap().contains("does not open"),
        "{broken}"
    );
    let wrong = find(&found, "wrong_extension", "photos/really-png.jpg");
    assert!(wrong["what"].as_str().unwrap().contains("png"), "{wrong}");
    assert_eq!(
        of_kind(&found, "broken").len(),
        1,
        "only the cut JPEG is broken"
    );
    assert_eq!(
        of_kind(&found, "duplicates")
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>(),
        vec![vec!["notes/readme.txt", "notes/readme-copy.txt"]]
    );
    assert_eq!(
        of_kind(&found, "near_duplicates")
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>(),
        vec![vec!["photos/beach.png", "photos/beach-edit.png"]]
    );

    let stats = &found["statistics"];
    assert_eq!(stats["files"], 11);
    let media = stats["media"].as_array().unwrap();
    let image = media.iter().find(|m| m["kind"] == "image").unwrap();
    assert_eq!(image["files"], 6);
    // Every image that decodes is 96 × 64.
    assert_eq!(image["image"]["minWidth"], 96);
    assert_eq!(image["image"]["maxHeight"], 64);
    let audio = media.iter().find(|m| m["kind"] == "audio").unwrap();
    assert_eq!(audio["audio"]["sampleRates"], serde_json::json!([44100]));
    assert_eq!(audio["audio"]["channels"], serde_json::json!([2]));
    let ms = audio["audio"]["totalDurationMs"].as_u64().unwrap();
    assert!(
        (900..=1100).contains(&ms),
        "38 frames of 1152 samples at 44.1 kHz: {ms} ms"
    );
    let text_stats = media.iter().find(|m| m["kind"] == "text").unwrap();
    assert_eq!(text_stats["files"], 4);

    // The text output names the same, with the masked excerpts and how to decide.
    let printed = review(src.path(), &out.path().join("dataset"), &[]);
    let printed = text(&printed.stdout);
    assert!(
        printed.contains("line 1: Write to j***@***.org about the shoot"),
        "{printed}"
    );
    assert!(printed.contains("--accept ID | --exclude ID"), "{printed}");
    for whole in [EMAIL, PHONE, CARD, NOT_A_CARD] {
        assert!(
            !printed.contains(whole),
            "{whole} printed whole:\n{printed}"
        );
    }
}

#[test]
fn excluding_findings_changes_the_seal_and_decisions_follow_the_content() {
    let src = tempfile::tempdir().unwrap();
    review_folder::flagged_folder(src.path());
    let outer = tempfile::tempdir().unwrap();
    let out = outer.path().join("dataset");
    let found = review_json(src.path(), &out);
    seal(src.path(), &out);
    assert_eq!(sealed_paths(&out).len(), 11);

    // Publishing asks once more while high findings are open; the message names them.
    let data = tempfile::tempdir().unwrap();
    let publish = || {
        hallmark()
            .arg("publish")
            .arg(&out)
            .args(["--price", "0.01", "--currency", "EUR"])
            .env("HALLMARK_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    let refused = publish();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let why = text(&refused.stderr);
    assert!(why.contains("4 open high findings"), "{why}");
    assert!(
        why.contains("notes/contacts.txt") && why.contains("photos/home.jpg"),
        "{why}"
    );
    assert!(why.contains("--accept-findings"), "{why}");
    let anyway = hallmark()
        .arg("publish")
        .arg(&out)
        .args(["--price", "0.01", "--currency", "EUR", "--accept-findings"])
        .env("HALLMARK_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert!(
        !text(&anyway.stderr).contains("open high"),
        "{}",
        text(&anyway.stderr)
    );

    // Exclude the GPS photo, the text with personal data, and the extra copy; accept the artist.
    let gps = find(&found, "location", "photos/home.jpg")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut exclude: Vec<String> = of_kind(&found, "personal_data")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    exclude.push(gps);
    exclude.push(of_kind(&found, "duplicates")[0].0.clone());
    let artist = find(&found, "people_names", "audio/song.mp3")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut args = vec!["--accept", artist.as_str()];
    for id in &exclude {
        args.extend(["--exclude", id.as_str()]);
    }
    let decided = review(src.path(), &out, &args);
    assert!(decided.status.success(), "{}", text(&decided.stderr));
    assert!(
        text(&decided.stdout).contains("left out: notes/readme-copy.txt"),
        "{}",
        text(&decided.stdout)
    );

    let sealed = seal(src.path(), &out);
    let paths = sealed_paths(&out);
    for gone in [
        "photos/home.jpg",
        "notes/contacts.txt",
        "notes/readme-copy.txt",
    ] {
        assert!(
            !paths.contains(&gone.to_owned()),
            "{gone} still sealed: {paths:?}"
        );
    }
    assert!(
        paths.contains(&"notes/readme.txt".to_owned()),
        "the first copy stays"
    );
    assert!(
        paths.contains(&"audio/song.mp3".to_owned()),
        "accepted stays"
    );
    assert_eq!(paths.len(), 8);
    assert_eq!(sealed["report"]["files"], 8);
    // The creator's folder is untouched.
    assert!(src.path().join("photos/home.jpg").exists());

    // The manifest carries the statistics of what was sealed.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("croissant.json")).unwrap()).unwrap();
    assert_eq!(manifest["hallmark:statistics"]["files"], 8);
    assert_eq!(manifest["hallmark:statistics"]["reviewedFiles"], 8);

    // No high finding is open now: publishing goes on to its own checks.
    let after = publish();
    assert!(
        !text(&after.stderr).contains("open high"),
        "{}",
        text(&after.stderr)
    );

    // A review again: excluded files are not read, the accepted finding stays accepted...
    let again = review_json(src.path(), &out);
    assert!(of_kind(&again, "location").is_empty());
    assert!(of_kind(&again, "personal_data").is_empty());
    assert_eq!(
        find(&again, "people_names", "audio/song.mp3")["decision"],
        "accepted"
    );
    // ...until the file changes: then it is a new finding, open again.
    std::fs::write(
        src.path().join("audio/song.mp3"),
        review_folder::mp3_with_artist("John Roe"),
    )
    .unwrap();
    let changed = review_json(src.path(), &out);
    let song = find(&changed, "people_names", "audio/song.mp3");
    assert!(song.get("decision").is_none(), "{song}");
    assert_ne!(song["id"], artist.as_str());

    // An id the review does not list is bad input naming the fix.
    let unknown = review(src.path(), &out, &["--accept", "f-000000000000"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("use an id it lists"),
        "{}",
        text(&unknown.stderr)
    );
}
