//! Buyer accounts (open sign-up and the admin's `buyer` commands), entitlements and access tokens.

use std::process::Command;

use serde_json::{Value, json};

use crate::access::{entitle, fetch, mint, token_for};
use crate::harness::{Market, Options};

async fn sign_up(market: &Market, body: Value) -> (u16, Value) {
    let response = market
        .http
        .post(market.url("/v1/buyers"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn entitlements(market: &Market, key: &str) -> (u16, Value) {
    let response = market
        .http
        .get(market.url("/v1/buyer/entitlements"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn sign_up_is_closed_unless_the_server_opens_it() {
    let closed = Market::start().await;
    let (status, body) = sign_up(&closed, json!({"name": "Bo"})).await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "signup_closed");
    let text = body["message"].as_str().unwrap();
    assert!(
        text.contains("--open-buyer-signup") && text.contains("buyer add"),
        "{text}"
    );

    let open = Market::start_with(Options {
        open_buyer_signup: true,
        ..Options::default()
    })
    .await;
    let (status, bo) = sign_up(&open, json!({"name": "  Bo  "})).await;
    assert_eq!(status, 201, "{bo}");
    assert_eq!(bo["name"], "Bo");
    let key = bo["apiKey"].as_str().unwrap();
    assert!(key.starts_with("hmb_") && key.len() == 4 + 43, "{key}");
    assert!(bo["id"].as_str().unwrap().starts_with("buyer_"));
    // Only the key's digest is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT key_sha256 FROM buyers")
        .fetch_all(&open.state.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, vec![hallmark_market::buyers::key_digest(key)]);
    let (status, list) = entitlements(&open, key).await;
    assert_eq!((status, list), (200, json!({"entitlements": []})));

    let (status, body) = sign_up(&open, json!({"name": "bo"})).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("name_taken")));
    let (status, body) = sign_up(&open, json!({"name": "a\u{202E}b"})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_name")));
    let (status, body) = sign_up(&open, json!({"name": "Cy", "admin": true})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_sign_up")));
    // Unknown and malformed keys.
    assert_eq!(entitlements(&open, "hmb_nope").await.0, 401);
    assert_eq!(entitlements(&open, "hmk_session").await.0, 401);
}

#[tokio::test]
async fn entitlements_copy_the_versions_terms_and_are_taken_once() {
    let market = Market::start().await;
    let published = market.publish_dataset("Ana", "takes").await;
    let bo = market.buyer("Bo").await;

    let (status, taken) = entitle(&market, &bo, &published.version).await;
    assert_eq!(status, 201, "{taken}");
    assert!(taken["id"].as_str().unwrap().starts_with("ent_"));
    assert_eq!(taken["version"], published.version.as_str());
    assert_eq!(taken["price"], "0.002");
    assert_eq!(taken["currency"], "EUR");
    assert_eq!(taken["shareRate"], "0.8");
    assert_eq!(taken["revokedAt"], Value::Null);
    let (status, again) = entitle(&market, &bo, &published.version).await;
    assert_eq!((status, &again), (200, &taken));
    let (_, list) = entitlements(&market, &bo).await;
    assert_eq!(list["entitlements"], json!([taken]));

    let (status, body) = entitle(&market, &bo, "v_unknown").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = entitle(&market, &bo, &"v".repeat(5000)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));

    // Token lifetimes: 3600 s by default, 10 to 3600 on request.
    let id = taken["id"].as_str().unwrap();
    let (status, token) = mint(&market, &bo, id).await;
    assert_eq!(status, 201, "{token}");
    assert!(token["token"].as_str().unwrap().starts_with("hmt1."));
    assert!(token["tokenId"].as_str().unwrap().starts_with("tok_"));
    let expires = time::OffsetDateTime::parse(
        token["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = (expires - market.clock_now()).whole_seconds();
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    for (ttl, status) in [(10, 201), (9, 400), (3601, 400), (-1, 400)] {
        let response = market
            .http
            .post(market.url(&format!("/v1/buyer/entitlements/{id}/tokens")))
            .bearer_auth(&bo)
            .json(&json!({ "ttlSeconds": ttl }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "ttl {ttl}");
    }
    // The token checks with the marketplace's public key alone, and names what it opens.
    let claims = hallmark_market::tokens::verify(
        &market.state.identity.public(),
        token["token"].as_str().unwrap(),
        market.state.now_unix(),
    )
    .unwrap();
    assert_eq!(claims.entitlement, id);
    assert_eq!(claims.version, published.version);
    assert_eq!(claims.token_id, token["tokenId"].as_str().unwrap());
}

fn admin(market: &Market, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hallmark-market"))
        .args(args)
        .arg("--data")
        .arg(market.data.path())
        .output()
        .unwrap()
}

fn stdout_of(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_admin_adds_lists_and_disables_buyers_and_revokes_entitlements() {
    let market = Market::start().await;
    let published = market.publish_dataset("Ana", "takes").await;

    // `buyer add` on the data folder of the running server prints a key that works.
    let printed = stdout_of(&admin(&market, &["buyer", "add", "Bo Buyer"]));
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("hmb_"))
        .unwrap_or_else(|| panic!("no key in {printed}"))
        .to_owned();
    let (ent, token) = token_for(&market, &key, &published.version).await;
    let cid = &published.sealed.shards[0].0;
    let response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    let output = admin(&market, &["buyer", "add", "bo buyer"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already named"));

    let listed = stdout_of(&admin(&market, &["buyer", "list"]));
    assert!(
        listed.contains("Bo Buyer") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "the key is never shown again");

    // `entitlement revoke`: the token is refused at once.
    let printed = stdout_of(&admin(&market, &["entitlement", "revoke", &ent]));
    assert!(printed.contains("revoked"), "{printed}");
    assert_eq!(fetch(&market, &token, cid, None).await.status(), 403);
    let output = admin(&market, &["entitlement", "revoke", "ent_nope"]);
    assert_eq!(output.status.code(), Some(1));

    // `buyer disable`: the key is refused with a message saying why.
    stdout_of(&admin(&market, &["buyer", "disable", "BO BUYER"]));
    let (status, body) = entitlements(&market, &key).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("buyer_disabled"))
    );
    assert!(stdout_of(&admin(&market, &["buyer", "list"])).contains("disabled"));
    let output = admin(&market, &["buyer", "disable", "nobody"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(market.receipts().await.len(), 1);
}
