//! Shard uploads over tus 1.0.0: stored only with the right bytes, resumable across a kill -9 of
//! the real server (local files and S3 multipart), private to their creator, and usable by tuspy.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hallmark_core::did::SigningIdentity;
use hallmark_core::digest::Sha256Digest;
use hallmark_market::Limits;
use hallmark_market::uploads::metadata_value;
use rand_core::RngCore;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::harness::{Database, Market, Options};
use crate::servers;

const MIB: usize = 1 << 20;

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A random shard: its bytes and CID.
fn shard(len: usize) -> (Vec<u8>, String) {
    let bytes = random_bytes(len);
    let cid = Sha256Digest::of(&bytes).cid();
    (bytes, cid)
}

/// A tus client of one marketplace for one creator.
struct Tus {
    http: Client,
    base: String,
    token: String,
}

impl Tus {
    async fn of(market: &Market, name: &str) -> Tus {
        let (token, _) = market.join(&SigningIdentity::generate(), name).await;
        Tus {
            http: market.http.clone(),
            base: market.base.clone(),
            token,
        }
    }

    /// An authenticated tus `POST /v1/uploads`, to add headers to.
    fn post(&self) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/uploads", self.base))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
    }

    async fn create(&self, cid: &str, length: usize) -> Response {
        self.post()
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", format!("cid {}", metadata_value(cid)))
            .send()
            .await
            .unwrap()
    }

    /// Creates an upload and returns its URL.
    async fn start(&self, cid: &str, length: usize) -> String {
        let response = self.create(cid, length).await;
        assert_eq!(response.status(), 201, "{}", text(response).await);
        header(&response, "location")
    }

    async fn head(&self, url: &str) -> Response {
        self.http
            .head(url)
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }

    async fn offset(&self, url: &str) -> u64 {
        let response = self.head(url).await;
        assert_eq!(response.status(), 200);
        header(&response, "upload-offset").parse().unwrap()
    }

    fn patch_request(&self, url: &str, offset: u64) -> reqwest::RequestBuilder {
        self.http
            .patch(url)
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
    }

    async fn patch(&self, url: &str, offset: u64, body: &[u8]) -> Response {
        self.patch_request(url, offset)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn delete(&self, url: &str) -> Response {
        self.http
            .delete(url)
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }

    async fn missing(&self, cids: &[&str]) -> Response {
        self.http
            .post(format!("{}/v1/shards/missing", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "cids": cids }))
            .send()
            .await
            .unwrap()
    }

    async fn lacks(&self, cid: &str) -> bool {
        let response = self.missing(&[cid]).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["missing"] == json!([cid])
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {response:?}"))
        .to_str()
        .unwrap()
        .to_owned()
}

async fn text(response: Response) -> String {
    response.text().await.unwrap_or_default()
}

