//! Buyers downloading shards with access tokens: metering by the samples a request covers, one
//! durable receipt per delivered access, and every token that must not open a shard refused.

use hallmark_core::seal::IndexedSample;
use serde_json::{Value, json};

use crate::harness::{Database, Market, Options, Published};

/// A response's status and JSON body (`null` when it has none).
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn entitle(market: &Market, key: &str, version: &str) -> (u16, Value) {
    answer(
        market
            .http
            .post(market.url("/v1/buyer/entitlements"))
            .bearer_auth(key)
            .json(&json!({ "version": version }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub(crate) async fn mint(market: &Market, key: &str, entitlement: &str) -> (u16, Value) {
    answer(
        market
            .http
            .post(market.url(&format!("/v1/buyer/entitlements/{entitlement}/tokens")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub(crate) async fn revoke(market: &Market, key: &str, entitlement: &str) -> (u16, Value) {
    answer(
        market
            .http
            .delete(market.url(&format!("/v1/buyer/entitlements/{entitlement}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The buyer `key` takes an entitlement to `version` and a token for it: (entitlement id, token).
pub(crate) async fn token_for(market: &Market, key: &str, version: &str) -> (String, String) {
    let (status, entitlement) = entitle(market, key, version).await;
    assert!(status == 201 || status == 200, "{status} {entitlement}");
    let id = entitlement["id"].as_str().unwrap().to_owned();
    let (status, token) = mint(market, key, &id).await;
    assert_eq!(status, 201, "{token}");
    (id, token["token"].as_str().unwrap().to_owned())
}

pub(crate) async fn fetch(
    market: &Market,
    token: &str,
    cid: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut request = market
        .http
        .get(market.url(&format!("/v1/shards/{cid}")))
        .bearer_auth(token);
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

/// `first..=last` of a sample's data in its shard.
pub(crate) fn span(sample: &IndexedSample) -> (u64, u64) {
    let first = sample.files[0].offset;
    let end = sample.files.last().map(|f| f.offset + f.size).unwrap();
    (first, end - 1)
}

pub(crate) fn samples_in<'a>(published: &'a Published, cid: &str) -> Vec<&'a IndexedSample> {
    // The index names a shard by its file name.
    let name = format!("{cid}.tar");
    published
        .samples
        .iter()
        .filter(|s| s.shard == name)
        .collect()
}

async fn metering(database: Database) {
    let market = Market::start_with(Options {
        database,
        ..Options::default()
    })
    .await;
    let published = market.publish_dataset("Ana", "takes").await;
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;
    let (cid, bytes) = &published.sealed.shards[0];
    let len = bytes.len() as u64;
    let in_shard = samples_in(&published, cid);
    assert!(in_shard.len() >= 3, "{} samples", in_shard.len());
    let all = in_shard.len().to_string();

    // The whole shard: its exact bytes, the headers caches and clients rely on, one receipt.
    let response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "etag"), format!("\"{cid}\""));
    assert_eq!(header(&response, "accept-ranges"), "bytes");
    assert_eq!(header(&response, "content-type"), "application/x-tar");
    assert_eq!(
        header(&response, "cache-control"),
        "private, max-age=31536000, immutable"
    );
    assert_eq!(header(&response, "content-length"), len.to_string());
    assert_eq!(header(&response, "x-hallmark-samples"), all);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let receipts = market.receipts().await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0]["samples"], in_shard.len());
    assert_eq!(receipts[0]["shard"], cid.as_str());
    assert_eq!(receipts[0]["version"], published.version.as_str());
    // The bytes of the samples billed: from the first sample's data to the last one's end.
    let (first_data, _) = span(in_shard[0]);
    let (_, last_data) = span(in_shard[in_shard.len() - 1]);
    assert_eq!(
        receipts[0]["range"],
        json!({"first": first_data, "last": last_data})
    );
    assert_eq!(receipts[0]["price"], "0.002");
    assert_eq!(receipts[0]["currency"], "EUR");

    // The same request again with the same token: the bytes again, not billed twice.
    let again = fetch(&market, &token, cid, None).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(market.receipts().await.len(), 1);

    // A sample this token paid for with the whole shard: its bytes, nothing billed.
    let one = in_shard[1];
    let (first, last) = span(one);
    let paid = fetch(&market, &token, cid, Some(&format!("bytes={first}-{last}"))).await;
    assert_eq!(paid.status(), 206);
    assert_eq!(paid.bytes().await.unwrap().len() as u64, last - first + 1);
    assert_eq!(market.receipts().await.len(), 1);

    // With another token: one sample's data, from the index's offsets: exactly that file's
    // bytes, one sample.
    let (_, token) = token_for(&market, &key, &published.version).await;
    let response = fetch(&market, &token, cid, Some(&format!("bytes={first}-{last}"))).await;
    assert_eq!(response.status(), 206);
    assert_eq!(
        header(&response, "content-range"),
        format!("bytes {first}-{last}/{len}")
    );
    assert_eq!(header(&response, "x-hallmark-samples"), "1");
    let body = response.bytes().await.unwrap();
    assert_eq!(body.as_ref(), &bytes[first as usize..=last as usize]);
    assert_eq!(body.len() as u64, one.files[0].size);
    assert_eq!(body.as_ref(), "takes take 01\n".repeat(60).as_bytes());
    let receipts = market.receipts().await;
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[1]["samples"], 1);
    assert_eq!(receipts[1]["range"], json!({"first": first, "last": last}));

    // The last byte of one sample and the first of the next, with a third token: two samples.
    let (_, token) = token_for(&market, &key, &published.version).await;
    let (_, end_of_first) = span(in_shard[0]);
    let (start_of_second, _) = span(in_shard[1]);
    let range = format!("bytes={end_of_first}-{start_of_second}");
    let response = fetch(&market, &token, cid, Some(&range)).await;
    assert_eq!(response.status(), 206);
    assert_eq!(header(&response, "x-hallmark-samples"), "2");
    response.bytes().await.unwrap();
    let receipts = market.receipts().await;
    assert_eq!(receipts.len(), 3);
    assert_eq!(receipts[2]["samples"], 2);

    // Only the tar header before the first sample: free, no receipt.
    let (data_start, _) = span(in_shard[0]);
    assert!(data_start > 0);
    let response = fetch(
        &market,
        &token,
        cid,
        Some(&format!("bytes=0-{}", data_start - 1)),
    )
    .await;
    assert_eq!(response.status(), 206);
    assert_eq!(header(&response, "x-hallmark-samples"), "0");
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        &bytes[..data_start as usize]
    );
    // Padding and the next header between two samples: free too.
    let gap = format!("bytes={}-{}", end_of_first + 1, start_of_second - 1);
    let response = fetch(&market, &token, cid, Some(&gap)).await;
    assert_eq!(response.status(), 206);
    assert_eq!(header(&response, "x-hallmark-samples"), "0");
    response.bytes().await.unwrap();
    assert_eq!(market.receipts().await.len(), 3);

    // Past the end, several ranges, a malformed range: refused, never billed.
    let response = fetch(&market, &token, cid, Some(&format!("bytes={len}-"))).await;
    assert_eq!(response.status(), 416);
    assert_eq!(header(&response, "content-range"), format!("bytes */{len}"));
    assert_eq!(answer(response).await.1["code"], "range_not_satisfiable");
    let response = fetch(&market, &token, cid, Some("bytes=0-1,5-6")).await;
    assert_eq!(response.status(), 416);
    assert_eq!(header(&response, "content-range"), format!("bytes */{len}"));
    let (_, body) = answer(response).await;
    assert_eq!(body["code"], "one_range_only");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("one byte range per request")
    );
    let response = fetch(&market, &token, cid, Some("bytes=9-3")).await;
    assert_eq!(answer(response).await.0, 400);
    // A suffix range: the last bytes (tar padding at the end of a shard) are free.
    let response = fetch(&market, &token, cid, Some("bytes=-512")).await;
    assert_eq!(response.status(), 206);
    assert_eq!(header(&response, "x-hallmark-samples"), "0");
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 512..]
    );
    assert_eq!(market.receipts().await.len(), 3);

    // A cache that holds the shard asks with its ETag: 304, nothing sent, nothing billed.
    let response = market
        .http
        .get(market.url(&format!("/v1/shards/{cid}")))
        .bearer_auth(&token)
        .header("If-None-Match", format!("\"{cid}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(header(&response, "etag"), format!("\"{cid}\""));
    assert!(response.bytes().await.unwrap().is_empty());
    // HEAD: the headers a GET would send, free.
    let response = market
        .http
        .head(market.url(&format!("/v1/shards/{cid}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-length"), len.to_string());
    assert_eq!(header(&response, "x-hallmark-samples"), all);
    assert_eq!(market.receipts().await.len(), 3);

    // A new token is a new access: a new receipt.
    let (_, fresh) = token_for(&market, &key, &published.version).await;
    let response = fetch(&market, &fresh, cid, None).await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let receipts = market.receipts().await;
    assert_eq!(receipts.len(), 4);
    assert_eq!(receipts[3]["samples"], in_shard.len());
}

#[tokio::test]
async fn requests_are_billed_for_the_samples_they_cover() {
    metering(Database::Sqlite).await;
}

#[tokio::test]
async fn requests_are_billed_for_the_samples_they_cover_on_postgres() {
    metering(Database::Postgres).await;
}

/// Asserts the response is `status` with `code` and no shard bytes.
async fn refused(response: reqwest::Response, status: u16, code: &str) -> String {
    let (got, body) = answer(response).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tokens_that_must_not_open_a_shard_get_no_bytes() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let market = Market::start().await;
    let takes = market.publish_dataset("Ana", "takes").await;
    let songs = market.publish_dataset("Ben", "songs").await;
    let bo = market.buyer("Bo").await;
    let cy = market.buyer("Cy").await;
    let (entitlement, token) = token_for(&market, &bo, &takes.version).await;
    let cid = &takes.sealed.shards[0].0;
    let head = |token: String, extra: Option<(&'static str, String)>| {
        let mut request = market
            .http
            .head(market.url(&format!("/v1/shards/{cid}")))
            .bearer_auth(token);
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        request.send()
    };
    assert_eq!(head(token.clone(), None).await.unwrap().status(), 200);

    // No token, an API key instead of a token, a forged signature: 401.
    let response = market
        .http
        .get(market.url(&format!("/v1/shards/{cid}")))
        .send()
        .await
        .unwrap();
    assert!(
        refused(response, 401, "unauthorized")
            .await
            .contains("access token")
    );
    refused(fetch(&market, &bo, cid, None).await, 401, "unauthorized").await;
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut signature = b64.decode(signature).unwrap();
    signature[10] ^= 1;
    let forged = format!("{signed}.{}", b64.encode(&signature));
    let text = refused(
        fetch(&market, &forged, cid, None).await,
        401,
        "unauthorized",
    )
    .await;
    assert!(text.contains("signature"), "{text}");

    // Another version's shard: 403.
    let other = &songs.sealed.shards[0].0;
    let text = refused(
        fetch(&market, &token, other, None).await,
        403,
        "not_in_version",
    )
    .await;
    assert!(text.contains(&takes.version), "{text}");

    // Cy holds no entitlement: Bo's cannot be used, seen or revoked by her.
    let (status, _) = mint(&market, &cy, &entitlement).await;
    assert_eq!(status, 404);
    assert_eq!(revoke(&market, &cy, &entitlement).await.0, 404);
    let (_, list) = answer(
        market
            .http
            .get(market.url("/v1/buyer/entitlements"))
            .bearer_auth(&cy)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["entitlements"], json!([]));
    // Bo's token presented with Cy's key: refused; with Bo's own key: fine.
    let response = head(token.clone(), Some(("X-Hallmark-Buyer-Key", cy.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = fetch_with(&market, &token, cid, "X-Hallmark-Buyer-Key", &cy).await;
    refused(response, 403, "token_of_another_buyer").await;
    let response = head(token.clone(), Some(("X-Hallmark-Buyer-Key", bo.clone())))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The entitlement revoked: its tokens open nothing, no new ones are issued.
    let (status, revoked) = revoke(&market, &bo, &entitlement).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revokedAt"].is_string());
    refused(
        fetch(&market, &token, cid, None).await,
        403,
        "entitlement_revoked",
    )
    .await;
    let (status, body) = mint(&market, &bo, &entitlement).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("entitlement_revoked"))
    );

    // The version withdrawn: refused at once; no new entitlement to it.
    let (_, song_token) = token_for(&market, &bo, &songs.version).await;
    let (status, _) = crate::publish::withdraw(&market, &songs.creator_token, &songs.version).await;
    assert_eq!(status, 200);
    refused(
        fetch(&market, &song_token, other, None).await,
        403,
        "version_withdrawn",
    )
    .await;
    let (status, body) = entitle(&market, &bo, &songs.version).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("version_withdrawn"))
    );

    // Expired (the clock moves past the token's hour).
    let (_, token) = token_for(&market, &bo, &takes.version).await;
    market.clock.advance(3601);
    let text = refused(fetch(&market, &token, cid, None).await, 401, "unauthorized").await;
    assert!(text.contains("expired"), "{text}");

    // The buyer disabled: their key and tokens are refused.
    let (_, token) = token_for(&market, &bo, &takes.version).await;
    assert!(
        hallmark_market::buyers::disable(&market.state.db, "bo", market.state.now_unix())
            .await
            .unwrap()
    );
    refused(
        fetch(&market, &token, cid, None).await,
        403,
        "buyer_disabled",
    )
    .await;
    let (status, body) = entitle(&market, &bo, &takes.version).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("buyer_disabled"))
    );

    assert_eq!(market.receipts().await.len(), 0, "nothing was delivered");
}

async fn fetch_with(
    market: &Market,
    token: &str,
    cid: &str,
    name: &str,
    value: &str,
) -> reqwest::Response {
    market
        .http
        .get(market.url(&format!("/v1/shards/{cid}")))
        .bearer_auth(token)
        .header(name, value)
        .send()
        .await
        .unwrap()
}

/// A client that reads part of a large shard and goes away pays for the samples it was sent, no
/// more; fetching the same shard again with the same token then pays only for the rest.
#[tokio::test]
async fn a_client_that_leaves_early_pays_for_what_it_was_sent() {
    let market = Market::start().await;
    // One shard of four 16 MiB samples: more than loopback socket buffers hold for a client that stops.
    let files: Vec<(String, Vec<u8>)> = (0..4u8)
        .map(|i| {
            let bytes = (0..16usize << 20).map(|j| (j % 251) as u8 ^ i).collect();
            (format!("big{i}.bin"), bytes)
        })
        .collect();
    let published = market.publish_files("Ana", "big", &files, 256 << 20).await;
    let (cid, bytes) = &published.sealed.shards[0];
    assert!(bytes.len() > 64 << 20);
    let key = market.buyer("Bo").await;
    let (_, token) = token_for(&market, &key, &published.version).await;

    let mut response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.status(), 200);
    let mut read = 0usize;
    while read < 8 << 20 {
        read += response.chunk().await.unwrap().unwrap().len();
    }
    drop(response);
    // The first sample was sent (in part): it is paid for; the last one was not.
    let mut receipts = Vec::new();
    for _ in 0..100 {
        receipts = market.receipts().await;
        if !receipts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        receipts.len(),
        1,
        "a client that left paid nothing for what it took"
    );
    let first = receipts[0]["samples"].as_u64().unwrap();
    assert!(
        (1..4).contains(&first),
        "billed {first} of 4 samples for 8 MiB of 64"
    );
    let (first_data, _) = span(samples_in(&published, cid)[0]);
    assert_eq!(receipts[0]["range"]["first"], first_data);

    // Read to the end with the same token: only the rest is billed, 4 samples in all.
    let response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.bytes().await.unwrap().len(), bytes.len());
    let receipts = market.receipts().await;
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[1]["samples"].as_u64().unwrap(), 4 - first);
    // Again: nothing more.
    let response = fetch(&market, &token, cid, None).await;
    assert_eq!(response.bytes().await.unwrap().len(), bytes.len());
    assert_eq!(market.receipts().await.len(), 2);
}
