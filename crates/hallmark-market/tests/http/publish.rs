//! Publishing real sealed and signed datasets, the catalog that lists them, withdrawal, and every
//! way a publish is refused, on SQLite and (the main flow) on PostgreSQL with the S3 store.

use std::path::Path;

use hallmark_core::creator;
use hallmark_core::credential::{self, HashedFile};
use hallmark_core::dataset::{self, ResealPolicy};
use hallmark_core::did::SigningIdentity;
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_core::seal::SealOptions;
use serde_json::Value;

use crate::harness::{Database, Market, Options, Store};

/// A creator's dataset, sealed from a small folder, signed, with its shards exported.
pub(crate) struct Sealed {
    pub(crate) manifest: Vec<u8>,
    pub(crate) index: Vec<u8>,
    pub(crate) credential: Value,
    /// (CID, exact bytes) of every shard, in the manifest's order.
    pub(crate) shards: Vec<(String, Vec<u8>)>,
}

/// Seals a folder of a dozen small files as `name` `version` (`description` changes only the
/// manifest), signs it with `key` and exports its shards.
pub(crate) fn seal(
    key: &SigningIdentity,
    name: &str,
    version: &str,
    description: &str,
    now: &str,
) -> Sealed {
    let files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            (
                format!("take{i:02}.txt"),
                format!("{name} take {i}\n").repeat(60).into_bytes(),
            )
        })
        .collect();
    let sealed = seal_files(key, name, version, description, now, &files, 4 << 10);
    assert!(sealed.shards.len() > 1, "{} shards", sealed.shards.len());
    sealed
}

/// Seals `files` (name, bytes) into shards of about `shard_size` bytes, signs and exports them.
pub(crate) fn seal_files(
    key: &SigningIdentity,
    name: &str,
    version: &str,
    description: &str,
    now: &str,
    files: &[(String, Vec<u8>)],
    shard_size: u64,
) -> Sealed {
    let src = tempfile::tempdir().unwrap();
    for (file, bytes) in files {
        std::fs::write(src.path().join(file), bytes).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let info = DatasetInfo {
        name: name.into(),
        description: description.into(),
        license: "CC-BY-4.0".into(),
        creator_name: "Ana".into(),
        creator_url: None,
        url: None,
        version: version.into(),
        date_published: "2026-11-23".into(),
        keywords: vec![],
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    };
    let options = SealOptions {
        shard_size,
        ..SealOptions::default()
    };
    let (progress, cancel) = (NoProgress, CancelToken::new());
    dataset::seal_folder(
        src.path(),
        out.path(),
        &options,
        &info,
        ResealPolicy::default(),
        &progress,
        &cancel,
    )
    .unwrap();
    credential::sign_dataset(out.path(), key, now).unwrap();
    let shards_dir = tempfile::tempdir().unwrap();
    let exported =
        dataset::export_shards(out.path(), shards_dir.path(), None, &progress, &cancel).unwrap();
    let read = |path: &Path| std::fs::read(path).unwrap();
    let shards = exported
        .iter()
        .map(|shard| {
            let cid = shard
                .path
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (cid, read(&shard.path))
        })
        .collect::<Vec<_>>();
    Sealed {
        manifest: read(&out.path().join("croissant.json")),
        index: read(&out.path().join("index.jsonl")),
        credential: serde_json::from_slice(&read(&out.path().join("credential.json"))).unwrap(),
        shards,
    }
}

/// Uploads a shard as a studio does: one tus creation-with-upload request carrying every byte.
async fn store_shard(market: &Market, token: &str, cid: &str, bytes: &[u8]) {
    use base64::Engine as _;
    let response = market
        .http
        .post(market.url("/v1/uploads"))
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bytes.len().to_string())
        .header(
            "Upload-Metadata",
            format!(
                "cid {}",
                base64::engine::general_purpose::STANDARD.encode(cid)
            ),
        )
        .header("Content-Type", "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["upload-offset"].to_str().unwrap(),
        bytes.len().to_string()
    );
}

