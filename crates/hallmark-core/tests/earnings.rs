//! Verifying a creator's earnings: a clean history verifies to the exact sums, and each kind of
//! tampering (a changed, dropped or double-counted receipt, a re-signed or removed statement, a
//! forked or shrunk log, another marketplace key) is caught with the right finding and excluded.
//!
//! Everything is real: receipts as JCS bytes, a C2SP log built by the appender, checkpoints and
//! statements signed with Ed25519 keys. Only the storage is memory.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr as _;

use hallmark_core::did::SigningIdentity;
use hallmark_core::earnings::statement::{self, Period, tally};
use hallmark_core::earnings::summary::{self, By};
use hallmark_core::earnings::verify::{
    self, Evidence, FindingKind, PublishedVersion, StoredReceipt, StoredStatement,
};
use hallmark_core::earnings::{ByteRange, Receipt, ReceiptStatus, Verification, money};
use hallmark_core::tlog::{self, EMPTY_ROOT, Hash, MemoryTiles};
use rust_decimal::Decimal;

const ORIGIN: &str = "market.test/log";
const NOW: &str = "2026-11-25T00:00:00Z";

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("decimal")
}

/// A marketplace's history with one creator: receipts logged among other creators' entries,
/// statements over them, checkpoints, proofs.
struct World {
    market: SigningIdentity,
    creator: String,
    store: MemoryTiles,
    size: u64,
    root: Hash,
    /// (log index, receipt) of the creator, in log order.
    receipts: Vec<(u64, Receipt)>,
    statements: Vec<StoredStatement>,
    checkpoints: Vec<String>,
    consistency: BTreeMap<(u64, u64), Vec<Hash>>,
    versions: Vec<PublishedVersion>,
    /// Sizes of the checkpoints signed so far.
    sizes: Vec<(u64, Hash)>,
}

fn receipt(n: u64, creator: &str, market: &str, shard: &str, samples: u64, day: u32) -> Receipt {
    let price = d("0.0007");
    let rate = d("0.8");
    let amount = money::amount(samples, price).expect("amount");
    Receipt {
        id: format!("r_{n:032x}"),
        time: format!("2026-11-{day:02}T10:{:02}:00Z", n % 60),
        marketplace: market.into(),
        creator: creator.into(),
        dataset: "d_1".into(),
        version: "v_1".into(),
        shard: shard.into(),
        range: ByteRange {
            first: 0,
            last: 511,
        },
        samples,
        buyer: format!("b_{:032x}", n % 3),
        price,
        amount,
        share_rate: rate,
        creator_share: money::creator_share(amount, rate).expect("share"),
        currency: "USD".into(),
    }
}

impl World {
    fn new() -> World {
        let market = SigningIdentity::generate();
        let creator = SigningIdentity::generate().public().to_string();
        World {
            creator,
            store: MemoryTiles::default(),
            size: 0,
            root: EMPTY_ROOT,
            receipts: Vec::new(),
            statements: Vec::new(),
            checkpoints: Vec::new(),
            consistency: BTreeMap::new(),
            versions: vec![PublishedVersion {
                version: "v_1".into(),
                price: d("0.0007"),
                currency: "USD".into(),
                shards: ["bafk_a".to_string(), "bafk_b".to_string()].into(),
            }],
            market,
            sizes: Vec::new(),
        }
    }

    /// Logs `count` receipts of the creator on `day`, each after an entry of another creator.
    fn sell(&mut self, count: u64, day: u32) {
        let market = self.market.public().to_string();
        let mut entries: Vec<Vec<u8>> = Vec::new();
        for _ in 0..count {
            entries.push(
                format!(
                    "someone else's receipt {}",
                    self.size + entries.len() as u64
                )
                .into_bytes(),
            );
            let n = self.receipts.len() as u64;
            let shard = if n.is_multiple_of(2) {
                "bafk_a"
            } else {
                "bafk_b"
            };
            let r = receipt(n, &self.creator, &market, shard, 1 + n % 4, day);
            let index = self.size + entries.len() as u64;
            entries.push(r.commitment().0.to_vec());
            self.receipts.push((index, r));
        }
        let batch = tlog::append(&self.store, self.size, &self.root, &entries).expect("appends");
        self.store.write_all(&batch.writes);
        self.size = batch.size;
        self.root = batch.root;
    }

    /// Signs a checkpoint of the log as it is, with a consistency proof from every earlier one.
    fn checkpoint(&mut self) -> String {
        let note =
            tlog::sign_checkpoint(&self.market, ORIGIN, self.size, &self.root).expect("signs");
        for &(old, _) in &self.sizes {
            let proof =
                tlog::prove_consistency(&self.store, old, self.size, &self.root).expect("proves");
            self.consistency.insert((old, self.size), proof);
        }
        self.sizes.push((self.size, self.root));
        note
    }

