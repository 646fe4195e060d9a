//! Talks to a real marketplace server on a loopback port over HTTP, with real SQLite, PostgreSQL
//! and S3-compatible stores.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod access;
mod admin;
mod buyers;
mod crash;
mod harness;
mod hostile_buyers;
mod publish;
mod receipts_log;
mod rereview;
mod servers;
mod sign_in;
mod simulate;
mod uploads;

use hallmark_market::Health;

#[tokio::test]
async fn health_answers_over_real_http() {
    let market = harness::Market::start().await;
    let response = reqwest::get(market.url("/v1/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.service, "hallmark-market");

    let missing = reqwest::get(market.url("/v1/nothing")).await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(
        body["code"], "not_found",
        "errors below the handlers are JSON too"
    );
}

/// `docs/openapi.json` is the document the handlers generate; regenerate it with
/// `HALLMARK_UPDATE_OPENAPI=1 cargo test -p hallmark-market --test http openapi`.
#[test]
fn the_committed_openapi_document_matches_the_handlers() {
    let generated = hallmark_market::openapi().to_pretty_json().unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("HALLMARK_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the handlers' OpenAPI document; regenerate it with \
         HALLMARK_UPDATE_OPENAPI=1 cargo test -p hallmark-market --test http openapi"
    );
}

#[tokio::test]
async fn the_served_openapi_document_is_the_generated_one() {
    let market = harness::Market::start().await;
    let served: serde_json::Value = reqwest::get(market.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        served,
        serde_json::to_value(hallmark_market::openapi()).unwrap()
    );
    assert!(served["paths"]["/v1/auth/sessions"]["post"].is_object());
}

/// The S3 store is reached with signed requests (the test server checks them) under the prefix.
#[tokio::test]
async fn the_s3_store_signs_its_requests_and_keeps_the_prefix() {
    use harness::{Options, Store};
    let market = harness::Market::start_with(Options {
        store: Store::S3,
        ..Options::default()
    })
    .await;
    let blobs = &market.state.blobs;
    let name = blobs.path("probe/object");
    blobs
        .store
        .put(&name, bytes_of("stored through S3"))
        .await
        .unwrap();
    let bucket = market
        .config
        .store_url
        .as_deref()
        .unwrap()
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let on_disk = servers::s3_root().join(bucket).join("shards/probe/object");
    assert_eq!(std::fs::read(on_disk).unwrap(), b"stored through S3");

    // A wrong secret is refused by the server: signatures are checked.
    let mut wrong = market.config.clone();
    for (name, value) in &mut wrong.store_options {
        if name == "AWS_SECRET_ACCESS_KEY" {
            *value = "not-the-secret".into();
        }
    }
    let wrong = hallmark_market::blobs::Blobs::open(
        wrong.store_url.as_deref(),
        market.data.path(),
        &wrong.store_options,
    )
    .unwrap();
    assert!(wrong.store.get(&name).await.is_err());
}

fn bytes_of(text: &str) -> object_store::PutPayload {
    object_store::PutPayload::from(text.as_bytes().to_vec())
}
