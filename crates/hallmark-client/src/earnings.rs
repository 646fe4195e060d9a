//! A creator's earnings from a marketplace: fetched (statements, receipts, the checkpoints they
//! are anchored to, consistency proofs and the log tiles needed), stored in `earnings.sqlite`, and
//! verified offline with the core's [`hallmark_core::earnings::verify`].
//!
//! [`fetch`] is incremental (statements after the last stored, or from the first still pending
//! payout; receipts after the highest stored index; only tiles not stored) and idempotent. Every
//! answer is bounded and its shape checked before it is stored; what is stored is still untrusted
//! and [`verify_stored`] re-checks all of it. The marketplace's key is checked against the pin on
//! every call by [`MarketClient`], which refuses a changed one.

pub mod export;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use hallmark_core::did::PublicIdentity;
use hallmark_core::earnings::receipt::MAX_RECEIPT_BYTES;
use hallmark_core::earnings::statement::{self, MAX_STATEMENT_BYTES};
use hallmark_core::earnings::verify::{self, Evidence, PublishedVersion};
use hallmark_core::earnings::{Receipt, Verification};
use hallmark_core::tlog::{self, Hash, MAX_PROOF_HASHES, TILE_WIDTH};
use rust_decimal::Decimal;

use crate::upload::Journal;
use crate::{ClientError, MarketClient};
pub use store::{EarningsStore, PayoutState, Put, STORE_FILE, StoreError, Stored};

/// Statements asked for per page (each at most [`MAX_STATEMENT_BYTES`]).
const STATEMENTS_PER_PAGE: u64 = 8;
/// The largest page of statements read.
const MAX_STATEMENT_PAGE_BYTES: usize = 2 * MAX_STATEMENT_BYTES;
/// Receipts asked for per page (the marketplace's most).
const RECEIPTS_PER_PAGE: u64 = 1000;
/// The largest page of receipts read: 1,000 receipts of at most 4 KiB, JSON-escaped.
const MAX_RECEIPT_PAGE_BYTES: usize = 16 << 20;
/// The largest small JSON answer read (log info, a consistency proof).
const MAX_SMALL_BYTES: usize = 256 << 10;
/// The largest catalog entry read (a version lists every shard).
const MAX_CATALOG_BYTES: usize = 64 << 20;

/// Why earnings could not be fetched or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EarningsError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An answer of the right JSON shape whose content is not what a marketplace may send.
    #[error("{origin} sent {what} that Hallmark cannot use: {detail}; nothing of it was stored")]
    Unusable {
        origin: String,
        what: &'static str,
        detail: String,
    },
    /// The store holds another marketplace's (or creator's) earnings under this address.
    #[error(
        "the earnings stored for {origin} came from marketplace {stored} (creator {stored_creator}), \
         but you joined {pinned} (creator {creator}); nothing was fetched. If the marketplace \
         really changed its key, move {} away to start a new record",
        path.display()
    )]
    OtherMarketplace {
        origin: String,
        stored: String,
        stored_creator: String,
        pinned: String,
        creator: String,
        path: std::path::PathBuf,
    },
}

/// `GET /v1/log`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogInfo {
    origin: String,
    checkpoint: Option<String>,
}