    /// Issues the next statement over the creator's receipts at `indexes`, signed by `key`.
    fn state(&mut self, indexes: &[u64], day: u32, key: Option<&SigningIdentity>) {
        let checkpoint = self.checkpoint();
        let counted: Vec<(u64, Receipt)> = self
            .receipts
            .iter()
            .filter(|(i, _)| indexes.contains(i))
            .cloned()
            .collect();
        let previous = self
            .statements
            .last()
            .map(|s| hallmark_core::digest::Sha256Digest::of(&s.bytes).hex());
        let sequence = self.statements.len() as u64 + 1;
        let claims = statement::claims(
            &self.creator,
            sequence,
            Period {
                start: format!("2026-11-{day:02}T00:00:00Z"),
                end: format!("2026-11-{:02}T00:00:00Z", day + 1),
            },
            previous,
            &counted,
            checkpoint,
        )
        .expect("claims");
        let signer = key.unwrap_or(&self.market);
        let id = format!("s_{sequence}");
        let signed = statement::issue(
            signer,
            &format!("urn:hallmark:statement:{id}"),
            &claims,
            &format!("2026-11-{:02}T00:00:10Z", day + 1),
        )
        .expect("issues");
        self.statements.push(StoredStatement {
            id,
            bytes: serde_json::to_vec(&signed).expect("bytes"),
        });
    }

    /// Indexes of the creator's receipts `range` (by their order).
    fn indexes(&self, range: std::ops::Range<usize>) -> Vec<u64> {
        self.receipts[range].iter().map(|(i, _)| *i).collect()
    }

    fn stored_receipts(&self) -> Vec<StoredReceipt> {
        self.receipts
            .iter()
            .map(|(index, r)| StoredReceipt {
                index: *index,
                bytes: r.canonical_bytes().into(),
            })
            .collect()
    }

    fn verify_with(&self, receipts: &[StoredReceipt], pinned: &SigningIdentity) -> Verification {
        let public = pinned.public();
        verify::verify(&Evidence {
            marketplace: &public,
            log_origin: ORIGIN,
            creator: &self.creator,
            versions: &self.versions,
            statements: &self.statements,
            receipts,
            checkpoints: &self.checkpoints,
            consistency: &self.consistency,
            tiles: &self.store,
            now: NOW,
        })
    }

    fn verify(&self) -> Verification {
        self.verify_with(&self.stored_receipts(), &self.market)
    }
}

/// Three days: two stated (6 and 5 receipts), one open (4 receipts), the latest checkpoint seen.
fn history() -> World {
    let mut world = World::new();
    world.sell(6, 20);
    let first = world.indexes(0..6);
    world.state(&first, 20, None);
    world.sell(5, 21);
    let second = world.indexes(6..11);
    world.state(&second, 21, None);
    world.sell(4, 22);
    let latest = world.checkpoint();
    world.checkpoints.push(latest);
    world
}

fn share_of(verification: &Verification, status: ReceiptStatus) -> Decimal {
    verification
        .with_status(status)
        .map(|r| r.access.creator_share)
        .sum::<Decimal>()
        .normalize()
}

