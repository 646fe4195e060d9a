//! `hallmark publish` against a real marketplace: a version listed in the catalog, published again
//! without a shard byte, a source file edited after the seal, and a publish killed mid-upload whose
//! `--status` shows what is left and whose second run completes with every shard stored exactly.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::{CountingProxy, Market, Studio};
pub(crate) use hallmark_tests::market::{path, seal_and_sign};

/// Writes `files` files of `size` pseudo-random bytes (incompressible, distinct) into `dir`.
pub(crate) fn generate(dir: &Path, files: usize, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..files {
        let mut bytes = Vec::with_capacity(size);
        while bytes.len() < size {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            bytes.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        bytes.truncate(size);
        std::fs::write(dir.join(format!("take-{i:03}.bin")), bytes).unwrap();
    }
}

/// A studio that joined `market`, with a folder sealed (at `shard_size`) and signed: (src, out).
pub(crate) fn sealed_and_signed(
    studio: &Studio,
    market: &Market,
    files: usize,
    size: usize,
    shard_size: &str,
) -> (tempfile::TempDir, tempfile::TempDir) {
    let sealed = sealed_signed(studio, files, size, shard_size);
    studio
        .run(&["market", "join", &market.url, "--name", "Ana Lima"])
        .ok();
    sealed
}

/// A folder of `files` generated files of `size` bytes, sealed (at `shard_size`) and signed in
/// `studio`: (src, out).
pub(crate) fn sealed_signed(
    studio: &Studio,
    files: usize,
    size: usize,
    shard_size: &str,
) -> (tempfile::TempDir, tempfile::TempDir) {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    generate(src.path(), files, size);
    seal_and_sign(studio, src.path(), out.path(), shard_size);
    (src, out)
}

fn catalog(market: &Market) -> serde_json::Value {
    let answer = std::process::Command::new("curl")
        .args(["-sS", "-f", "--max-time", "30"])
        .arg(format!("{}/v1/catalog", market.url))
        .output()
        .unwrap();
    assert!(answer.status.success(), "{answer:?}");
    serde_json::from_slice(&answer.stdout).unwrap()
}

/// Every shard the manifest in `out` lists, stored by the marketplace in `market_data` with
/// exactly its size and SHA-256.
fn assert_stored_exactly(out: &Path, market_data: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("croissant.json")).unwrap()).unwrap();
    let mut shards = 0;
    for file in manifest["distribution"].as_array().unwrap() {
        let Some(name) = file["contentUrl"].as_str().filter(|n| n.ends_with(".tar")) else {
            continue;
        };
        let stored = std::fs::read(market_data.join("blobs/shards").join(name))
            .unwrap_or_else(|e| panic!("shard {name} is not stored: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&stored)),
            file["sha256"].as_str().unwrap(),
            "{name}"
        );
        shards += 1;
    }
    assert!(shards > 0, "the manifest lists no shard: {manifest}");
}