pub(crate) async fn store_shards(market: &Market, token: &str, sealed: &Sealed) {
    for (cid, bytes) in &sealed.shards {
        store_shard(market, token, cid, bytes).await;
    }
}

/// Ana, joined, and her dataset "takes" 1.0.0 sealed and signed; its shards stored when `stored`.
async fn ana_and_takes(market: &Market, name: &str, stored: bool) -> (Creator, Sealed) {
    let ana = creator(market, name).await;
    let sealed = seal(
        &ana.key,
        "takes",
        "1.0.0",
        "voice takes",
        &market.state.now(),
    );
    if stored {
        store_shards(market, &ana.token, &sealed).await;
    }
    (ana, sealed)
}

/// Asserts that the catalog lists nothing.
async fn assert_nothing_listed(market: &Market) {
    let (status, page) = get_json(market, "/v1/catalog").await;
    assert_eq!(status, 200);
    assert_eq!(page["versions"], serde_json::json!([]), "{page}");
}

/// A signed-in, registered creator.
pub(crate) struct Creator {
    pub(crate) key: SigningIdentity,
    pub(crate) token: String,
    pub(crate) credential: Value,
}

pub(crate) async fn creator(market: &Market, name: &str) -> Creator {
    let key = SigningIdentity::generate();
    let (token, credential) = market.join(&key, name).await;
    Creator {
        key,
        token,
        credential,
    }
}

/// The parts of a publish form.
#[derive(Clone)]
pub(crate) struct Form {
    manifest: Vec<u8>,
    index: Vec<u8>,
    presentation: Vec<u8>,
    price: String,
    currency: String,
}

impl Form {
    /// `sealed` presented by `by` with `credentials` over a fresh challenge, at 0.002 EUR a sample.
    async fn new(
        market: &Market,
        by: &SigningIdentity,
        credentials: &[Value],
        sealed: &Sealed,
    ) -> Form {
        let challenge = market.challenge().await;
        let presentation = creator::present(
            by,
            credentials,
            &challenge,
            &market.base,
            &market.state.now(),
        )
        .unwrap();
        Form {
            manifest: sealed.manifest.clone(),
            index: sealed.index.clone(),
            presentation: serde_json::to_vec(&presentation).unwrap(),
            price: "0.002".into(),
            currency: "EUR".into(),
        }
    }

    /// The usual form: `who` presents their creator credential and `sealed`'s dataset credential.
    pub(crate) async fn of(market: &Market, who: &Creator, sealed: &Sealed) -> Form {
        Form::new(
            market,
            &who.key,
            &[who.credential.clone(), sealed.credential.clone()],
            sealed,
        )
        .await
    }
}

pub(crate) async fn publish(market: &Market, token: &str, form: &Form) -> (u16, Value) {
    let part = |bytes: &[u8]| reqwest::multipart::Part::bytes(bytes.to_vec());
    let body = reqwest::multipart::Form::new()
        .part("manifest", part(&form.manifest))
        .part("index", part(&form.index))
        .part("presentation", part(&form.presentation))
        .text("price", form.price.clone())
        .text("currency", form.currency.clone());
    post_form(market, token, body).await
}