/// The status, error code and message of an error response.
async fn error(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The bytes stored under a shard's name, if any.
async fn stored(market: &Market, cid: &str) -> Option<Vec<u8>> {
    let blobs = &market.state.blobs;
    match blobs.store.get(&blobs.shard(cid)).await {
        Ok(object) => Some(object.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("reading shard {cid}: {e}"),
    }
}

/// Files of unfinished uploads in a data folder.
fn partial_files(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("uploads"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A marketplace on SQLite and local files with `limits`, and Ana, a creator joined there.
async fn ana_with(limits: Limits) -> (Market, Tus) {
    let market = Market::start_with(Options {
        limits,
        ..Options::default()
    })
    .await;
    let ana = Tus::of(&market, "Ana").await;
    (market, ana)
}

async fn a_shard_uploaded_in_chunks_is_stored_under_its_cid(database: Database) {
    let market = Market::start_with(Options {
        database,
        ..Options::default()
    })
    .await;
    let tus = Tus::of(&market, "Ana").await;

    let options = market
        .http
        .request(reqwest::Method::OPTIONS, market.url("/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 204);
    assert_eq!(header(&options, "tus-resumable"), "1.0.0");
    assert_eq!(header(&options, "tus-version"), "1.0.0");
    assert_eq!(header(&options, "tus-checksum-algorithm"), "sha256");
    assert_eq!(
        header(&options, "tus-max-size"),
        Limits::default().max_shard_bytes.to_string()
    );
    for extension in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    ] {
        assert!(
            header(&options, "tus-extension")
                .split(',')
                .any(|e| e == extension)
        );
    }

    let (bytes, cid) = shard(3 * MIB + 17);
    assert!(tus.lacks(&cid).await);
    let url = tus.start(&cid, bytes.len()).await;
    assert!(url.starts_with(&market.url("/v1/uploads/")), "{url}");

    let head = tus.head(&url).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), "0");
    assert_eq!(header(&head, "upload-length"), bytes.len().to_string());
    assert_eq!(header(&head, "cache-control"), "no-store");
    assert_eq!(header(&head, "tus-resumable"), "1.0.0");
    assert!(header(&head, "upload-expires").ends_with(" GMT"));
    assert_eq!(
        header(&head, "upload-metadata"),
        format!("cid {}", metadata_value(&cid))
    );

    // Without Tus-Resumable: 412 naming the version spoken.
    let old = market
        .http
        .head(&url)
        .bearer_auth(&tus.token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 412);
    assert_eq!(header(&old, "tus-version"), "1.0.0");
    let other = market
        .http
        .patch(&url)
        .bearer_auth(&tus.token)
        .header("Tus-Resumable", "0.2.2")
        .send()
        .await
        .unwrap();
    let (status, code, message) = error(other).await;
    assert_eq!((status, code.as_str()), (412, "tus_version"));
    assert!(message.contains("Tus-Resumable: 0.2.2"), "{message}");

    // A PATCH must be offset+octet-stream.
    let wrong_type = market
        .http
        .patch(&url)
        .bearer_auth(&tus.token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 415);

    let first = tus.patch(&url, 0, &bytes[..MIB]).await;
    assert_eq!(first.status(), 204, "{}", text(first).await);
    assert_eq!(header(&first, "upload-offset"), MIB.to_string());
    assert_eq!(tus.offset(&url).await, MIB as u64);

    // A wrong offset is refused with the right one named; nothing changes.
    let (status, code, message) = error(tus.patch(&url, 0, &bytes[..10]).await).await;
    assert_eq!((status, code.as_str()), (409, "wrong_offset"));
    assert!(
        message.contains(&format!("send the bytes from offset {MIB}")),
        "{message}"
    );
    assert_eq!(tus.offset(&url).await, MIB as u64);

    // Nothing is visible under the shard's name before the last byte.
    assert_eq!(stored(&market, &cid).await, None);
    assert!(tus.lacks(&cid).await);

    let last = tus.patch(&url, MIB as u64, &bytes[MIB..]).await;
    assert_eq!(last.status(), 204, "{}", text(last).await);
    assert_eq!(header(&last, "upload-offset"), bytes.len().to_string());
    assert_eq!(stored(&market, &cid).await.as_deref(), Some(&bytes[..]));
    assert!(!tus.lacks(&cid).await);
    let head = tus.head(&url).await;
    assert_eq!(header(&head, "upload-offset"), bytes.len().to_string());
    let row: (String, i64) = sqlx::query_as("SELECT sha256, size FROM shards WHERE cid = $1")
        .bind(&cid)
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap();
    assert_eq!(row, (Sha256Digest::of(&bytes).hex(), bytes.len() as i64));
    assert!(partial_files(market.data.path()).is_empty());

    // Creation with upload: the whole shard in the POST.
    let (small, small_cid) = shard(1000);
    let response = tus
        .post()
        .header("Upload-Length", "1000")
        .header(
            "Upload-Metadata",
            format!("cid {}", metadata_value(&small_cid)),
        )
        .header("Content-Type", "application/offset+octet-stream")
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "upload-offset"), "1000");
    assert_eq!(stored(&market, &small_cid).await, Some(small));
}

#[tokio::test]
async fn a_shard_uploaded_in_chunks_is_stored_under_its_cid_on_sqlite() {
    a_shard_uploaded_in_chunks_is_stored_under_its_cid(Database::Sqlite).await;
}

#[tokio::test]
async fn a_shard_uploaded_in_chunks_is_stored_under_its_cid_on_postgresql() {
    a_shard_uploaded_in_chunks_is_stored_under_its_cid(Database::Postgres).await;
}

#[tokio::test]
async fn bytes_that_do_not_match_the_cid_are_refused_and_deleted() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let (bytes, cid) = shard(2 * MIB);
    let url = tus.start(&cid, bytes.len()).await;
    let mut forged = bytes.clone();
    forged[MIB] ^= 1;
    let (status, code, message) = error(tus.patch(&url, 0, &forged).await).await;
    assert_eq!((status, code.as_str()), (400, "digest_mismatch"));
    assert!(
        message.contains(&Sha256Digest::of(&bytes).hex()),
        "{message}"
    );
    assert!(
        message.contains(&Sha256Digest::of(&forged).hex()),
        "{message}"
    );
    assert!(message.contains("deleted"), "{message}");
    assert_eq!(tus.head(&url).await.status(), 404);
    assert_eq!(stored(&market, &cid).await, None);
    assert_eq!(
        stored(&market, &Sha256Digest::of(&forged).cid()).await,
        None
    );
    assert!(partial_files(market.data.path()).is_empty());
    assert!(tus.lacks(&cid).await);
}

