//! The buyer simulator: makes buyers, entitlements and real HTTP downloads (whole shards and single
//! samples by Range) against a running marketplace, and keeps its own tally of what should be
//! billed, so demos show earnings and tests compare the marketplace's receipts with an account
//! kept by someone else.
//!
//! The tally is computed from the catalog's index (samples per shard, one sample per sample range)
//! and the entitlement's terms with the core's money rules, never from what the server reports.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use hallmark_core::digest::Sha256Digest;
use hallmark_core::earnings::money;
use hallmark_core::seal::IndexedSample;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rust_decimal::Decimal;

use crate::buyers::{AccessToken, Entitlement, NewBuyer};
use crate::catalog::{CatalogPage, VersionSummary};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The marketplace's origin, `http://127.0.0.1:8787`.
    pub market: String,
    pub buyers: u32,
    pub accesses: u32,
    pub seed: u64,
    /// Downloads in flight at once.
    pub concurrency: usize,
}

/// One creator's money in one currency, as the simulator counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Earned {
    /// Receipts if the requests were served in plan order (one per run of samples a token had
    /// not paid for); concurrent downloads can merge or split runs, so the marketplace's count may
    /// differ. Samples and amounts are exact in any order.
    pub receipts: u64,
    pub samples: u64,
    #[serde(with = "rust_decimal::serde::str")]
    pub gross: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub creator_share: Decimal,
}

/// The simulator's own account of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Requests that delivered their bytes.
    pub accesses: u64,
    /// Of those, repeats of an earlier request (same token, shard and range).
    pub retries: u64,
    /// Whole-shard downloads and single-sample ranges that paid for at least one sample (a
    /// sample is paid for once per token).
    pub whole_shards: u64,
    pub sample_ranges: u64,
    pub bytes: u64,
    /// Per creator (did:key), per currency.
    pub creators: BTreeMap<String, BTreeMap<String, Earned>>,
    /// Per currency, all creators.
    pub totals: BTreeMap<String, Earned>,
}

/// A shard of a version on sale, with the byte span of each sample.
#[derive(Debug, Clone)]
struct Shard {
    cid: String,
    spans: Vec<(u64, u64)>,
}

#[derive(Debug, Clone)]
struct Offer {
    version: VersionSummary,
    shards: Vec<Shard>,
}

/// One planned request.
#[derive(Debug, Clone)]
struct Request {
    buyer: usize,
    offer: usize,
    shard: usize,
    /// `None`: the whole shard; else one sample (its index in the shard).
    sample: Option<usize>,
}

/// Runs `plan`: every request must deliver exactly the bytes asked for, or the run fails.
pub async fn run(plan: &Plan) -> anyhow::Result<Tally> {
    use anyhow::Context as _;
    let http = reqwest::Client::new();
    let base = plan.market.trim_end_matches('/').to_owned();
    let offers = offers(&http, &base).await?;
    anyhow::ensure!(
        !offers.is_empty(),
        "{base} lists no versions on sale; publish a dataset first (hallmark publish)"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    // Buyers, each with an entitlement and a token per version.
    let mut tokens: Vec<Vec<(String, Entitlement)>> = Vec::new();
    for b in 0..plan.buyers {
        let name = format!("Simulated buyer {} {}", plan.seed, b + 1);
        let response = http
            .post(format!("{base}/v1/buyers"))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        if response.status() == reqwest::StatusCode::FORBIDDEN {
            anyhow::bail!(
                "{base} does not let buyers sign up over HTTP; start it with --open-buyer-signup \
                 (HALLMARK_MARKET_OPEN_BUYER_SIGNUP=true) to simulate buyers"
            );
        }
        let buyer: NewBuyer = ok(response, "signing up a buyer").await?.json().await?;
        let mut mine = Vec::new();
        for offer in &offers {
            let entitlement: Entitlement = ok(
                http.post(format!("{base}/v1/buyer/entitlements"))
                    .bearer_auth(&buyer.api_key)
                    .json(&serde_json::json!({ "version": offer.version.id }))
                    .send()
                    .await?,
                "taking an entitlement",
            )
            .await?
            .json()
            .await?;
            let token: AccessToken = ok(
                http.post(format!(
                    "{base}/v1/buyer/entitlements/{}/tokens",
                    entitlement.id
                ))
                .bearer_auth(&buyer.api_key)
                .json(&serde_json::json!({}))
                .send()
                .await?,
                "asking for an access token",
            )
            .await?
            .json()
            .await?;
            mine.push((token.token, entitlement));
        }
        tokens.push(mine);
    }
    anyhow::ensure!(
        !tokens.is_empty(),
        "simulate at least one buyer (--buyers 1)"
    );
    // The plan: whole shards a quarter of the time, otherwise one sample; some repeats.
    let mut requests: Vec<Request> = Vec::with_capacity(plan.accesses as usize);
    for _ in 0..plan.accesses {
        if !requests.is_empty() && rng.next_u32() % 10 == 0 {
            let again = requests[rng.next_u32() as usize % requests.len()].clone();
            requests.push(again);
            continue;
        }
        let offer = rng.next_u32() as usize % offers.len();
        let shard = rng.next_u32() as usize % offers[offer].shards.len();
        let spans = &offers[offer].shards[shard].spans;
        let sample = (rng.next_u32() % 4 != 0 && !spans.is_empty())
            .then(|| rng.next_u32() as usize % spans.len());
        requests.push(Request {
            buyer: rng.next_u32() as usize % tokens.len(),
            offer,
            shard,
            sample,
        });
    }
    // Downloads, `concurrency` at a time; each checks its bytes.
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(plan.concurrency.max(1)));
    let mut running = tokio::task::JoinSet::new();
    for (n, request) in requests.iter().enumerate() {
        let permit = semaphore.clone().acquire_owned().await?;
        let (http, base) = (http.clone(), base.clone());
        let token = tokens[request.buyer][request.offer].0.clone();
        let shard = offers[request.offer].shards[request.shard].clone();
        let range = request.sample.map(|i| shard.spans[i]);
        running.spawn(async move {
            let _permit = permit;
            download(&http, &base, &token, &shard, range)
                .await
                .with_context(|| format!("access {} of the plan", n + 1))
        });
    }
    let mut bytes = 0;
    while let Some(done) = running.join_next().await {
        bytes += done??;
    }
    // The tally, from the plan alone.
    let mut tally = Tally {
        bytes,
        ..Tally::default()
    };
    // A sample is paid for once per token (metering.rs): what a request adds is the samples it
    // covers that its token has not paid for, one receipt per contiguous run of them.
    let mut seen = HashSet::new();
    let mut paid: HashMap<(usize, usize, usize), BTreeSet<usize>> = HashMap::new();
    for request in &requests {
        tally.accesses += 1;
        let key = (request.buyer, request.offer, request.shard, request.sample);
        if !seen.insert(key) {
            tally.retries += 1;
        }
        let (_, entitlement) = &tokens[request.buyer][request.offer];
        let offer = &offers[request.offer];
        let covered: Vec<usize> = match request.sample {
            None => (0..offer.shards[request.shard].spans.len()).collect(),
            Some(i) => vec![i],
        };
        let paid = paid
            .entry((request.buyer, request.offer, request.shard))
            .or_default();
        let new: Vec<usize> = covered.into_iter().filter(|i| paid.insert(*i)).collect();
        if new.is_empty() {
            continue;
        }
        match request.sample {
            None => tally.whole_shards += 1,
            Some(_) => tally.sample_ranges += 1,
        }
        let runs = 1 + new.windows(2).filter(|w| w[1] != w[0] + 1).count() as u64;
        let samples = new.len() as u64;
        let price: Decimal = entitlement.price.parse()?;
        let rate: Decimal = entitlement.share_rate.parse()?;
        let amount = money::amount(samples, price)?;
        let share = money::creator_share(amount, rate)?;
        let currency = entitlement.currency.clone();
        let creator = offer.version.creator.did.clone();
        for earned in [
            tally
                .creators
                .entry(creator)
                .or_default()
                .entry(currency.clone())
                .or_default(),
            tally.totals.entry(currency).or_default(),
        ] {
            earned.receipts += runs;
            earned.samples += samples;
            earned.gross = (earned.gross + amount).normalize();
            earned.creator_share = (earned.creator_share + share).normalize();
        }
    }
    Ok(tally)
}

