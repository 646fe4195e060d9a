//! `hallmark earnings …`: fetch statements and receipts from a joined marketplace, verify them
//! against its pinned key and its log (offline), sum them, and export them for an accountant.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use hallmark_client::earnings::{self, EarningsStore, Stored, export};
use hallmark_client::upload::{Journal, journal::JOURNAL_FILE};
use hallmark_core::earnings::Verification;
use hallmark_core::earnings::statement::Total;
use hallmark_core::earnings::summary::{self, By};

use crate::{BadInput, Invalid, keys, market};
use hallmark_client::joined::{Joined, JoinedStore};

#[derive(Debug, Subcommand)]
pub enum EarningsCommand {
    /// Download new statements, receipts, checkpoints and log tiles from the marketplace you
    /// joined (its key must be the pinned one), store them, and verify everything stored.
    Fetch {
        /// The marketplace (needed only when you joined several).
        #[arg(long)]
        market: Option<String>,
    },
    /// Verified earnings per currency, then by dataset, version, shard, day, week or month:
    /// statemented, paid and estimated (open period), with distinct buyers. Offline.
    Summary {
        #[arg(long)]
        market: Option<String>,
        /// What to group by.
        #[arg(long, default_value = "dataset", value_parser = parse_by)]
        by: By,
    },
    /// Write a CSV for your accountant (one row per asset per period) and, with --proofs, the
    /// verified statements with their receipts and tlog-proof files. Offline.
    Export {
        #[arg(long)]
        market: Option<String>,
        /// The CSV file to write.
        #[arg(long)]
        csv: PathBuf,
        /// A new (or empty) folder for statements, receipts and proofs.
        #[arg(long)]
        proofs: Option<PathBuf>,
    },
    /// Re-check everything stored, offline: signatures, the log (inclusion and consistency), the
    /// statement chain, totals and prices. Exit code 1 when there are findings.
    Verify {
        #[arg(long)]
        market: Option<String>,
    },
}

fn parse_by(text: &str) -> Result<By, String> {
    text.parse()
}

pub fn run(command: &EarningsCommand, json: bool, quiet: bool) -> anyhow::Result<()> {
    let data = keys::data_dir()?;
    let joined_store = JoinedStore::new(&data);
    let url = match command {
        EarningsCommand::Fetch { market }
        | EarningsCommand::Summary { market, .. }
        | EarningsCommand::Export { market, .. }
        | EarningsCommand::Verify { market } => market.as_deref(),
    };
    let joined = market::which(&joined_store, url, "hallmark earnings … --market URL")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the network runtime")?;
    runtime.block_on(async {
        let store = EarningsStore::open(&data).await?;
        match command {
            EarningsCommand::Fetch { .. } => {
                fetch(&data, &joined_store, &joined, &store, json, quiet).await
            }
            EarningsCommand::Summary { by, .. } => {
                let (stored, verification) = verified(&store, &joined).await?;
                print_summary(&joined, &stored, &verification, *by, json)
            }
            EarningsCommand::Export { csv, proofs, .. } => {
                let (stored, verification) = verified(&store, &joined).await?;
                export(&stored, &verification, csv, proofs.as_deref(), json)
            }
            EarningsCommand::Verify { .. } => {
                let (_, verification) = verified(&store, &joined).await?;
                print_verification(&joined, &verification, json)
            }
        }
    })
}

/// Everything stored for `joined`, verified against its pinned key now.
async fn verified(
    store: &EarningsStore,
    joined: &Joined,
) -> anyhow::Result<(Stored, Verification)> {
    if store.market(&joined.origin).await?.is_none() {
        return Err(BadInput(format!(
            "nothing is stored from {}; fetch first: hallmark earnings fetch --market {}",
            joined.origin, joined.origin
        ))
        .into());
    }
    Ok(earnings::verify_stored(
        store,
        &joined.origin,
        &joined.marketplace_did()?,
        &joined.creator,
        &keys::now(),
    )
    .await?)
}

async fn fetch(
    data: &Path,
    joined_store: &JoinedStore,
    joined: &Joined,
    store: &EarningsStore,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let now = keys::now();
    let mut client = market::pinned_client(joined)?;
    let session = market::session(joined_store, &mut client, joined, &now).await?;
    let client = client.with_session(session);
    // Reading what was published must not create the journal.
    let journal = if data.join(JOURNAL_FILE).exists() {
        Some(Journal::open(data).await?)
    } else {
        None
    };
    let say = |phase: &str| {
        if !quiet && !json {
            eprintln!("fetching {phase}…");
        }
    };
    let report = earnings::fetch(
        &client,
        store,
        journal.as_ref(),
        &joined.creator,
        &now,
        &say,
    )
    .await
    .map_err(|e| match e {
        earnings::EarningsError::Client(e) => market::failed(e),
        other => other.into(),
    })?;
    let (_, verification) = verified(store, joined).await?;
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "fetched": report,
            "statements": verification.statements.len(),
            "receipts": verification.receipts.len(),
            "findings": verification.findings,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(
            out,
            "fetched from {}: {} new statements, {} new receipts, {} checkpoints, {} consistency proofs, {} tiles, {} versions",
            report.origin,
            report.statements,
            report.receipts,
            report.checkpoints,
            report.consistency_proofs,
            report.tiles,
            report.versions
        )?;
        for sequence in &report.rewritten {
            writeln!(
                out,
                "warning: the marketplace now serves statement {sequence} with other bytes than it served before; the first ones are kept"
            )?;
        }
        writeln!(
            out,
            "stored in {}: {} statements, {} receipts; {} findings{}",
            store.path().display(),
            verification.statements.len(),
            verification.receipts.len(),
            verification.findings.len(),
            if verification.findings.is_empty() {
                String::new()
            } else {
                " (see: hallmark earnings verify)".into()
            }
        )?;
    }
    Ok(())
}