#[tokio::test]
async fn a_chunk_that_does_not_match_its_checksum_is_dropped() {
    use base64::Engine;
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let (bytes, cid) = shard(MIB);
    let url = tus.start(&cid, bytes.len()).await;
    let checksum = |chunk: &[u8]| {
        format!(
            "sha256 {}",
            base64::engine::general_purpose::STANDARD.encode(Sha256Digest::of(chunk).0)
        )
    };
    let half = bytes.len() / 2;
    let ok = tus
        .patch_request(&url, 0)
        .header("Upload-Checksum", checksum(&bytes[..half]))
        .body(bytes[..half].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    let bad = tus
        .patch_request(&url, half as u64)
        .header("Upload-Checksum", checksum(b"something else"))
        .body(bytes[half..].to_vec())
        .send()
        .await
        .unwrap();
    let (status, code, message) = error(bad).await;
    assert_eq!((status, code.as_str()), (460, "checksum_mismatch"));
    assert!(message.contains(&format!("still {half}")), "{message}");
    assert_eq!(tus.offset(&url).await, half as u64);
    assert_eq!(stored(&market, &cid).await, None);
    let sha1 = tus
        .patch_request(&url, half as u64)
        .header("Upload-Checksum", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
        .body(bytes[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(error(sha1).await.1, "checksum_algorithm");
    let good = tus
        .patch_request(&url, half as u64)
        .header("Upload-Checksum", checksum(&bytes[half..]))
        .body(bytes[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 204);
    assert_eq!(stored(&market, &cid).await, Some(bytes));
}

#[tokio::test]
async fn sizes_counts_and_names_are_checked_at_creation() {
    let (market, tus) = ana_with(Limits {
        max_shard_bytes: 10 * MIB as u64,
        max_open_uploads: 2,
        max_pending_bytes: 15 * MIB as u64,
        ..Limits::default()
    })
    .await;

    let (status, code, message) = error(tus.create(&shard(1).1, 10 * MIB + 1).await).await;
    assert_eq!((status, code.as_str()), (413, "shard_too_large"));
    assert!(message.contains(&(10 * MIB).to_string()), "{message}");

    let (_, cid) = shard(1);
    let no_cid = tus
        .post()
        .header("Upload-Length", "1")
        .header(
            "Upload-Metadata",
            format!("filename {}", metadata_value("a.tar")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error(no_cid).await.1, "no_cid");
    let (status, code, message) = error(tus.create(&cid.to_uppercase(), 1).await).await;
    assert_eq!((status, code.as_str()), (400, "bad_cid"));
    assert!(message.contains("Upload-Metadata's cid"), "{message}");
    let deferred = tus
        .post()
        .header("Upload-Defer-Length", "1")
        .header("Upload-Metadata", format!("cid {}", metadata_value(&cid)))
        .send()
        .await
        .unwrap();
    assert_eq!(error(deferred).await.1, "defer_length");
    let unsigned = market
        .http
        .post(market.url("/v1/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    // Pending bytes, then open uploads, are limited per creator.
    let first = tus.start(&shard(1).1, 8 * MIB).await;
    let (status, code, message) = error(tus.create(&shard(1).1, 8 * MIB).await).await;
    assert_eq!((status, code.as_str()), (429, "too_many_pending_bytes"));
    assert!(message.contains(&(15 * MIB).to_string()), "{message}");
    tus.start(&shard(1).1, MIB).await;
    let (status, code, message) = error(tus.create(&shard(1).1, 10).await).await;
    assert_eq!((status, code.as_str()), (429, "too_many_uploads"));
    assert!(message.contains("(2)"), "{message}");
    // Another creator has limits of their own; terminating an upload frees a place.
    let other = Tus::of(&market, "Ben").await;
    other.start(&shard(1).1, MIB).await;
    assert_eq!(tus.delete(&first).await.status(), 204);
    assert_eq!(tus.head(&first).await.status(), 404);
    tus.start(&shard(1).1, MIB).await;
}

#[tokio::test]
async fn another_creators_upload_does_not_exist_for_you() {
    let market = Market::start().await;
    let ana = Tus::of(&market, "Ana").await;
    let ben = Tus::of(&market, "Ben").await;
    let (bytes, cid) = shard(1000);
    let url = ana.start(&cid, bytes.len()).await;
    assert_eq!(ana.patch(&url, 0, &bytes[..10]).await.status(), 204);

    let (status, code, message) = error(ben.patch(&url, 10, &bytes[10..]).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert!(message.ends_with("does not exist"), "{message}");
    assert_eq!(ben.head(&url).await.status(), 404);
    assert_eq!(ben.delete(&url).await.status(), 404);
    let unknown = format!("{}/v1/uploads/{}", market.base, "0".repeat(32));
    assert_eq!(ben.head(&unknown).await.status(), 404);
    assert_eq!(ana.offset(&url).await, 10);

    // Ben's own upload of the same shard is his, not Ana's.
    let his = ben.start(&cid, bytes.len()).await;
    assert_ne!(his, url);
    // Ana asking again for the same shard resumes her upload.
    assert_eq!(ana.start(&cid, bytes.len()).await, url);
}

#[tokio::test]
async fn two_creators_uploading_the_same_shard_at_once_both_finish() {
    let market = Market::start().await;
    let ana = Tus::of(&market, "Ana").await;
    let ben = Tus::of(&market, "Ben").await;
    let (bytes, cid) = shard(20 * MIB + 5);
    let ana_url = ana.start(&cid, bytes.len()).await;
    let ben_url = ben.start(&cid, bytes.len()).await;
    let (a, b) = tokio::join!(
        ana.patch(&ana_url, 0, &bytes),
        ben.patch(&ben_url, 0, &bytes)
    );
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::NO_CONTENT, StatusCode::NO_CONTENT)
    );
    assert_eq!(stored(&market, &cid).await.as_deref(), Some(&bytes[..]));
    let creators: Vec<String> = sqlx::query_scalar("SELECT first_creator FROM shards")
        .fetch_all(&market.state.db.pool)
        .await
        .unwrap();
    assert_eq!(creators.len(), 1);
    assert!(partial_files(market.data.path()).is_empty());
}

/// A PATCH whose body the test writes as it likes: the writer, and the request in flight.
fn streaming_patch(
    tus: &Tus,
    url: &str,
    offset: u64,
) -> (
    tokio::io::DuplexStream,
    tokio::task::JoinHandle<Result<Response, reqwest::Error>>,
) {
    let (writer, reader) = tokio::io::duplex(64 << 10);
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(reader));
    let request = tus.patch_request(url, offset).body(body).send();
    (writer, tokio::spawn(request))
}

#[tokio::test]
async fn a_client_that_goes_away_keeps_what_arrived_and_resumes() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let (bytes, cid) = shard(9 * MIB);
    let url = tus.start(&cid, bytes.len()).await;
    let sent = 5 * MIB + 123;
    let (mut writer, request) = streaming_patch(&tus, &url, 0);
    writer.write_all(&bytes[..sent]).await.unwrap();
    writer.flush().await.unwrap();

    // A second writer to the same upload is turned away while the first one runs.
    let (status, code, _) = error(tus.patch(&url, 0, &bytes[..1]).await).await;
    assert_eq!((status, code.as_str()), (423, "upload_busy"));

    tokio::time::sleep(Duration::from_millis(500)).await;
    request.abort();
    drop(writer);
    // What arrived before the connection broke is kept, to the byte.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tus.offset(&url).await != sent as u64 {
        assert!(
            Instant::now() < deadline,
            "offset {} after a broken request that sent {sent}",
            tus.offset(&url).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored(&market, &cid).await, None);
    let rest = tus.patch(&url, sent as u64, &bytes[sent..]).await;
    assert_eq!(rest.status(), 204, "{}", text(rest).await);
    assert_eq!(stored(&market, &cid).await, Some(bytes));
}

#[tokio::test]
async fn an_expired_upload_is_gone_with_its_partial_file() {
    let (market, tus) = ana_with(Limits {
        upload_ttl_seconds: 60,
        ..Limits::default()
    })
    .await;
    let (bytes, cid) = shard(1000);
    let url = tus.start(&cid, bytes.len()).await;
    assert_eq!(tus.patch(&url, 0, &bytes[..500]).await.status(), 204);
    let (other, other_cid) = shard(1000);
    let other_url = tus.start(&other_cid, other.len()).await;
    assert_eq!(tus.patch(&other_url, 0, &other[..500]).await.status(), 204);
    assert_eq!(partial_files(market.data.path()).len(), 2);
    market.clock.advance(61);

    let (status, code, message) = error(tus.patch(&url, 500, &bytes[500..]).await).await;
    assert_eq!((status, code.as_str()), (410, "upload_expired"));
    assert!(message.contains("create a new upload"), "{message}");
    assert_eq!(tus.head(&url).await.status(), 404);
    assert_eq!(partial_files(market.data.path()).len(), 1);
    // Creating an upload sweeps the other expired ones away, partial files included.
    tus.start(&shard(10).1, 10).await;
    assert_eq!(tus.head(&other_url).await.status(), 404);
    assert!(partial_files(market.data.path()).is_empty());
}

#[tokio::test]
async fn tuspy_uploads_a_shard_with_sha256_checksums() {
    let python = std::env::var_os("HALLMARK_PYTHON").map_or_else(
        || PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/hallmark/venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup, which installs tuspy (tests/requirements.txt) in a venv",
        python.display()
    );
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let (bytes, cid) = shard(3 * MIB + 5);
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join(format!("{cid}.tar"));
    std::fs::write(&file, &bytes).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http/tuspy_upload.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(market.url("/v1/uploads"))
        .arg(&tus.token)
        .arg(&file)
        .arg(&cid)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "tuspy failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(url.starts_with(&market.url("/v1/uploads/")), "{url}");
    assert_eq!(tus.offset(&url).await, bytes.len() as u64);
    assert_eq!(stored(&market, &cid).await, Some(bytes));
}

#[tokio::test]
async fn missing_shards_are_listed_and_bad_cids_named() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let (bytes, stored_cid) = shard(100);
    let url = tus.start(&stored_cid, bytes.len()).await;
    assert_eq!(tus.patch(&url, 0, &bytes).await.status(), 204);
    let (_, absent) = shard(100);
    let response = tus.missing(&[&absent, &stored_cid, &absent]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "missing": [absent] }));

    let (status, code, message) = error(tus.missing(&[&absent, "bafy-nope"]).await).await;
    assert_eq!((status, code.as_str()), (400, "bad_cid"));
    assert!(message.contains("#1 \"bafy-nope\""), "{message}");
    let too_many = vec![absent.as_str(); hallmark_market::uploads::MAX_MISSING_QUERY + 1];
    let (status, code, _) = error(tus.missing(&too_many).await).await;
    assert_eq!((status, code.as_str()), (400, "too_many_cids"));
    let unsigned = market
        .http
        .post(market.url("/v1/shards/missing"))
        .json(&json!({ "cids": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
}

/// The real `hallmark-market` binary serving a data folder, with its output in a file.
struct Binary {
    child: Child,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    fn serve(data: &Path, port: u16, store: Option<&(String, Vec<(String, String)>)>) -> Binary {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_hallmark-market"));
        command
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some((url, settings)) = store {
            command
                .arg("--store")
                .arg(url)
                .envs(settings.iter().cloned());
        }
        let child = command.spawn().unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not start; its log:\n{}",
                std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Binary { child }
    }
}

/// A new creator, joined at the server at `base`: the token.
async fn join_over_http(http: &Client, base: &str) -> String {
    let now = hallmark_market::clock::rfc3339(time::OffsetDateTime::now_utc());
    crate::harness::join_at(http, base, &SigningIdentity::generate(), "Kim", &now)
        .await
        .0
}

/// Starts a real server, streams part of a shard, kills the server with SIGKILL mid-PATCH,
/// restarts it on the same folder and port, resumes from HEAD's offset and checks the stored bytes.
/// Returns the shard's CID.
async fn resume_after_kill_9(
    store: Option<(String, Vec<(String, String)>)>,
    stored_object: impl Fn(&Path, &str) -> Option<Vec<u8>>,
) -> String {
    let folder = tempfile::tempdir().unwrap();
    let data = folder.path().join("market");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = Client::new();
    let mut server = Binary::serve(&data, port, store.as_ref());
    let tus = Tus {
        token: join_over_http(&http, &base).await,
        http,
        base,
    };
    let (bytes, cid) = shard(48 * MIB + 1234);
    let url = tus.start(&cid, bytes.len()).await;

    let (mut writer, request) = streaming_patch(&tus, &url, 0);
    let sent = 40 * MIB;
    if let Err(e) = writer.write_all(&bytes[..sent]).await {
        panic!(
            "the PATCH stopped early ({e}): {:?}; the server's log:\n{}",
            request.await,
            std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
        );
    }
    // Wait for a checkpoint (every 16 MiB), then kill the server in the middle of the PATCH.
    let deadline = Instant::now() + Duration::from_secs(60);
    while tus.offset(&url).await < 16 * MIB as u64 {
        assert!(Instant::now() < deadline, "no checkpoint after 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(writer);
    assert!(
        request.await.unwrap().is_err(),
        "the PATCH survived a kill -9"
    );
    drop(server);

    let _server = Binary::serve(&data, port, store.as_ref());
    let offset = tus.offset(&url).await;
    assert!(
        offset >= 16 * MIB as u64 && offset <= sent as u64,
        "offset {offset} after a kill -9 with {sent} bytes sent"
    );
    // Nothing is under the shard's name yet, and the marketplace says it lacks the shard.
    assert_eq!(stored_object(&data, &cid), None);
    assert!(tus.lacks(&cid).await);
    // With an S3 store the bytes so far are multipart parts the database keeps; with files, none.
    let db = hallmark_market::db::Db::connect(&hallmark_market::db::default_url(&data).unwrap())
        .await
        .unwrap();
    let (parts, multipart): (i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM upload_parts), (SELECT multipart_id FROM uploads)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    if store.is_some() {
        assert_eq!(parts as u64, offset / (16 * MIB as u64));
        assert!(
            parts >= 1 && multipart.is_some(),
            "{parts} parts, {multipart:?}"
        );
    } else {
        assert_eq!((parts, multipart), (0, None));
    }

    let rest = tus.patch(&url, offset, &bytes[offset as usize..]).await;
    assert_eq!(rest.status(), 204, "{}", text(rest).await);
    assert_eq!(header(&rest, "upload-offset"), bytes.len().to_string());
    assert_eq!(stored_object(&data, &cid).as_deref(), Some(&bytes[..]));
    assert!(!tus.lacks(&cid).await);
    assert!(partial_files(&data).is_empty());
    cid
}

#[tokio::test]
async fn an_upload_resumes_with_the_exact_bytes_after_kill_9() {
    resume_after_kill_9(None, |data, cid| {
        std::fs::read(data.join(format!("blobs/shards/{cid}.tar"))).ok()
    })
    .await;
}

#[tokio::test]
async fn an_s3_upload_resumes_as_multipart_after_kill_9() {
    let (url, settings) = servers::s3_bucket();
    let bucket = url
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let objects = servers::s3_root().join(bucket).join("shards/shards");
    let listed = objects.clone();
    let cid = resume_after_kill_9(Some((url, settings)), move |_, cid| {
        std::fs::read(objects.join(format!("{cid}.tar"))).ok()
    })
    .await;
    // Only the shard is there: no partial object was ever written under another name.
    let names: Vec<String> = std::fs::read_dir(&listed)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("{cid}.tar")]);
}

#[tokio::test]
async fn only_a_registered_creator_uploads() {
    let market = Market::start().await;
    let token = market.sign_in(&SigningIdentity::generate()).await;
    let response = market
        .http
        .post(market.url("/v1/uploads"))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "3")
        .send()
        .await
        .unwrap();
    let (status, code, message) = error(response).await;
    assert_eq!((status, code.as_str()), (403, "not_registered"));
    assert!(message.contains("PUT /v1/creators/me"), "{message}");
}

/// Sends `request` and checks that it is refused for repeating the header `name`.
async fn refused_as_repeated(request: reqwest::RequestBuilder, name: &str) {
    let (status, code, message) = error(request.send().await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "repeated_header"),
        "{message}"
    );
    assert!(message.contains(name), "{message}");
}

#[tokio::test]
async fn a_repeated_tus_header_is_refused_naming_it() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let (bytes, cid) = shard(5);
    let metadata = format!("cid {}", metadata_value(&cid));
    let post = || tus.post().header("Upload-Metadata", &metadata);
    refused_as_repeated(
        post()
            .header("Upload-Length", "5")
            .header("Upload-Length", "7"),
        "upload-length",
    )
    .await;
    refused_as_repeated(
        post()
            .header("Upload-Length", "5")
            .header("Upload-Metadata", &metadata),
        "upload-metadata",
    )
    .await;

    let url = tus.start(&cid, bytes.len()).await;
    let patch = || tus.patch_request(&url, 0).body(bytes.clone());
    refused_as_repeated(patch().header("Upload-Offset", "0"), "upload-offset").await;
    let checksum = format!(
        "sha256 {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            Sha256Digest::of(&bytes).0
        )
    );
    refused_as_repeated(
        patch()
            .header("Upload-Checksum", &checksum)
            .header("Upload-Checksum", &checksum),
        "upload-checksum",
    )
    .await;
    assert_eq!(tus.offset(&url).await, 0);
}

#[tokio::test]
async fn concurrent_creations_never_pass_the_open_upload_limit() {
    let (market, tus) = ana_with(Limits {
        max_open_uploads: 3,
        ..Limits::default()
    })
    .await;
    let tus = std::sync::Arc::new(tus);
    let mut creations = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let tus = tus.clone();
        creations.spawn(async move { tus.create(&shard(32).1, 32).await.status() });
    }
    let mut created = 0;
    while let Some(status) = creations.join_next().await {
        let status = status.unwrap();
        assert!(status == 201 || status == 429, "{status}");
        created += usize::from(status == 201);
    }
    assert_eq!(created, 3);
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE completed_at IS NULL")
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap();
    assert_eq!(open, 3);
}

