//! DID sign-in, sessions and creator registration, on SQLite and on PostgreSQL.

use hallmark_core::creator::{self, VerificationLevel};
use hallmark_core::did::SigningIdentity;
use serde_json::{Value, json};

use crate::harness::{Database, Market, Options};

async fn post_presentation(market: &Market, presentation: &Value) -> (u16, Value) {
    let response = market
        .http
        .post(market.url("/v1/auth/sessions"))
        .json(presentation)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn me(market: &Market, token: &str) -> (u16, Value) {
    let response = market
        .http
        .get(market.url("/v1/creators/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn a_creator_joins_and_receives_a_credential_the_marketplace_signed(database: Database) {
    let market = Market::start_with(Options {
        database,
        ..Options::default()
    })
    .await;
    let info: Value = reqwest::get(market.url("/v1/marketplace"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["did"], market.did());
    assert_eq!(info["publicUrl"], market.base);
    assert_eq!(info["creatorShare"], "0.8");

    let key = SigningIdentity::generate();
    let token = market.sign_in(&key).await;
    assert!(token.starts_with("hmk_"));
    let (status, body) = me(&market, &token).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_registered");

    let (token, credential) = market.join(&key, "  Ana Example ").await;
    let marketplace = market.state.identity.public();
    let now = market.state.now();
    let status = creator::check(&credential, &marketplace, &key.public(), &now).unwrap();
    assert_eq!(status.name, "Ana Example");
    assert_eq!(status.level, VerificationLevel::SelfAsserted);

    // The admin's step re-issues the credential at the new level.
    hallmark_market::creators::set_level(
        &market.state.db,
        &market.state.identity,
        &key.public().to_string(),
        VerificationLevel::IdentityVerified,
        market.clock_now(),
    )
    .await
    .unwrap();
    let (status, body) = me(&market, &token).await;
    assert_eq!(status, 200);
    assert_eq!(body["level"], "identity-verified");
    let checked = creator::check(&body["credential"], &marketplace, &key.public(), &now).unwrap();
    assert_eq!(checked.level, VerificationLevel::IdentityVerified);

    // Only the token's hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_sha256 FROM sessions")
        .fetch_all(&market.state.db.pool)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|s| s.len() == 64 && !s.contains(&token)));
    assert!(stored.contains(&hallmark_market::auth::token_digest(&token)));
}

#[tokio::test]
async fn a_creator_joins_on_sqlite() {
    a_creator_joins_and_receives_a_credential_the_marketplace_signed(Database::Sqlite).await;
}

#[tokio::test]
async fn a_creator_joins_on_postgresql() {
    a_creator_joins_and_receives_a_credential_the_marketplace_signed(Database::Postgres).await;
}

#[tokio::test]
async fn replayed_expired_foreign_and_misdirected_sign_ins_are_refused() {
    let market = Market::start().await;
    let key = SigningIdentity::generate();

    // Replayed: the same presentation twice.
    let challenge = market.challenge().await;
    let now = market.state.now();
    let signed = creator::present(&key, &[], &challenge, &market.base, &now).unwrap();
    assert_eq!(post_presentation(&market, &signed).await.0, 201);
    let (status, body) = post_presentation(&market, &signed).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );

    // A challenge the marketplace never issued, and one signed by another marketplace.
    let foreign = creator::present(&key, &[], "made-up-challenge", &market.base, &now).unwrap();
    assert_eq!(post_presentation(&market, &foreign).await.0, 401);
    let other = Market::start().await;
    let theirs = other.challenge().await;
    let foreign = creator::present(&key, &[], &theirs, &market.base, &now).unwrap();
    let (status, body) = post_presentation(&market, &foreign).await;
    assert_eq!(status, 401);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not issued by this marketplace"),
        "{body}"
    );

    // Challenges are signed, not stored: asking for many writes nothing.
    for _ in 0..50 {
        market.challenge().await;
    }
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM challenges")
        .fetch_one(&market.state.db.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 1, "only the answered challenge is recorded");

    // Another domain: a presentation made for a different marketplace is not accepted here.
    let challenge = market.challenge().await;
    let elsewhere = creator::present(&key, &[], &challenge, "https://other.example", &now).unwrap();
    let (status, body) = post_presentation(&market, &elsewhere).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("domain"),
        "{body}"
    );
    // ...and that used the challenge up.
    let retry = creator::present(&key, &[], &challenge, &market.base, &now).unwrap();
    assert_eq!(post_presentation(&market, &retry).await.0, 401);

    // A bad signature: the holder swapped after signing.
    let challenge = market.challenge().await;
    let mut forged = creator::present(&key, &[], &challenge, &market.base, &now).unwrap();
    forged["holder"] = SigningIdentity::generate().public().to_string().into();
    let (status, body) = post_presentation(&market, &forged).await;
    assert_eq!(status, 401, "{body}");

    // Expired: answered six minutes later.
    let challenge = market.challenge().await;
    market.clock.advance(6 * 60);
    let late = creator::present(&key, &[], &challenge, &market.base, &market.state.now()).unwrap();
    let (status, body) = post_presentation(&market, &late).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // Not a presentation at all, and a body past the limit.
    let response = market
        .http
        .post(market.url("/v1/auth/sessions"))
        .body("{\"a\":1,\"a\":2}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = market
        .http
        .post(market.url("/v1/auth/sessions"))
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn sessions_expire_end_on_sign_out_and_need_a_bearer_token() {
    let market = Market::start().await;
    let key = SigningIdentity::generate();
    let (token, _) = market.join(&key, "Ana").await;
    assert_eq!(me(&market, &token).await.0, 200);

    let response = market
        .http
        .get(market.url("/v1/creators/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let (status, _) = me(&market, "hmk_not-a-token").await;
    assert_eq!(status, 401);
    let response = market
        .http
        .get(market.url("/v1/creators/me"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    market.clock.advance(61 * 60);
    let (status, body) = me(&market, &token).await;
    assert_eq!(status, 401);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    let token = market.sign_in(&key).await;
    assert_eq!(me(&market, &token).await.0, 200);
    let response = market
        .http
        .delete(market.url("/v1/auth/sessions/current"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(me(&market, &token).await.0, 401);
}

#[tokio::test]
async fn a_name_taken_by_another_creator_is_refused_in_any_case() {
    let market = Market::start().await;
    market
        .join(&SigningIdentity::generate(), "Ana Example")
        .await;
    let token = market.sign_in(&SigningIdentity::generate()).await;
    let response = market
        .http
        .put(market.url("/v1/creators/me"))
        .bearer_auth(&token)
        .json(&json!({ "name": "ana  example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "name_taken");
}

#[tokio::test]
async fn a_name_must_be_one_to_a_hundred_printable_characters() {
    let market = Market::start().await;
    let token = market.sign_in(&SigningIdentity::generate()).await;
    for (body, code) in [
        (json!({ "name": "   " }), "bad_name"),
        (json!({ "name": "x".repeat(101) }), "bad_name"),
        (json!({ "name": "Ana\nEve" }), "bad_name"),
        (json!({ "name": "\u{200B}" }), "bad_name"),
        (json!({ "name": "Ana \u{202E}evE" }), "bad_name"),
        (json!({ "nom": "Ana" }), "bad_registration"),
    ] {
        let response = market
            .http
            .put(market.url("/v1/creators/me"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{body}");
    }
}