/// A per-currency total for people: `0.01474 USD (payable 0.01)`.
fn money(total: &Total) -> String {
    match total.payable {
        Some(payable) => format!(
            "{} {} (payable {payable})",
            total.creator_share, total.currency
        ),
        None => format!("{} {}", total.creator_share, total.currency),
    }
}

fn print_summary(
    joined: &Joined,
    stored: &Stored,
    verification: &Verification,
    by: By,
    json: bool,
) -> anyhow::Result<()> {
    let lines = summary::summarize(verification, by, &stored.paid());
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "origin": joined.origin,
            "by": by,
            "statemented": verification.statemented.totals,
            "estimated": verification.estimated.totals,
            "lines": lines,
            "findings": verification.findings.len(),
            "payouts": stored.payouts,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "verified earnings from {} (your share, exact decimals)",
        joined.origin
    )?;
    for total in &verification.statemented.totals {
        writeln!(out, "  statemented: {}", money(total))?;
    }
    for total in &verification.estimated.totals {
        writeln!(out, "  estimated (open period): {}", money(total))?;
    }
    for statement in &verification.statements {
        let payout = stored.payouts.get(&statement.id);
        let stated: Vec<String> = statement.stated.iter().map(money).collect();
        writeln!(
            out,
            "  statement {} ({}) {} to {}: {}; payout {}{}{}",
            statement.sequence,
            statement.id,
            statement.period.start,
            statement.period.end,
            stated.join(", "),
            payout.map_or("unknown", |p| p.status.as_str()),
            payout
                .and_then(|p| p.reference.as_deref())
                .map(|r| format!(" ref {r}"))
                .unwrap_or_default(),
            if statement.findings > 0 {
                format!(" — {} findings", statement.findings)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(
        out,
        "{:<40} {:>4} {:>8} {:>8} {:>6} {:>14} {:>14} {:>14} {:>14} {:>14}",
        format!("by {}", serde_json::to_value(by)?.as_str().unwrap_or("")),
        "cur",
        "accesses",
        "samples",
        "buyers",
        "gross",
        "share",
        "statemented",
        "paid",
        "estimated"
    )?;
    for line in &lines {
        writeln!(
            out,
            "{:<40} {:>4} {:>8} {:>8} {:>6} {:>14} {:>14} {:>14} {:>14} {:>14}",
            line.group,
            line.currency,
            line.accesses,
            line.samples,
            line.buyers,
            line.gross.to_string(),
            line.share.to_string(),
            line.statemented.to_string(),
            line.paid.to_string(),
            line.estimated.to_string()
        )?;
    }
    if !verification.findings.is_empty() {
        writeln!(
            out,
            "{} findings: their amounts are left out above; see hallmark earnings verify",
            verification.findings.len()
        )?;
    }
    Ok(())
}

fn print_verification(
    joined: &Joined,
    verification: &Verification,
    json: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "origin": joined.origin,
            "marketplace": joined.marketplace,
            "statements": verification.statements,
            "receipts": verification.receipts.len(),
            "statemented": verification.statemented.totals,
            "estimated": verification.estimated.totals,
            "findings": verification.findings,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(
            out,
            "{} statements and {} receipts from {} checked against {} and its log",
            verification.statements.len(),
            verification.receipts.len(),
            joined.origin,
            joined.marketplace
        )?;
        if let Some(latest) = &verification.latest {
            writeln!(out, "  latest checkpoint: {} entries", latest.size)?;
        }
        for finding in &verification.findings {
            writeln!(out, "finding: {finding}")?;
        }
        if verification.findings.is_empty() {
            writeln!(
                out,
                "no findings: every statement, receipt and checkpoint verified"
            )?;
        }
    }
    if verification.findings.is_empty() {
        Ok(())
    } else {
        Err(Invalid.into())
    }
}

fn export(
    stored: &Stored,
    verification: &Verification,
    csv: &Path,
    proofs: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let rows = export::rows(stored, verification);
    export::csv_file(stored, &rows, csv)?;
    let written = proofs
        .map(|dir| export::proofs(stored, verification, dir))
        .transpose()?;
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "csv": csv,
            "rows": rows.len(),
            "proofs": written,
            "findings": verification.findings.len(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(out, "wrote {} ({} rows)", csv.display(), rows.len())?;
        if let Some(written) = written {
            writeln!(
                out,
                "wrote {}: {} statements, {} receipts with tlog-proof files",
                written.folder.display(),
                written.statements,
                written.proofs
            )?;
        }
        if !verification.findings.is_empty() {
            writeln!(
                out,
                "note: {} findings; their amounts are not in the export (see hallmark earnings verify)",
                verification.findings.len()
            )?;
        }
    }
    Ok(())
}