#[test]
fn a_published_version_is_listed_and_publishing_again_sends_nothing() {
    let studio = Studio::new("publish", "Ana");
    let server = tempfile::tempdir().unwrap();
    let market_data = server.path().join("market");
    let market = Market::start(&market_data, "127.0.0.1:0");
    let (_src, out) = sealed_and_signed(&studio, &market, 6, 300 << 10, "512KiB");
    let out_path = path(out.path());

    // Nothing to check before it is published.
    let early = studio.run(&["publish", "--check", &out_path]);
    assert_eq!(early.code(), Some(2), "{}", early.stderr());
    assert!(
        early.stderr().contains("publish it first"),
        "{}",
        early.stderr()
    );

    // The first publish needs a price; bad input says how to give one, and sends nothing.
    let no_price = studio.run(&["publish", &out_path]);
    assert_eq!(no_price.code(), Some(2), "{}", no_price.stderr());
    assert!(
        no_price.stderr().contains("--price AMOUNT --currency CODE"),
        "{}",
        no_price.stderr()
    );
    let bad_currency = studio.run(&[
        "publish",
        &out_path,
        "--price",
        "0.002",
        "--currency",
        "eur",
    ]);
    assert_eq!(bad_currency.code(), Some(2), "{}", bad_currency.stderr());

    let text = studio
        .run(&[
            "publish",
            &out_path,
            "--price",
            "0.002",
            "--currency",
            "EUR",
        ])
        .ok();
    for stage in ["check:", "upload:", "publish: published"] {
        assert!(text.contains(stage), "no {stage:?} in: {text}");
    }
    let page = catalog(&market);
    let versions = page["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{page}");
    let id = versions[0]["id"].as_str().unwrap();
    assert_eq!(versions[0]["name"], "takes");
    assert_eq!(versions[0]["price"], "0.002");
    assert_eq!(versions[0]["currency"], "EUR");
    assert_eq!(versions[0]["creator"]["did"], studio.did.as_str());
    assert!(
        text.contains(&format!("{}/v1/catalog/{id}", market.url)),
        "{text}"
    );
    assert_stored_exactly(out.path(), &market_data);

    // Again, with no price (the journal keeps the terms): already published, no shard byte sent.
    let again = studio.run(&["--json", "publish", &out_path]).json();
    assert_eq!(again["alreadyPublished"], true, "{again}");
    assert_eq!(again["versionId"], id);
    assert_eq!(again["bytesSent"], 0, "{again}");
    assert_eq!(again["uploadedShards"], serde_json::json!([]), "{again}");
    let text = studio.run(&["publish", &out_path]).ok();
    assert!(text.contains("already published"), "{text}");
    assert_eq!(catalog(&market)["versions"].as_array().unwrap().len(), 1);

    // Other terms for the same version: the marketplace's 409, in its words.
    let other = studio.run(&["publish", &out_path, "--price", "0.5", "--currency", "EUR"]);
    assert_eq!(other.code(), Some(3), "{}", other.stderr());
    assert!(other.stderr().contains("409"), "{}", other.stderr());
    assert!(
        other.stderr().contains("versions never change"),
        "{}",
        other.stderr()
    );

    let status = studio
        .run(&["--json", "publish", "--status", &out_path])
        .json();
    assert_eq!(status["published"], id, "{status}");

    // --check: the marketplace reads every shard back; then one rots in its storage, and the
    // check names it (exit 1).
    let checked = studio
        .run(&["--json", "publish", "--check", &out_path])
        .json();
    assert_eq!(checked["ok"], true, "{checked}");
    assert_eq!(checked["versionId"], id, "{checked}");
    let shards = checked["shards"].as_array().unwrap();
    assert!(shards.len() >= 2, "{checked}");
    for shard in shards {
        assert_eq!(shard["foundSha256"], shard["expectedSha256"], "{checked}");
    }
    let cid = shards[1]["cid"].as_str().unwrap();
    let stored = market_data.join("blobs/shards").join(format!("{cid}.tar"));
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&stored, &bytes).unwrap();
    let rotted = studio.run(&["publish", "--check", &out_path]);
    assert_eq!(rotted.code(), Some(1), "{}", rotted.stderr());
    assert!(
        rotted.stdout().contains(&format!("differs: shard {cid}")),
        "{}",
        rotted.stdout()
    );
    assert!(rotted.stdout().contains("1 of"), "{}", rotted.stdout());
}

#[test]
fn unsigned_unjoined_or_edited_datasets_are_refused_with_the_fix() {
    let studio = Studio::new("publish-refused", "Ana");
    let server = tempfile::tempdir().unwrap();
    let mut market = Market::start(&server.path().join("market"), "127.0.0.1:0");

    // Not joined yet.
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    generate(src.path(), 3, 100 << 10);
    let out_path = path(out.path());
    studio
        .run(&[
            "-q",
            "seal",
            &path(src.path()),
            "--out",
            &out_path,
            "--license",
            "CC-BY-4.0",
            "--creator",
            "Ana",
            "--allow",
            "all",
        ])
        .ok();
    let args = ["publish", &out_path, "--price", "1", "--currency", "USD"];
    let unjoined = studio.run(&args);
    assert_eq!(unjoined.code(), Some(2), "{}", unjoined.stderr());
    assert!(
        unjoined.stderr().contains("hallmark market join URL"),
        "{}",
        unjoined.stderr()
    );

    // Joined, but not signed.
    studio
        .run(&["market", "join", &market.url, "--name", "Ana"])
        .ok();
    let unsigned = studio.run(&args);
    assert_eq!(unsigned.code(), Some(2), "{}", unsigned.stderr());
    assert!(
        unsigned
            .stderr()
            .contains(&format!("sign it first: hallmark sign {out_path}")),
        "{}",
        unsigned.stderr()
    );

    // A file edited after the seal (same size): named, and a reseal asked for; nothing listed.
    studio.run(&["sign", &out_path]).ok();
    let edited = src.path().join("take-001.bin");
    let mut bytes = std::fs::read(&edited).unwrap();
    bytes[5000] ^= 0xff;
    std::fs::write(&edited, bytes).unwrap();
    let changed = studio.run(&args);
    assert_ne!(changed.code(), Some(0), "{}", changed.stdout());
    assert!(
        changed.stderr().contains("take-001.bin"),
        "{}",
        changed.stderr()
    );
    assert!(
        changed.stderr().contains("seal the folder again"),
        "{}",
        changed.stderr()
    );
    assert_eq!(catalog(&market)["versions"], serde_json::json!([]));

    // Another marketplace at the joined address (another key): refused before anything is sent.
    market.stop();
    let other = Market::start(&server.path().join("other"), &market.addr);
    let impostor = studio.run(&args);
    assert_eq!(impostor.code(), Some(3), "{}", impostor.stderr());
    assert!(
        impostor.stderr().contains("identity changed"),
        "{}",
        impostor.stderr()
    );
    assert_eq!(catalog(&other)["versions"], serde_json::json!([]));
}

