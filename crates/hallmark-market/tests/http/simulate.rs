//! The buyer simulator against a real marketplace: its own tally (from the catalog's indexes and
//! the entitlements' terms) equals the receipts the marketplace committed, per creator and currency.

use std::collections::BTreeMap;

use hallmark_core::earnings::Receipt;
use hallmark_market::simulate::{Earned, Plan};
use rust_decimal::Decimal;

use crate::harness::{Market, Options};

#[tokio::test]
async fn the_simulators_tally_equals_the_receipts_committed() {
    let market = Market::start_with(Options {
        open_buyer_signup: true,
        ..Options::default()
    })
    .await;
    let first = market.publish_dataset("Ada", "field-recordings").await;
    let second = market.publish_dataset("Grace", "street-photos").await;
    let tally = hallmark_market::simulate::run(&Plan {
        market: market.base.clone(),
        buyers: 3,
        accesses: 150,
        seed: 7,
        concurrency: 6,
    })
    .await
    .unwrap();
    assert_eq!(tally.accesses, 150);
    assert!(tally.retries > 0, "the plan repeats some accesses");
    assert!(
        tally.whole_shards > 0 && tally.sample_ranges > 0,
        "{tally:?}"
    );
    assert_eq!(tally.creators.len(), 2, "both creators sold");

    // The marketplace's receipts, summed the same way.
    let mut billed: BTreeMap<String, BTreeMap<String, Earned>> = BTreeMap::new();
    for body in market.receipts().await {
        let receipt = Receipt::from_json(body.to_string().as_bytes()).unwrap();
        let earned = billed
            .entry(receipt.creator.clone())
            .or_default()
            .entry(receipt.currency.clone())
            .or_default();
        earned.receipts += 1;
        earned.samples += receipt.samples;
        earned.gross = (earned.gross + receipt.amount).normalize();
        earned.creator_share = (earned.creator_share + receipt.creator_share).normalize();
    }
    // Samples and money are exact whatever order the concurrent downloads were served in; how
    // many receipts they make is not (a whole shard before or after one of its samples under the
    // same token is one receipt or three), so receipt counts are compared only as a bound.
    let money = |all: &BTreeMap<String, BTreeMap<String, Earned>>| {
        all.iter()
            .map(|(creator, currencies)| {
                let amounts: BTreeMap<String, (u64, Decimal, Decimal)> = currencies
                    .iter()
                    .map(|(c, e)| (c.clone(), (e.samples, e.gross, e.creator_share)))
                    .collect();
                (creator.clone(), amounts)
            })
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(money(&billed), money(&tally.creators));
    for (creator, currencies) in &billed {
        for (currency, earned) in currencies {
            let planned = &tally.creators[creator][currency];
            assert!(
                earned.receipts >= 1 && earned.receipts <= earned.samples,
                "{creator} {currency}: {earned:?} (plan order: {planned:?})"
            );
        }
    }
    // A sample is paid for once per token: repeats and samples a whole shard already paid for
    // add nothing.
    let receipts: u64 = tally.totals.values().map(|e| e.receipts).sum();
    assert!(receipts <= tally.accesses - tally.retries, "{tally:?}");
    let eur = &tally.totals["EUR"];
    assert_eq!(
        eur.gross,
        Decimal::from(eur.samples) * "0.002".parse::<Decimal>().unwrap()
    );
    assert_ne!(first.version, second.version);
}

#[tokio::test]
async fn the_simulator_says_how_to_open_sign_up() {
    let market = Market::start().await;
    market.publish_dataset("Ada", "field-recordings").await;
    let refused = hallmark_market::simulate::run(&Plan {
        market: market.base.clone(),
        buyers: 1,
        accesses: 1,
        seed: 1,
        concurrency: 1,
    })
    .await
    .unwrap_err();
    assert!(
        refused.to_string().contains("--open-buyer-signup"),
        "{refused}"
    );
}