/// The creators recorded as holding a shard's bytes.
async fn holders(market: &Market, cid: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM shard_holders WHERE cid = $1")
        .bind(cid)
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap()
}

/// The stored shard file's inode and modification time, to see that it was not written again.
fn shard_file_identity(market: &Market, cid: &str) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let path = market
        .data
        .path()
        .join("blobs")
        .join("shards")
        .join(format!("{cid}.tar"));
    let metadata = std::fs::metadata(&path).unwrap();
    (metadata.ino(), metadata.modified().unwrap())
}

#[tokio::test]
async fn a_stored_shard_completes_at_once_only_for_a_creator_who_sent_its_bytes() {
    let market = Market::start().await;
    let ana = Tus::of(&market, "Ana").await;
    let ben = Tus::of(&market, "Ben").await;
    let (bytes, cid) = shard(3 * MIB + 7);
    let url = ana.start(&cid, bytes.len()).await;
    assert_eq!(ana.patch(&url, 0, &bytes).await.status(), 204);
    assert_eq!(holders(&market, &cid).await, 1);
    let before = shard_file_identity(&market, &cid);

    // Ana sent its bytes: asking again completes at once.
    let response = ana.create(&cid, bytes.len()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "upload-offset"), bytes.len().to_string());
    let again = header(&response, "location");
    assert_eq!(ana.offset(&again).await, bytes.len() as u64);
    let wrong_size = ana.create(&cid, bytes.len() + 1).await;
    assert_eq!(error(wrong_size).await.1, "wrong_length");
    // To Ben, who does not hold it, a stored CID looks like an unknown one: no size is given away.
    let probe = ben.create(&cid, 1).await;
    assert_eq!(probe.status(), 201);
    assert_eq!(header(&probe, "upload-offset"), "0");
    let probe_url = header(&probe, "location");
    assert_eq!(ben.delete(&probe_url).await.status(), 204);

    // Stored, but not by Ben: for him it is missing, and his upload starts at 0.
    assert!(!ana.lacks(&cid).await);
    assert!(ben.lacks(&cid).await);
    let response = ben.create(&cid, bytes.len()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "upload-offset"), "0");
    let ben_url = header(&response, "location");
    assert_eq!(ben.offset(&ben_url).await, 0);
    // Wrong bytes prove nothing.
    let mut wrong = bytes.clone();
    wrong[0] ^= 1;
    let (status, code, _) = error(ben.patch(&ben_url, 0, &wrong).await).await;
    assert_eq!((status, code.as_str()), (400, "digest_mismatch"));
    assert!(ben.lacks(&cid).await);

    // Sending every byte makes him a holder; the stored shard is not written again.
    let ben_url = ben.start(&cid, bytes.len()).await;
    let half = bytes.len() / 2;
    assert_eq!(ben.patch(&ben_url, 0, &bytes[..half]).await.status(), 204);
    let done = ben.patch(&ben_url, half as u64, &bytes[half..]).await;
    assert_eq!(done.status(), 204, "{}", text(done).await);
    assert_eq!(ben.offset(&ben_url).await, bytes.len() as u64);
    assert!(!ben.lacks(&cid).await);
    assert_eq!(holders(&market, &cid).await, 2);
    assert_eq!(shard_file_identity(&market, &cid), before);
    assert!(stored(&market, &cid).await == Some(bytes.clone()));
    assert!(partial_files(market.data.path()).is_empty());
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shards")
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // Now it completes at once for him too.
    let again = ben.create(&cid, bytes.len()).await;
    assert_eq!(header(&again, "upload-offset"), bytes.len().to_string());
}