/// Posts `body` to the publish endpoint as `token`.
async fn post_form(market: &Market, token: &str, body: reqwest::multipart::Form) -> (u16, Value) {
    answer(
        market
            .http
            .post(market.url("/v1/versions"))
            .bearer_auth(token)
            .multipart(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(market: &Market, path: &str) -> reqwest::Response {
    market.http.get(market.url(path)).send().await.unwrap()
}

async fn get_json(market: &Market, path: &str) -> (u16, Value) {
    answer(get(market, path).await).await
}

/// A response's status and JSON body (`null` when it has none).
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn withdraw(market: &Market, token: &str, id: &str) -> (u16, Value) {
    answer(
        market
            .http
            .post(market.url(&format!("/v1/versions/{id}/withdraw")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// Asserts `(status, body)` is `status` with `code`, and returns the message.
fn refused(answer: &(u16, Value), status: u16, code: &str) -> String {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    message(&answer.1).to_owned()
}

async fn publish_list_and_withdraw(database: Database, store: Store) {
    let market = Market::start_with(Options {
        database,
        store,
        ..Options::default()
    })
    .await;
    let (ana, sealed) = ana_and_takes(&market, "Ana Example", true).await;

    let form = Form::of(&market, &ana, &sealed).await;
    let (status, listed) = publish(&market, &ana.token, &form).await;
    assert_eq!(status, 201, "{listed}");
    let id = listed["id"].as_str().unwrap().to_owned();
    assert_eq!(listed["name"], "takes");
    assert_eq!(listed["version"], "1.0.0");
    assert_eq!(listed["creator"]["did"], ana.key.public().to_string());
    assert_eq!(listed["creator"]["name"], "Ana Example");
    assert_eq!(listed["price"], "0.002");
    assert_eq!(listed["currency"], "EUR");
    assert_eq!(listed["creatorShare"], "0.8");
    assert_eq!(listed["withdrawnAt"], Value::Null);

    // Listed in the public catalog (no token), with its shards in the manifest's order.
    let (status, page) = get_json(&market, "/v1/catalog").await;
    assert_eq!(status, 200);
    assert_eq!(page["versions"].as_array().unwrap().len(), 1);
    assert_eq!(page["versions"][0], listed);
    let (status, detail) = get_json(&market, &format!("/v1/catalog/{id}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["license"], "CC-BY-4.0");
    assert_eq!(detail["consent"]["aiTraining"], "allowed");
    assert_eq!(detail["consent"]["aiGenerativeTraining"], "notAllowed");
    let shards: Vec<(String, u64)> = detail["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["cid"].as_str().unwrap().to_owned(),
                s["size"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = sealed
        .shards
        .iter()
        .map(|(cid, bytes)| (cid.clone(), bytes.len() as u64))
        .collect();
    assert_eq!(shards, expected);
    assert_eq!(detail["shardCount"], expected.len());
    assert_eq!(
        detail["shardsMerkleRoot"],
        sealed.credential["credentialSubject"]["shardsMerkleRoot"]
    );

    // The exact bytes, with their media types, and the credentials as presented: a buyer checks
    // them with the core, as the marketplace did.
    let manifest = get(&market, &format!("/v1/catalog/{id}/manifest")).await;
    assert_eq!(manifest.status(), 200);
    assert_eq!(manifest.headers()["content-type"], "application/ld+json");
    let manifest = manifest.bytes().await.unwrap();
    assert_eq!(manifest.as_ref(), sealed.manifest.as_slice());
    let index = get(&market, &format!("/v1/catalog/{id}/index")).await;
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["content-type"], "application/jsonlines");
    let index = index.bytes().await.unwrap();
    assert_eq!(index.as_ref(), sealed.index.as_slice());
    let (status, credentials) = get_json(&market, &format!("/v1/catalog/{id}/credentials")).await;
    assert_eq!(status, 200);
    assert_eq!(credentials["dataset"], sealed.credential);
    assert_eq!(credentials["creator"], ana.credential);
    let checked = credential::check_documents(
        &credentials["dataset"],
        &manifest,
        &HashedFile::of(&index),
        &market.state.now(),
    )
    .unwrap();
    assert!(checked.check.differences.is_empty());
    assert_eq!(checked.check.signer, Some(ana.key.public().to_string()));

    // The same content again: nothing changes.
    let again = Form::of(&market, &ana, &sealed).await;
    let (status, same) = publish(&market, &ana.token, &again).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same, listed);
    // The same version at another price, or with another manifest: refused, bump the version.
    let mut dearer = Form::of(&market, &ana, &sealed).await;
    dearer.price = "0.003".into();
    let text = refused(
        &publish(&market, &ana.token, &dearer).await,
        409,
        "version_exists",
    );
    assert!(text.contains("new version"), "{text}");
    let changed = seal(
        &ana.key,
        "takes",
        "1.0.0",
        "voice takes, remastered",
        &market.state.now(),
    );
    assert_ne!(changed.manifest, sealed.manifest);
    let form = Form::of(&market, &ana, &changed).await;
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        409,
        "version_exists",
    );
    assert!(
        text.contains("1.0.0") && text.contains("new version"),
        "{text}"
    );
    let (_, page) = get_json(&market, "/v1/catalog").await;
    assert_eq!(page["versions"].as_array().unwrap().len(), 1);

    // Withdrawn by its owner: off the list, the record stays; again changes nothing.
    let eve = creator(&market, "Eve").await;
    refused(&withdraw(&market, &eve.token, &id).await, 404, "not_found");
    let (status, withdrawn) = withdraw(&market, &ana.token, &id).await;
    assert_eq!(status, 200, "{withdrawn}");
    let at = withdrawn["withdrawnAt"].as_str().unwrap().to_owned();
    market.clock.advance(5);
    let (status, again) = withdraw(&market, &ana.token, &id).await;
    assert_eq!(status, 200);
    assert_eq!(again["withdrawnAt"], at.as_str());
    let (_, page) = get_json(&market, "/v1/catalog").await;
    assert_eq!(page["versions"], serde_json::json!([]));
    let (status, detail) = get_json(&market, &format!("/v1/catalog/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["withdrawnAt"], at.as_str());
    assert_eq!(
        get(&market, &format!("/v1/catalog/{id}/manifest"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_signed_dataset_is_published_listed_and_withdrawn_on_sqlite() {
    publish_list_and_withdraw(Database::Sqlite, Store::Local).await;
}

#[tokio::test]
async fn a_signed_dataset_is_published_listed_and_withdrawn_on_postgresql_and_s3() {
    publish_list_and_withdraw(Database::Postgres, Store::S3).await;
}

#[tokio::test]
async fn every_shard_must_be_stored_with_its_size_and_digest() {
    let market = Market::start().await;
    let (ana, sealed) = ana_and_takes(&market, "Ana", false).await;
    let ((missing, bytes), stored) = sealed.shards.split_last().unwrap();
    for (cid, bytes) in stored {
        store_shard(&market, &ana.token, cid, bytes).await;
    }
    let form = Form::of(&market, &ana, &sealed).await;
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        409,
        "shards_missing",
    );
    assert!(text.contains(missing.as_str()), "{text}");
    assert!(text.starts_with("1 of the"), "{text}");

    // Recorded with another size, then with another digest: refused by name.
    store_shard(&market, &ana.token, missing, bytes).await;
    let set = |column: &'static str, value: Value| {
        let pool = market.state.db.pool.clone();
        let missing = missing.clone();
        async move {
            let sql = format!("UPDATE shards SET {column} = $1 WHERE cid = $2");
            let query = sqlx::query(&sql);
            let query = match value {
                Value::Number(n) => query.bind(n.as_i64().unwrap()),
                other => query.bind(other.as_str().unwrap().to_owned()),
            };
            query.bind(missing).execute(&pool).await.unwrap();
        }
    };
    set("size", Value::from(bytes.len() as i64 + 1)).await;
    let form = Form::of(&market, &ana, &sealed).await;
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        409,
        "shard_mismatch",
    );
    assert!(text.contains(missing.as_str()), "{text}");
    set("size", Value::from(bytes.len() as i64)).await;
    set("sha256", Value::from("0".repeat(64))).await;
    let form = Form::of(&market, &ana, &sealed).await;
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        409,
        "shard_mismatch",
    );
    assert!(text.contains(&"0".repeat(64)), "{text}");
    assert_nothing_listed(&market).await;
}

#[tokio::test]
async fn presentations_must_be_fresh_and_the_signed_in_creators_own() {
    let market = Market::start().await;
    let (ana, sealed) = ana_and_takes(&market, "Ana", true).await;
    let eve = creator(&market, "Eve").await;

    // Ana's presentation sent with Eve's token.
    let form = Form::of(&market, &ana, &sealed).await;
    let text = refused(
        &publish(&market, &eve.token, &form).await,
        403,
        "not_your_presentation",
    );
    assert!(text.contains(&ana.key.public().to_string()), "{text}");

    // Eve presents Ana's dataset credential as her own.
    let stolen = Form::new(
        &market,
        &eve.key,
        &[eve.credential.clone(), sealed.credential.clone()],
        &sealed,
    )
    .await;
    let text = refused(
        &publish(&market, &eve.token, &stolen).await,
        403,
        "credential_refused",
    );
    assert!(text.contains("issued by"), "{text}");

    // A creator credential another marketplace issued.
    let elsewhere = SigningIdentity::generate();
    let foreign = creator::issue(
        &elsewhere,
        &ana.key.public(),
        "Ana",
        "2026-01-01T00:00:00Z",
        "2036-01-01T00:00:00Z",
    )
    .unwrap();
    let form = Form::new(
        &market,
        &ana.key,
        &[foreign, sealed.credential.clone()],
        &sealed,
    )
    .await;
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        403,
        "credential_refused",
    );
    assert!(
        text.contains("not by the marketplace") && text.contains(&elsewhere.public().to_string()),
        "{text}"
    );

    // No dataset credential at all.
    let form = Form::new(
        &market,
        &ana.key,
        std::slice::from_ref(&ana.credential),
        &sealed,
    )
    .await;
    refused(
        &publish(&market, &ana.token, &form).await,
        400,
        "dataset_credentials",
    );

    // Published once; the same presentation again is a replay.
    let form = Form::of(&market, &ana, &sealed).await;
    assert_eq!(publish(&market, &ana.token, &form).await.0, 201);
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        401,
        "unauthorized",
    );
    assert!(text.contains("already used"), "{text}");

    // No token at all.
    let form = Form::of(&market, &ana, &sealed).await;
    assert_eq!(publish(&market, "", &form).await.0, 401);
}

#[tokio::test]
async fn the_bytes_sent_must_be_the_bytes_signed() {
    let market = Market::start().await;
    let (ana, sealed) = ana_and_takes(&market, "Ana", true).await;

    // One byte of the manifest changed (inside its description): refused naming the digest.
    let mut form = Form::of(&market, &ana, &sealed).await;
    let at = form
        .manifest
        .windows(11)
        .position(|w| w == b"voice takes")
        .unwrap();
    form.manifest[at] = b'V';
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        422,
        "credential_mismatch",
    );
    assert!(text.contains("croissant.json: digestSRI"), "{text}");

    // Another index of the same length.
    let mut form = Form::of(&market, &ana, &sealed).await;
    let last = form.index.len() - 2;
    form.index[last] ^= 1;
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        422,
        "credential_mismatch",
    );
    assert!(text.contains("index.jsonl: digestSRI"), "{text}");

    // Not a manifest at all.
    let mut form = Form::of(&market, &ana, &sealed).await;
    form.manifest = b"{\"name\": 1, \"version\": \"1.0.0\"}".to_vec();
    let text = refused(
        &publish(&market, &ana.token, &form).await,
        400,
        "bad_manifest",
    );
    assert!(text.contains("croissant.json"), "{text}");

    assert_nothing_listed(&market).await;
}

#[tokio::test]
async fn prices_are_exact_positive_decimals_in_an_iso_currency() {
    let market = Market::start().await;
    let (ana, sealed) = ana_and_takes(&market, "Ana", true).await;
    let good = Form::of(&market, &ana, &sealed).await;
    for price in [
        "1e-3",
        "-1",
        "0",
        "0.000",
        "abc",
        "0.1.2",
        " 1",
        ".5",
        "1.",
        "NaN",
        "0.0000000000001",
        "1000000.01",
        "",
    ] {
        let form = Form {
            price: price.into(),
            ..good.clone()
        };
        let text = refused(&publish(&market, &ana.token, &form).await, 400, "bad_price");
        assert!(text.starts_with("price"), "{price:?}: {text}");
    }
    for currency in ["eur", "EURO", "E1R", "€", ""] {
        let form = Form {
            currency: currency.into(),
            ..good.clone()
        };
        let text = refused(
            &publish(&market, &ana.token, &form).await,
            400,
            "bad_currency",
        );
        assert!(text.contains("ISO 4217"), "{currency:?}: {text}");
    }
    // None of that used the challenge up; twelve decimal places are exact.
    let form = Form {
        price: "0.000000000001".into(),
        currency: "USD".into(),
        ..good
    };
    let (status, listed) = publish(&market, &ana.token, &form).await;
    assert_eq!(status, 201, "{listed}");
    assert_eq!(listed["price"], "0.000000000001");
    assert_eq!(listed["currency"], "USD");
}

#[tokio::test]
async fn oversized_parts_and_malformed_forms_are_refused() {
    let market = Market::start().await;
    let (ana, sealed) = ana_and_takes(&market, "Ana", false).await;
    let good = Form::of(&market, &ana, &sealed).await;

    let form = Form {
        presentation: vec![b' '; (1 << 20) + 1],
        ..good.clone()
    };
    let text = refused(&publish(&market, &ana.token, &form).await, 413, "too_large");
    assert!(text.contains("presentation"), "{text}");
    let form = Form {
        manifest: vec![b' '; (64 << 20) + 1],
        ..good.clone()
    };
    let text = refused(&publish(&market, &ana.token, &form).await, 413, "too_large");
    assert!(text.contains("manifest"), "{text}");
    let form = Form {
        price: "1".repeat(65),
        ..good.clone()
    };
    refused(&publish(&market, &ana.token, &form).await, 413, "too_large");

    // Not multipart, a part missing, an unknown part.
    let response = market
        .http
        .post(market.url("/v1/versions"))
        .bearer_auth(&ana.token)
        .json(&serde_json::json!({ "manifest": "{}" }))
        .send()
        .await
        .unwrap();
    let text = refused(&answer(response).await, 400, "bad_form");
    assert!(text.contains("multipart/form-data"), "{text}");
    let body = reqwest::multipart::Form::new()
        .text("price", "1")
        .text("currency", "EUR")
        .text("colour", "blue");
    let answer = post_form(&market, &ana.token, body).await;
    assert!(refused(&answer, 400, "bad_form").contains("colour"));
    let body = reqwest::multipart::Form::new()
        .text("price", "1")
        .text("currency", "EUR");
    let answer = post_form(&market, &ana.token, body).await;
    assert!(refused(&answer, 400, "bad_form").contains("no manifest part"));
}

#[tokio::test]
async fn the_catalog_pages_newest_first_and_unknown_ids_are_not_found() {
    let market = Market::start().await;
    let ana = creator(&market, "Ana").await;
    let mut ids = Vec::new();
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        let sealed = seal(
            &ana.key,
            "takes",
            version,
            "voice takes",
            &market.state.now(),
        );
        if ids.is_empty() {
            store_shards(&market, &ana.token, &sealed).await;
        }
        let form = Form::of(&market, &ana, &sealed).await;
        let (status, listed) = publish(&market, &ana.token, &form).await;
        assert_eq!(status, 201, "{listed}");
        ids.push(listed["id"].as_str().unwrap().to_owned());
        market.clock.advance(10);
    }
    let (status, first) = get_json(&market, "/v1/catalog?limit=2").await;
    assert_eq!(status, 200);
    let listed = |page: &Value| -> Vec<String> {
        page["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&first), [ids[2].clone(), ids[1].clone()]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = get_json(&market, &format!("/v1/catalog?limit=2&cursor={cursor}")).await;
    assert_eq!(listed(&second), [ids[0].clone()]);
    assert_eq!(second["nextCursor"], Value::Null);
    refused(
        &get_json(&market, "/v1/catalog?limit=0").await,
        400,
        "bad_limit",
    );
    refused(
        &get_json(&market, "/v1/catalog?limit=201").await,
        400,
        "bad_limit",
    );
    refused(
        &get_json(&market, "/v1/catalog?cursor=nonsense").await,
        400,
        "bad_cursor",
    );

    let eve = creator(&market, "Eve").await;
    for path in ["", "/manifest", "/index", "/credentials"] {
        let answer = get_json(&market, &format!("/v1/catalog/v_unknown{path}")).await;
        refused(&answer, 404, "not_found");
        let long = "v".repeat(500);
        refused(
            &get_json(&market, &format!("/v1/catalog/{long}{path}")).await,
            404,
            "not_found",
        );
    }
    // Another creator's ids and unknown ids answer alike.
    let theirs = refused(
        &withdraw(&market, &eve.token, &ids[0]).await,
        404,
        "not_found",
    );
    assert!(!theirs.contains("Ana"), "{theirs}");
    refused(
        &withdraw(&market, &eve.token, "v_unknown").await,
        404,
        "not_found",
    );
    assert_eq!(withdraw(&market, "hmk_nobody", &ids[0]).await.0, 401);
    let (_, page) = get_json(&market, "/v1/catalog").await;
    assert_eq!(listed(&page).len(), 3);
}

/// Mallory downloads Ana's published manifest and index, signs them as her own dataset and
/// presents them: refused, because she never uploaded the shards' bytes (the marketplace has
/// them from Ana, which proves nothing about Mallory).
#[tokio::test]
async fn no_one_publishes_shards_they_did_not_upload() {
    let market = Market::start().await;
    let (ana, sealed) = ana_and_takes(&market, "Ana", true).await;
    let form = Form::of(&market, &ana, &sealed).await;
    let (status, listed) = publish(&market, &ana.token, &form).await;
    assert_eq!(status, 201, "{listed}");
    let id = listed["id"].as_str().unwrap();

    let mallory = creator(&market, "Mallory").await;
    let manifest = get(&market, &format!("/v1/catalog/{id}/manifest")).await;
    let manifest = manifest.bytes().await.unwrap().to_vec();
    let index = get(&market, &format!("/v1/catalog/{id}/index")).await;
    let index = index.bytes().await.unwrap().to_vec();
    assert_eq!((&manifest, &index), (&sealed.manifest, &sealed.index));
    // Ana's credential, re-issued and signed by Mallory: it names the same bytes.
    let mut unsigned = sealed.credential.clone();
    unsigned.as_object_mut().unwrap().remove("proof");
    unsigned["issuer"] = mallory.key.public().to_string().into();
    let now = market.state.now();
    let credential = hallmark_core::integrity::sign(
        &unsigned,
        &mallory.key,
        &now,
        hallmark_core::integrity::ASSERTION_METHOD,
    )
    .unwrap();
    let stolen = Sealed {
        manifest,
        index,
        credential,
        shards: sealed.shards.clone(),
    };
    let form = Form::of(&market, &mallory, &stolen).await;
    let text = refused(
        &publish(&market, &mallory.token, &form).await,
        409,
        "shards_missing",
    );
    assert!(text.contains("not uploaded by you"), "{text}");
    let (_, page) = get_json(&market, "/v1/catalog").await;
    assert_eq!(page["versions"].as_array().unwrap().len(), 1, "{page}");

    // Even after sending every shard's bytes (as a buyer who holds them could), the exact
    // manifest another creator published is not hers to sell.
    for (cid, bytes) in &sealed.shards {
        store_shard(&market, &mallory.token, cid, bytes).await;
    }
    let form = Form::of(&market, &mallory, &stolen).await;
    let text = refused(
        &publish(&market, &mallory.token, &form).await,
        409,
        "published_by_another",
    );
    assert!(text.contains(&ana.key.public().to_string()), "{text}");
}