fn kinds(verification: &Verification) -> BTreeSet<FindingKind> {
    verification.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn a_clean_history_verifies_to_the_exact_sums() {
    let world = history();
    let v = world.verify();
    assert!(v.findings.is_empty(), "{:#?}", v.findings);
    let stated: Vec<&Receipt> = world.receipts[..11].iter().map(|(_, r)| r).collect();
    let open: Vec<&Receipt> = world.receipts[11..].iter().map(|(_, r)| r).collect();
    assert_eq!(v.statemented, tally(stated).expect("tally"));
    assert_eq!(v.estimated, tally(open).expect("tally"));
    assert_eq!(v.statements.len(), 2);
    assert_eq!(v.statements[1].verified, v.statements[1].stated);
    // 6 + 5 stated receipts of 1..4 samples at 0.0007 × 0.8.
    let samples: u64 = world.receipts[..11].iter().map(|(_, r)| r.samples).sum();
    assert_eq!(
        v.statemented.totals[0].creator_share,
        (Decimal::from(samples) * d("0.00056")).normalize()
    );
    // The summary splits statemented, paid and estimated, and counts buyers.
    let paid: BTreeSet<String> = ["s_1".to_string()].into();
    let days = summary::summarize(&v, By::Day, &paid);
    assert_eq!(
        days.iter().map(|l| l.group.as_str()).collect::<Vec<_>>(),
        ["2026-11-20", "2026-11-21", "2026-11-22"]
    );
    assert_eq!(days[0].paid, days[0].statemented);
    assert_eq!(days[1].paid, Decimal::ZERO);
    assert_eq!(days[2].estimated, days[2].share);
    assert_eq!(days[0].buyers, 3);
    let rows = summary::asset_rows(&v, &paid);
    assert_eq!(rows.len(), 6, "{rows:#?}");
    assert_eq!(rows[0].payout_status, "paid");
    assert_eq!(rows[5].payout_status, "estimated");
    assert_eq!(rows[5].period_start, "2026-11-22T00:00:00Z");
    let total: Decimal = rows.iter().map(|r| r.share).sum();
    assert_eq!(
        total.normalize(),
        share_of(&v, ReceiptStatus::Statemented) + share_of(&v, ReceiptStatus::Estimated)
    );
}

#[test]
fn a_changed_receipt_amount_is_not_in_the_log() {
    let world = history();
    let clean = share_of(&world.verify(), ReceiptStatus::Statemented);
    let mut receipts = world.stored_receipts();
    let (index, mut changed) = world.receipts[2].clone();
    changed.samples += 10;
    changed.amount = money::amount(changed.samples, changed.price).expect("amount");
    changed.creator_share =
        money::creator_share(changed.amount, changed.share_rate).expect("share");
    receipts[2].bytes = changed.canonical_bytes().into();
    let v = world.verify_with(&receipts, &world.market);
    let finding = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::ReceiptNotInLog)
        .expect("a not-in-log finding");
    assert_eq!(finding.receipt, Some(index));
    assert_eq!(finding.statement.as_deref(), Some("s_1"));
    assert_eq!(finding.excluded["USD"], changed.creator_share.to_string());
    assert!(kinds(&v).contains(&FindingKind::TotalsDiffer));
    assert_eq!(
        share_of(&v, ReceiptStatus::Statemented),
        clean - world.receipts[2].1.creator_share
    );
}

#[test]
fn a_dropped_receipt_is_missing_and_the_totals_differ() {
    let world = history();
    let mut receipts = world.stored_receipts();
    let dropped = receipts.remove(7);
    let v = world.verify_with(&receipts, &world.market);
    let missing = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::ReceiptMissing)
        .expect("a missing-receipt finding");
    assert_eq!(missing.receipt, Some(dropped.index));
    assert_eq!(missing.sequence, Some(2));
    let totals = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::TotalsDiffer && f.field == "totals[USD]")
        .expect("the totals differ");
    assert!(totals.expected.starts_with("4 receipts"), "{totals:?}");
    assert!(totals.found.starts_with("5 receipts"), "{totals:?}");
}

#[test]
fn a_receipt_in_two_statements_is_counted_once() {
    let mut world = World::new();
    world.sell(4, 20);
    let first = world.indexes(0..4);
    world.state(&first, 20, None);
    world.sell(3, 21);
    let mut second = world.indexes(4..7);
    second.push(first[1]);
    world.state(&second, 21, None);
    let v = world.verify();
    let twice = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::ReceiptCountedTwice)
        .expect("counted twice");
    assert_eq!(twice.receipt, Some(first[1]));
    assert_eq!(twice.statement.as_deref(), Some("s_2"));
    assert!(twice.expected.contains("s_1"), "{twice:?}");
    let all: Vec<&Receipt> = world.receipts.iter().map(|(_, r)| r).collect();
    assert_eq!(v.statemented, tally(all).expect("tally"));
    assert!(kinds(&v).contains(&FindingKind::TotalsDiffer));
}

#[test]
fn a_statement_signed_by_another_key_is_not_counted() {
    let mut world = World::new();
    world.sell(4, 20);
    let first = world.indexes(0..4);
    world.state(&first, 20, None);
    world.sell(3, 21);
    let second = world.indexes(4..7);
    let intruder = SigningIdentity::generate();
    world.state(&second, 21, Some(&intruder));
    let v = world.verify();
    let finding = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::StatementSignature)
        .expect("signature finding");
    assert_eq!(finding.statement.as_deref(), Some("s_2"));
    assert!(
        finding.found.contains(&intruder.public().to_string()),
        "{finding:?}"
    );
    let first_only: Vec<&Receipt> = world.receipts[..4].iter().map(|(_, r)| r).collect();
    assert_eq!(v.statemented, tally(first_only).expect("tally"));
    assert_eq!(v.with_status(ReceiptStatus::Statemented).count(), 4);
}