#[tokio::test]
async fn a_patch_past_the_length_after_the_whole_shard_still_stores_it() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    // A multiple of the checkpoint size, sent in one request, then one byte too many.
    let (bytes, cid) = shard(16 * MIB);
    let url = tus.start(&cid, bytes.len()).await;
    let (mut writer, request) = streaming_patch(&tus, &url, 0);
    writer.write_all(&bytes).await.unwrap();
    writer.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    writer.write_all(b"x").await.unwrap();
    drop(writer);
    let response = request.await.unwrap().unwrap();
    let (status, code, message) = error(response).await;
    assert_eq!((status, code.as_str()), (400, "body_too_long"), "{message}");
    // Never "done" without the shard: HEAD says the whole length only once it is stored.
    let offset = tus.offset(&url).await;
    assert_eq!(offset, bytes.len() as u64);
    assert!(stored(&market, &cid).await == Some(bytes.clone()));
    assert!(!tus.lacks(&cid).await);

    // A body whose Content-Length goes past Upload-Length is refused before a byte is written.
    let (bytes, cid) = shard(1000);
    let url = tus.start(&cid, bytes.len()).await;
    let mut longer = bytes.clone();
    longer.push(0);
    let (status, code, _) = error(tus.patch(&url, 0, &longer).await).await;
    assert_eq!((status, code.as_str()), (400, "body_too_long"));
    assert_eq!(tus.offset(&url).await, 0);
    // Without waiting for a body that has not come yet.
    let (_writer, reader) = tokio::io::duplex(64);
    let stalled = tus
        .patch_request(&url, 0)
        .header("Content-Length", "99999999999")
        .body(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::new(reader),
        ))
        .send();
    let response = tokio::time::timeout(Duration::from_secs(10), stalled)
        .await
        .expect("an overlong Content-Length is refused at once")
        .unwrap();
    assert_eq!(error(response).await.1, "body_too_long");
    assert_eq!(stored(&market, &cid).await, None);
    let whole = tus.patch(&url, 0, &bytes).await;
    assert_eq!(whole.status(), 204);
    assert!(stored(&market, &cid).await == Some(bytes));
}