/// `GET /v1/creator/statements`.
#[derive(Debug, serde::Deserialize)]
struct StatementPage {
    statements: Vec<StatementRecord>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatementRecord {
    id: String,
    sequence: u64,
    document: String,
    payout: Payout,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payout {
    status: String,
    reference: Option<String>,
    paid_at: Option<String>,
}

/// `GET /v1/creator/receipts`.
#[derive(Debug, serde::Deserialize)]
struct ReceiptPage {
    receipts: Vec<ReceiptRecord>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptRecord {
    log_index: u64,
    document: String,
}

/// `GET /v1/log/consistency`.
#[derive(Debug, serde::Deserialize)]
struct ConsistencyProof {
    from: u64,
    size: u64,
    hashes: Vec<String>,
}

/// `GET /v1/catalog/{id}`: the fields earnings needs.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogVersion {
    id: String,
    price: String,
    currency: String,
    manifest_sha256: String,
    creator: CatalogCreator,
    shards: Vec<CatalogShard>,
}

#[derive(Debug, serde::Deserialize)]
struct CatalogCreator {
    did: String,
}

#[derive(Debug, serde::Deserialize)]
struct CatalogShard {
    cid: String,
}

/// What one [`fetch`] added.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchReport {
    pub origin: String,
    pub statements: u64,
    pub receipts: u64,
    pub checkpoints: u64,
    pub consistency_proofs: u64,
    pub tiles: u64,
    pub versions: u64,
    /// Sequences of statements the marketplace now serves with other bytes than the ones stored
    /// (the stored ones are kept and verified; this is a rewritten history).
    pub rewritten: Vec<u64>,
}

/// An id that goes into a URL path or a file name: 1–100 ASCII letters, digits, `_` or `-`.
pub fn id_ok(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The marketplace's statement ids: `s_` and 32 hex digits.
fn statement_id_ok(id: &str) -> bool {
    id.strip_prefix("s_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A payout reference or date as shown: at most 200 printable characters.
fn text_ok(text: &str) -> bool {
    text.len() <= 200 && !text.chars().any(char::is_control)
}

impl MarketClient {
    fn unusable(&self, what: &'static str, detail: impl Into<String>) -> EarningsError {
        EarningsError::Unusable {
            origin: self.origin().to_string(),
            what,
            detail: detail.into(),
        }
    }
}

/// Fetches `creator`'s new earnings from the signed-in `client` (pinned to the marketplace the
/// creator joined) into `store`; `journal` names the versions this studio published. `now` (RFC
/// 3339) opens statements to plan the tiles. `progress` is told each phase.
pub async fn fetch(
    client: &MarketClient,
    store: &EarningsStore,
    journal: Option<&Journal>,
    creator: &str,
    now: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<FetchReport, EarningsError> {
    let origin = client.origin().to_string();
    let mut report = FetchReport {
        origin: origin.clone(),
        ..FetchReport::default()
    };
    progress("checking the marketplace's key and the log");
    let info: LogInfo = client.get_json("/v1/log", false, MAX_SMALL_BYTES).await?;
    let pinned = client
        .marketplace_did()
        .cloned()
        .ok_or_else(|| client.unusable("its identity", "no key learned"))?;
    let record = store::MarketRecord {
        marketplace: pinned.to_string(),
        creator: creator.to_owned(),
        log_origin: info.origin.clone(),
    };
    match store.market(&origin).await? {
        Some(stored) if stored.marketplace != record.marketplace || stored.creator != creator => {
            return Err(EarningsError::OtherMarketplace {
                origin,
                stored: stored.marketplace,
                stored_creator: stored.creator,
                pinned: record.marketplace,
                creator: creator.to_owned(),
                path: store.path().to_path_buf(),
            });
        }
        Some(stored) if stored.log_origin != info.origin => {
            return Err(client.unusable(
                "a log",
                format!(
                    "its origin is now {:?}, it was {:?}",
                    info.origin, stored.log_origin
                ),
            ));
        }
        Some(_) => {}
        None => store.set_market(&origin, &record).await?,
    }
    if let Some(note) = &info.checkpoint {
        // Only a checkpoint the pinned key signed is worth keeping.
        tlog::open_checkpoint(note, &info.origin, &pinned)
            .map_err(|e| client.unusable("a checkpoint", e.to_string()))?;
        report.checkpoints += u64::from(store.put_checkpoint(&origin, note).await?);
    }

    progress("statements");
    let mut after = store.statements_after(&origin).await?;
    loop {
        let page: StatementPage = client
            .get_json(
                &format!("/v1/creator/statements?after={after}&limit={STATEMENTS_PER_PAGE}"),
                true,
                MAX_STATEMENT_PAGE_BYTES,
            )
            .await?;
        let count = page.statements.len() as u64;
        for record in page.statements {
            if record.sequence <= after || record.sequence > after + STATEMENTS_PER_PAGE {
                return Err(client.unusable(
                    "a statement",
                    format!("sequence {} is not after {after}", record.sequence),
                ));
            }
            after = record.sequence;
            if !statement_id_ok(&record.id)
                || record.document.len() > MAX_STATEMENT_BYTES
                || !matches!(record.payout.status.as_str(), "pending" | "paid")
                || !record.payout.reference.as_deref().is_none_or(text_ok)
                || !record.payout.paid_at.as_deref().is_none_or(text_ok)
            {
                return Err(client.unusable(
                    "a statement",
                    format!(
                        "statement {} is not of the statement shape",
                        record.sequence
                    ),
                ));
            }
            let payout = PayoutState {
                status: record.payout.status,
                reference: record.payout.reference,
                paid_at: record.payout.paid_at,
            };
            match store
                .put_statement(
                    &origin,
                    record.sequence,
                    &record.id,
                    record.document.as_bytes(),
                    &payout,
                )
                .await?
            {
                Put::New => report.statements += 1,
                Put::Same => {}
                Put::Different => report.rewritten.push(record.sequence),
            }
        }
        if count < STATEMENTS_PER_PAGE {
            break;
        }
    }

    progress("receipts");
    let mut after = store.last_receipt(&origin).await?;
    loop {
        let query = match after {
            Some(index) => format!("/v1/creator/receipts?after={index}&limit={RECEIPTS_PER_PAGE}"),
            None => format!("/v1/creator/receipts?limit={RECEIPTS_PER_PAGE}"),
        };
        let page: ReceiptPage = client
            .get_json(&query, true, MAX_RECEIPT_PAGE_BYTES)
            .await?;
        let count = page.receipts.len() as u64;
        let mut rows = Vec::with_capacity(page.receipts.len());
        for record in page.receipts {
            if after.is_some_and(|a| record.log_index <= a)
                || record.document.len() > MAX_RECEIPT_BYTES
            {
                return Err(client.unusable(
                    "a receipt",
                    format!(
                        "log index {} is out of order or too large",
                        record.log_index
                    ),
                ));
            }
            after = Some(record.log_index);
            rows.push((record.log_index, record.document.into_bytes()));
        }
        report.receipts += store.put_receipts(&origin, &rows).await?;
        if count < RECEIPTS_PER_PAGE {
            break;
        }
    }

    progress("versions");
    report.versions = fetch_versions(client, store, journal, creator).await?;

    progress("consistency proofs and tiles");
    let stored = store.load(&origin).await?;
    let plan = plan(&stored, &pinned, &info.origin, now);
    for (old, new) in plan.consistency {
        if stored.consistency.contains_key(&(old, new)) {
            continue;
        }
        let proof: ConsistencyProof = client
            .get_json(
                &format!("/v1/log/consistency?from={old}&size={new}"),
                false,
                MAX_SMALL_BYTES,
            )
            .await?;
        let hashes = decode_hashes(&proof.hashes)
            .filter(|_| proof.from == old && proof.size == new)
            .ok_or_else(|| client.unusable("a consistency proof", format!("{old} → {new}")))?;
        store.put_consistency(&origin, old, new, &hashes).await?;
        report.consistency_proofs += 1;
    }
    let have = store.tile_paths(&origin).await?;
    for path in plan.tiles.difference(&have) {
        let expected =
            tile_bytes(path).ok_or_else(|| client.unusable("a tile plan", path.clone()))?;
        let bytes = client
            .get_bytes(&format!("/log/{path}"), false, expected)
            .await?;
        if bytes.len() != expected {
            return Err(client.unusable(
                "a tile",
                format!("{path} is {} bytes, not {expected}", bytes.len()),
            ));
        }
        store.put_tile(&origin, path, &bytes).await?;
        report.tiles += 1;
    }
    Ok(report)
}

/// The length of the tile at C2SP `path`: 32 bytes per hash, 256 hashes unless `.p/W`.
fn tile_bytes(path: &str) -> Option<usize> {
    match tlog::LogPath::parse(path).ok()? {
        tlog::LogPath::Tile { width, .. } => Some(usize::from(width) * tlog::HASH_SIZE),
        _ => None,
    }
    .filter(|&n| n > 0 && n <= usize::from(TILE_WIDTH) * tlog::HASH_SIZE)
}

fn decode_hashes(lines: &[String]) -> Option<Vec<Hash>> {
    if lines.len() > MAX_PROOF_HASHES {
        return None;
    }
    lines
        .iter()
        .map(|line| {
            base64::engine::general_purpose::STANDARD
                .decode(line)
                .ok()?
                .try_into()
                .ok()
        })
        .collect()
}

/// What verification will need: consistency proofs (older, newer size) in the order checkpoints
/// are seen, and the tiles for every inclusion check.
struct Plan {
    consistency: Vec<(u64, u64)>,
    tiles: BTreeSet<String>,
}

fn plan(stored: &Stored, marketplace: &PublicIdentity, log_origin: &str, now: &str) -> Plan {
    let mut tiles = BTreeSet::new();
    // Every checkpoint's size: verification checks each against the next larger one.
    let mut sizes = BTreeSet::new();
    let mut stated = BTreeSet::new();
    for statement in &stored.statements {
        let Ok(claims) = statement::open(&statement.bytes, marketplace, now) else {
            continue;
        };
        let Ok(checkpoint) = tlog::open_checkpoint(&claims.checkpoint, log_origin, marketplace)
        else {
            continue;
        };
        sizes.insert(checkpoint.size);
        let indexes: Vec<u64> = claims
            .receipts
            .iter()
            .copied()
            .filter(|&i| i < checkpoint.size)
            .collect();
        stated.extend(indexes.iter().copied());
        tiles.extend(tlog::inclusion_tiles(checkpoint.size, &indexes).unwrap_or_default());
    }
    let mut latest = None;
    for note in &stored.checkpoints {
        if let Ok(checkpoint) = tlog::open_checkpoint(note, log_origin, marketplace) {
            sizes.insert(checkpoint.size);
            if latest.is_none_or(|size| checkpoint.size > size) {
                latest = Some(checkpoint.size);
            }
        }
    }
    if let Some(size) = latest {
        let open: Vec<u64> = stored
            .receipts
            .iter()
            .map(|r| r.index)
            .filter(|i| !stated.contains(i) && *i < size)
            .collect();
        tiles.extend(tlog::inclusion_tiles(size, &open).unwrap_or_default());
    }
    let sizes: Vec<u64> = sizes.into_iter().collect();
    let consistency = sizes.windows(2).map(|pair| (pair[0], pair[1])).collect();
    Plan { consistency, tiles }
}

/// Records the versions this creator published: each listed publish in the journal (its price
/// and currency are what the creator asked for; its shards from the catalog entry whose manifest
/// digest is the one published), then any other version their receipts name that the catalog
/// says is theirs. Returns how many were recorded.
async fn fetch_versions(
    client: &MarketClient,
    store: &EarningsStore,
    journal: Option<&Journal>,
    creator: &str,
) -> Result<u64, EarningsError> {
    let origin = client.origin().to_string();
    let mut known: BTreeMap<String, (String, String, Option<String>)> = BTreeMap::new();
    if let Some(journal) = journal {
        for record in journal
            .listed(&origin)
            .await
            .map_err(|e| client.unusable("nothing", e.to_string()))?
        {
            if let Some(id) = record.version_id {
                known.insert(
                    id,
                    (record.price, record.currency, Some(record.manifest_sha256)),
                );
            }
        }
    }
    let stored = store.load(&origin).await?;
    let named: BTreeSet<String> = stored
        .receipts
        .iter()
        .filter_map(|r| Receipt::from_json(&r.bytes).ok())
        .map(|r| r.version)
        .collect();
    let mut count = 0;
    for id in known.keys().cloned().chain(named).collect::<BTreeSet<_>>() {
        if !id_ok(&id) {
            continue;
        }
        let entry: CatalogVersion = client
            .get_json(&format!("/v1/catalog/{id}"), false, MAX_CATALOG_BYTES)
            .await?;
        let bad = |detail: String| client.unusable("a catalog entry", detail);
        if entry.id != id {
            return Err(bad(format!("asked for {id}, got {}", entry.id)));
        }
        let (price, currency, source) = match known.get(&id) {
            Some((price, currency, Some(manifest))) if *manifest == entry.manifest_sha256 => {
                (price.clone(), currency.clone(), "journal")
            }
            Some(_) => {
                return Err(bad(format!(
                    "version {id} lists a manifest other than the one you published"
                )));
            }
            None if entry.creator.did == creator => (entry.price, entry.currency, "catalog"),
            None => continue,
        };
        let price: Decimal = price
            .parse()
            .map_err(|_| bad(format!("price {price:?} of {id} is not a decimal")))?;
        let version = PublishedVersion {
            version: id,
            price,
            currency,
            shards: entry.shards.into_iter().map(|s| s.cid).collect(),
        };
        store.put_version(&origin, &version, source).await?;
        count += 1;
    }
    Ok(count)
}

/// Verifies everything stored for `origin` against the pinned `marketplace` key, offline (on a
/// blocking thread: a million receipts take about a second of CPU).
pub async fn verify_stored(
    store: &EarningsStore,
    origin: &str,
    marketplace: &PublicIdentity,
    creator: &str,
    now: &str,
) -> Result<(Stored, Verification), EarningsError> {
    let stored = store.load(origin).await?;
    let log_origin = store
        .market(origin)
        .await?
        .map(|m| m.log_origin)
        .unwrap_or_default();
    let (marketplace, creator, now) = (*marketplace, creator.to_owned(), now.to_owned());
    let verified = tokio::task::spawn_blocking(move || {
        let verification = verify::verify(&Evidence {
            marketplace: &marketplace,
            log_origin: &log_origin,
            creator: &creator,
            versions: &stored.versions,
            statements: &stored.statements,
            receipts: &stored.receipts,
            checkpoints: &stored.checkpoints,
            consistency: &stored.consistency,
            tiles: &stored.tiles,
            now: &now,
        });
        (stored, verification)
    })
    .await;
    verified.map_err(|e| {
        EarningsError::Store(StoreError {
            path: store.path().to_path_buf(),
            detail: format!("verification stopped: {e}"),
        })
    })
}
