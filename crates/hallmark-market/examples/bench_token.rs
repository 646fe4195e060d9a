//! Prints a session token for a new creator on a running marketplace, for benchmarks and scripts
//! (`cargo run --example bench_token -- http://127.0.0.1:8787`); not part of the server.

// An example run by hand: a failure ends it with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hallmark_core::did::SigningIdentity;
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let base = std::env::args()
        .nth(1)
        .expect("usage: bench_token URL (the marketplace's public URL)");
    let http = reqwest::Client::new();
    let key = SigningIdentity::generate();
    let challenge: Value = http
        .post(format!("{base}/v1/auth/challenges"))
        .send()
        .await
        .expect("cannot reach the marketplace")
        .json()
        .await
        .expect("not a challenge");
    let now = hallmark_market::clock::rfc3339(time::OffsetDateTime::now_utc());
    let challenge = challenge["challenge"].as_str().expect("no challenge");
    let presentation = hallmark_core::creator::present(&key, &[], challenge, &base, &now)
        .expect("cannot sign the presentation");
    let session: Value = http
        .post(format!("{base}/v1/auth/sessions"))
        .json(&presentation)
        .send()
        .await
        .expect("sign-in failed")
        .json()
        .await
        .expect("not a session");
    let token = session["token"]
        .as_str()
        .expect("sign-in refused")
        .to_owned();
    let registered = http
        .put(format!("{base}/v1/creators/me"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Benchmark" }))
        .send()
        .await
        .expect("registration failed");
    assert!(registered.status().is_success(), "registration refused");
    println!("{token}");
}