/// Puts upload `url` in the state a crash between the last checkpoint and the commit leaves:
/// every byte in the partial file, the offset at the length, not stored.
async fn leave_at_full_length(market: &Market, url: &str, bytes: &[u8]) {
    use sha2::Digest;
    use sha2::digest::common::hazmat::SerializableState;
    let id = url.rsplit('/').next().unwrap();
    std::fs::write(
        market
            .data
            .path()
            .join("uploads")
            .join(format!("{id}.partial")),
        bytes,
    )
    .unwrap();
    let mut hasher = sha2::Sha256::new();
    hasher.update(bytes);
    sqlx::query("UPDATE uploads SET upload_offset = length, hash_state = $1 WHERE id = $2")
        .bind(hex::encode(hasher.serialize()))
        .bind(id)
        .execute(&market.state.db.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_upload_left_at_its_full_length_is_finished_by_head_or_post() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    for by_head in [true, false] {
        let (bytes, cid) = shard(MIB + 3);
        let url = tus.start(&cid, bytes.len()).await;
        assert_eq!(tus.patch(&url, 0, &bytes[..MIB]).await.status(), 204);
        leave_at_full_length(&market, &url, &bytes).await;
        assert_eq!(stored(&market, &cid).await, None);
        if by_head {
            assert_eq!(tus.offset(&url).await, bytes.len() as u64);
        } else {
            let response = tus.create(&cid, bytes.len()).await;
            assert_eq!(response.status(), 201);
            assert_eq!(header(&response, "location"), url);
            assert_eq!(header(&response, "upload-offset"), bytes.len().to_string());
        }
        assert!(stored(&market, &cid).await == Some(bytes));
        assert!(!tus.lacks(&cid).await);
    }
    assert!(partial_files(market.data.path()).is_empty());

    // Bytes that do not match the CID are not stored that way either.
    let (mut bytes, cid) = shard(1000);
    let url = tus.start(&cid, bytes.len()).await;
    assert_eq!(tus.patch(&url, 0, &bytes[..10]).await.status(), 204);
    bytes[0] ^= 1;
    leave_at_full_length(&market, &url, &bytes).await;
    // (A HEAD answer has no body for the error's code.)
    assert_eq!(tus.head(&url).await.status(), 400);
    assert_eq!(stored(&market, &cid).await, None);
    assert_eq!(tus.head(&url).await.status(), 404);
}

/// The bytes free to an unprivileged writer on the volume holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let stats = rustix::fs::statvfs(path).unwrap();
    stats.f_bavail * stats.f_frsize
}