#[test]
fn a_publish_killed_mid_upload_shows_its_state_and_completes_when_run_again() {
    let studio = Studio::new("publish-kill", "Ana");
    let server = tempfile::tempdir().unwrap();
    let market_data = server.path().join("market");
    // The studio reaches the marketplace through a relay that counts the bytes it receives.
    let mut relay = CountingProxy::bind();
    let market = Market::start_with(
        &market_data,
        "127.0.0.1:0",
        &["--public-url", relay.url.as_str()],
    );
    relay.forward_to(&market.addr);
    // 64 MiB in shards of about 16 MiB.
    let (_src, out) = sealed_signed(&studio, 16, 4 << 20, "16MiB");
    studio
        .run(&["market", "join", &relay.url, "--name", "Ana Lima"])
        .ok();
    let out_path = path(out.path());

    // Paced to 16 MiB/s, so the kill lands mid-upload.
    let mut child = studio
        .command(&[
            "publish",
            &out_path,
            "--price",
            "0.01",
            "--currency",
            "EUR",
            "--streams",
            "2",
            "--limit-rate",
            "16MiB",
        ])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let partial = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the publish finished before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "no progress");
        let status = studio.run(&["--json", "publish", "--status", &out_path]);
        if status.output.status.success() {
            let status = status.json();
            if status["done"].as_u64().unwrap() >= 1 {
                break status;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first_run = relay.received();
    assert!(
        partial["shards"].as_array().unwrap().len() >= 3,
        "{partial}"
    );

    let status = studio
        .run(&["--json", "publish", "--status", &out_path])
        .json();
    let shards = status["shards"].as_array().unwrap();
    assert_eq!(status["published"], serde_json::Value::Null, "{status}");
    assert!(status["done"].as_u64().unwrap() >= 1, "{status}");
    assert!(
        (status["done"].as_u64().unwrap() as usize) < shards.len(),
        "killed after every shard was sent: {status}"
    );
    assert!(status["bytesLeft"].as_u64().unwrap() > 0, "{status}");
    let text = studio.run(&["publish", "--status", &out_path]).ok();
    assert!(text.contains("published: not yet"), "{text}");
    assert!(
        text.contains(&format!("hallmark publish {out_path}")),
        "{text}"
    );
    assert_eq!(catalog(&market)["versions"], serde_json::json!([]));

    // Run again (no price: the journal kept it): only what is left is sent, and it is listed.
    let done = studio.run(&["--json", "publish", &out_path]).json();
    assert_eq!(done["alreadyPublished"], false, "{done}");
    let total: u64 = shards.iter().map(|s| s["size"].as_u64().unwrap()).sum();
    let finished: u64 = shards
        .iter()
        .filter(|s| s["state"] == "done")
        .map(|s| s["size"].as_u64().unwrap())
        .sum();
    let sent = done["bytesSent"].as_u64().unwrap();
    assert!(
        sent > 0 && sent <= total - finished,
        "sent {sent} of {total}, {finished} were done: {done}"
    );
    assert_eq!(catalog(&market)["versions"].as_array().unwrap().len(), 1);
    assert_stored_exactly(out.path(), &market_data);
    // Measured where the bytes arrive: both runs together sent the shards once, plus at most the
    // two shards in flight at the kill (two streams), plus requests, manifest and index.
    let received = relay.received();
    let overhead = 1 << 20;
    assert!(
        received <= total + 2 * (16 << 20) + overhead,
        "the marketplace received {received} bytes ({first_run} before the kill) for {total} bytes of shards"
    );
    assert!(
        received - first_run <= total - finished + overhead,
        "the second run sent {} bytes, with {finished} of {total} done before: {done}",
        received - first_run
    );
    let status = studio
        .run(&["--json", "publish", "--status", &out_path])
        .json();
    assert_eq!(status["published"], done["versionId"], "{status}");
}