/// Fails with the server's error message unless the response is a success.
async fn ok(response: reqwest::Response, doing: &str) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    anyhow::bail!("{doing}: the marketplace answered {status}: {body}")
}

/// Every version on sale with its shards and their samples' spans, from the catalog and indexes.
async fn offers(http: &reqwest::Client, base: &str) -> anyhow::Result<Vec<Offer>> {
    use anyhow::Context as _;
    let mut versions = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cursor) => format!(
                "{base}/v1/catalog?cursor={}",
                percent_encoding::utf8_percent_encode(cursor, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => format!("{base}/v1/catalog"),
        };
        let request = http.get(url);
        let page: CatalogPage = ok(
            request
                .send()
                .await
                .with_context(|| format!("cannot reach the marketplace at {base}"))?,
            "reading the catalog",
        )
        .await?
        .json()
        .await?;
        versions.extend(page.versions);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut offers = Vec::new();
    for version in versions {
        let index = ok(
            http.get(format!("{base}/v1/catalog/{}/index", version.id))
                .send()
                .await?,
            "reading an index",
        )
        .await?
        .bytes()
        .await?;
        let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
        for line in index.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let sample: IndexedSample = serde_json::from_slice(line)?;
            let cid = sample.shard.trim_end_matches(".tar").to_owned();
            let (Some(first), Some(last)) = (sample.files.first(), sample.files.last()) else {
                continue;
            };
            let shard = shards.entry(cid.clone()).or_insert_with(|| Shard {
                cid,
                spans: Vec::new(),
            });
            if last.offset + last.size > first.offset {
                shard
                    .spans
                    .push((first.offset, last.offset + last.size - 1));
            }
        }
        offers.push(Offer {
            version,
            shards: shards.into_values().collect(),
        });
    }
    Ok(offers)
}

/// Downloads `range` of `shard` (all of it when `None`) and checks the bytes: a whole shard
/// hashes to its CID, a range is exactly as long as asked. Returns the bytes received.
async fn download(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    shard: &Shard,
    range: Option<(u64, u64)>,
) -> anyhow::Result<u64> {
    let mut request = http
        .get(format!("{base}/v1/shards/{}", shard.cid))
        .bearer_auth(token);
    if let Some((first, last)) = range {
        request = request.header(reqwest::header::RANGE, format!("bytes={first}-{last}"));
    }
    let response = ok(request.send().await?, "downloading a shard").await?;
    let bytes = response.bytes().await?;
    match range {
        None => {
            let digest = Sha256Digest::of(&bytes);
            anyhow::ensure!(
                digest.cid() == shard.cid,
                "shard {} arrived with other bytes (CID {})",
                shard.cid,
                digest.cid()
            );
        }
        Some((first, last)) => anyhow::ensure!(
            bytes.len() as u64 == last - first + 1,
            "shard {} bytes {first}-{last} arrived as {} bytes",
            shard.cid,
            bytes.len()
        ),
    }
    Ok(bytes.len() as u64)
}