#[tokio::test]
async fn an_upload_larger_than_the_free_disk_space_is_refused_at_creation() {
    let (market, tus) = ana_with(Limits {
        max_shard_bytes: i64::MAX as u64,
        max_pending_bytes: i64::MAX as u64,
        ..Limits::default()
    })
    .await;
    let free = free_bytes(market.data.path());
    let (status, code, message) = error(tus.create(&shard(1).1, free as usize).await).await;
    assert_eq!((status, code.as_str()), (507, "storage_full"), "{message}");
    assert!(message.contains("disk"), "{message}");
    tus.start(&shard(1).1, MIB).await;
}

/// A small tmpfs mounted on a folder for one test, unmounted however the test ends.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` when this process may not mount (not root, or no CAP_SYS_ADMIN).
    fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| SmallDisk(path.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_answers_507_and_keeps_the_upload_to_its_last_checkpoint() {
    let market = Market::start().await;
    let tus = Tus::of(&market, "Ana").await;
    let Some(_disk) = SmallDisk::mount(&market.data.path().join("uploads"), "8m") else {
        eprintln!("skipped: this process cannot mount a tmpfs");
        return;
    };
    let (first, first_cid) = shard(5 * MIB);
    let (second, second_cid) = shard(5 * MIB);
    let second_url = tus.start(&second_cid, second.len()).await;
    // What unfinished uploads still have to write counts: a second 5 MiB does not fit in 8 MiB.
    let (status, code, message) = error(tus.create(&first_cid, first.len()).await).await;
    assert_eq!((status, code.as_str()), (507, "storage_full"), "{message}");
    assert!(
        message.contains("promised to unfinished uploads"),
        "{message}"
    );
    // Something else fills the disk after the upload was accepted.
    let uploads = market.data.path().join("uploads");
    let filler = uploads.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 6 * MIB]);
    let (status, code, message) = error(tus.patch(&second_url, 0, &second).await).await;
    assert_eq!((status, code.as_str()), (507, "storage_full"), "{message}");
    assert!(message.contains("disk is full"), "{message}");
    assert!(message.contains("offset 0"), "{message}");
    assert_eq!(tus.offset(&second_url).await, 0);
    // The failed chunk's space is given back.
    let id = second_url.rsplit('/').next().unwrap();
    let partial = uploads.join(format!("{id}.partial"));
    assert_eq!(std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0), 0);
    // Room made, the upload resumes.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(tus.patch(&second_url, 0, &second).await.status(), 204);
    assert!(stored(&market, &second_cid).await == Some(second));
}