#[test]
fn a_statement_removed_from_the_chain_breaks_it() {
    let mut world = World::new();
    for day in 0..3 {
        world.sell(2, 20 + day);
        let indexes = world.indexes(2 * day as usize..2 * day as usize + 2);
        world.state(&indexes, 20 + day, None);
    }
    world.statements.remove(1);
    let v = world.verify();
    let found = kinds(&v);
    assert!(found.contains(&FindingKind::StatementSequence), "{found:?}");
    assert!(found.contains(&FindingKind::StatementChain), "{found:?}");
    let sequence = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::StatementSequence)
        .expect("sequence");
    assert_eq!(
        (sequence.expected.as_str(), sequence.found.as_str()),
        ("2", "3")
    );
    assert_eq!(sequence.statement.as_deref(), Some("s_3"));
    assert!(!sequence.excluded.is_empty());
    // Only the first statement's receipts are verified as statemented.
    let first: Vec<&Receipt> = world.receipts[..2].iter().map(|(_, r)| r).collect();
    assert_eq!(v.statemented, tally(first).expect("tally"));
}

#[test]
fn a_forked_log_is_found() {
    let mut world = history();
    let heads = world.checkpoints.clone();
    // Another tree of the size of the second statement's checkpoint, signed by the marketplace.
    let (size, _) = world.sizes[1];
    let mut other = MemoryTiles::default();
    let entries: Vec<Vec<u8>> = (0..size)
        .map(|i| format!("fork {i}").into_bytes())
        .collect();
    let batch = tlog::append(&other, 0, &EMPTY_ROOT, &entries).expect("appends");
    other.write_all(&batch.writes);
    let fork = tlog::sign_checkpoint(&world.market, ORIGIN, size, &batch.root).expect("signs");
    world.checkpoints = vec![fork];
    let v = world.verify();
    let finding = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::LogForked)
        .expect("fork finding");
    assert_eq!(finding.field, "checkpoint root");
    // A smaller head fetched after a larger one: the log went back.
    let (small, _) = world.sizes[0];
    let behind =
        tlog::sign_checkpoint(&world.market, ORIGIN, small + 1, &batch.root).expect("signs");
    world.checkpoints = heads;
    world.checkpoints.push(behind);
    let v = world.verify();
    let finding = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::LogShrank)
        .expect("shrank finding");
    assert_eq!(finding.found, (small + 1).to_string());
}

#[test]
fn another_marketplace_key_verifies_nothing() {
    let world = history();
    let other = SigningIdentity::generate();
    let v = world.verify_with(&world.stored_receipts(), &other);
    let signatures = v
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::StatementSignature)
        .count();
    assert_eq!(signatures, 2);
    assert!(kinds(&v).contains(&FindingKind::ReceiptNotYours));
    assert_eq!(v.with_status(ReceiptStatus::Statemented).count(), 0);
    assert_eq!(v.with_status(ReceiptStatus::Estimated).count(), 0);
}

#[test]
fn a_receipt_for_another_price_or_shard_is_not_published() {
    let mut world = history();
    world.versions[0].price = d("0.0008");
    let v = world.verify();
    let finding = v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::ReceiptNotPublished)
        .expect("not published");
    assert_eq!(
        (
            finding.field.as_str(),
            finding.expected.as_str(),
            finding.found.as_str()
        ),
        ("price", "0.0008", "0.0007")
    );
    assert_eq!(
        v.with_status(ReceiptStatus::Excluded).count(),
        world.receipts.len()
    );
    world.versions[0].price = d("0.0007");
    world.versions[0].shards.remove("bafk_b");
    let v = world.verify();
    assert!(
        v.findings
            .iter()
            .all(|f| f.kind != FindingKind::ReceiptNotPublished || f.field == "shard")
    );
    assert_eq!(
        v.with_status(ReceiptStatus::Excluded).count(),
        world
            .receipts
            .iter()
            .filter(|(_, r)| r.shard == "bafk_b")
            .count()
    );
}

#[test]
fn missing_tiles_leave_a_statement_unverified() {
    let mut world = history();
    // The level-0 tiles of every tree size seen (one partial tile each).
    world
        .store
        .files
        .retain(|path, _| !path.starts_with("tile/0/"));
    let v = world.verify();
    assert!(kinds(&v).contains(&FindingKind::ProofMissing));
    assert_eq!(v.with_status(ReceiptStatus::Statemented).count(), 0);
}

#[test]
fn a_receipt_that_does_not_read_is_malformed_not_missing_and_left_out() {
    let world = history();
    let mut receipts = world.stored_receipts();
    let broken = receipts[7].index;
    receipts[7].bytes = b"{\"id\": \"r_not json".to_vec().into();
    let v = world.verify_with(&receipts, &world.market);
    let malformed: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.receipt == Some(broken))
        .map(|f| f.kind)
        .collect();
    assert_eq!(
        malformed,
        vec![FindingKind::ReceiptMalformed],
        "{:?}",
        v.findings
    );
    assert!(kinds(&v).contains(&FindingKind::TotalsDiffer));
    assert!(v.receipts.iter().all(|r| r.index != broken));
}