#[tokio::test]
async fn a_stalled_patch_body_ends_with_408_keeping_what_arrived() {
    let (market, tus) = ana_with(Limits {
        body_idle_seconds: 1,
        ..Limits::default()
    })
    .await;
    let (bytes, cid) = shard(2 * MIB);
    let url = tus.start(&cid, bytes.len()).await;
    let (mut writer, request) = streaming_patch(&tus, &url, 0);
    writer.write_all(&bytes[..MIB]).await.unwrap();
    writer.flush().await.unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), request)
        .await
        .expect("a stalled body must not keep the request open")
        .unwrap()
        .unwrap();
    let (status, code, _) = error(response).await;
    assert_eq!((status, code.as_str()), (408, "body_timeout"));
    drop(writer);
    assert_eq!(tus.offset(&url).await, MIB as u64);
    let rest = tus.patch(&url, MIB as u64, &bytes[MIB..]).await;
    assert_eq!(rest.status(), 204);
    assert!(stored(&market, &cid).await == Some(bytes));
}

#[tokio::test]
async fn a_creator_reads_back_the_size_and_hash_of_shards_they_sent_and_only_those() {
    let market = Market::start().await;
    let ana = Tus::of(&market, "Ana").await;
    let ben = Tus::of(&market, "Ben").await;
    let (bytes, cid) = shard(3 * MIB + 7);
    let url = ana.start(&cid, bytes.len()).await;
    assert_eq!(ana.patch(&url, 0, &bytes).await.status(), 204);
    let at = |cid: &str| format!("{}/v1/creator/shards/{cid}", market.base);

    let stored: serde_json::Value = ana
        .http
        .get(at(&cid))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["cid"], cid.as_str());
    assert_eq!(stored["size"], bytes.len() as u64);
    assert_eq!(stored["sha256"], Sha256Digest::of(&bytes).hex());

    // Rot in storage shows: the answer is read from the stored bytes, not from the database.
    let path = market
        .data
        .path()
        .join("blobs/shards")
        .join(format!("{cid}.tar"));
    let mut rotted = std::fs::read(&path).unwrap();
    rotted[5] ^= 1;
    std::fs::write(&path, &rotted).unwrap();
    let again: serde_json::Value = ana
        .http
        .get(at(&cid))
        .bearer_auth(&ana.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["sha256"], Sha256Digest::of(&rotted).hex());

    // Gone from storage (but recorded): 404, which the CLI reports as missing.
    std::fs::remove_file(&path).unwrap();
    let (status, code, _) = error(
        ana.http
            .get(at(&cid))
            .bearer_auth(&ana.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "not_found"));

    // Ben never sent it, nobody signed out may ask, and a CID is checked.
    let (status, code, _) = error(
        ben.http
            .get(at(&cid))
            .bearer_auth(&ben.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let anonymous = ana.http.get(at(&cid)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let (status, code, _) = error(
        ana.http
            .get(at("not-a-cid"))
            .bearer_auth(&ana.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "bad_cid"));
}
