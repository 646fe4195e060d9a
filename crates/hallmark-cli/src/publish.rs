//! `hallmark publish`: check a signed seal, upload the shards a joined marketplace lacks (streamed
//! from the source files, resumable from the journal), then list the version; `--status` shows,
//! offline, what an interrupted publish still needs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hallmark_client::publishing::{self, PublishError, PublishJob, Stage};
use hallmark_client::upload::{
    Journal, ShardState, UploadError, UploadEvent, UploadOptions, journal::JOURNAL_FILE,
};
use hallmark_core::digest::Sha256Digest;
use hallmark_core::manifest::{self, ManifestFacts};
use hallmark_core::progress::CancelToken;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{BadInput, keys, market, progress};
use hallmark_client::joined::{Joined, JoinedStore};

/// The most decimal places a per-sample price may have (the marketplace's rule).
const MAX_PRICE_DECIMALS: usize = 12;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The output folder of `hallmark seal`, signed with `hallmark sign`.
    pub out: PathBuf,
    /// The marketplace (needed only when you joined several).
    #[arg(long)]
    pub market: Option<String>,
    /// The price per sample, such as 0.002; needed the first time this version is published.
    #[arg(long, requires = "currency")]
    pub price: Option<String>,
    /// ISO 4217 code of the price, such as EUR.
    #[arg(long, requires = "price")]
    pub currency: Option<String>,
    /// Shards sent at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub streams: u16,
    /// The most bytes per second to send, all streams together, such as 10MiB (default: no limit).
    #[arg(long, value_parser = rate)]
    pub limit_rate: Option<u64>,
    /// The source folder, if it moved since sealing.
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// Show what an interrupted publish of OUT still needs, from the journal (offline).
    #[arg(long, conflicts_with_all = ["price", "currency", "limit_rate", "source"])]
    pub status: bool,
    /// Check a published version: the marketplace reads every shard back from its storage and
    /// answers its size and SHA-256; with the catalog's manifest and index, all are compared with
    /// the seal. Exit code 1 if anything differs.
    #[arg(long, conflicts_with_all = ["price", "currency", "limit_rate", "source", "status"])]
    pub check: bool,
}

/// A rate as people write it (10MiB, 500KB), in bytes per second.
fn rate(text: &str) -> Result<u64, String> {
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) if size.as_u64() >= 1024 => Ok(size.as_u64()),
        _ => Err(format!(
            "{text:?} is not a rate of at least 1KiB (per second); write it like 10MiB or 500KiB"
        )),
    }
}

/// A per-sample price as the marketplace takes it: a positive decimal, digits and at most one
/// point, at most 12 decimal places.
fn check_price(text: &str) -> Result<String, BadInput> {
    let bad = |why: &str| {
        BadInput(format!(
            "--price {text:?} {why}; write a positive decimal such as --price 0.002"
        ))
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad("is not a decimal number"));
    }
    if fraction.len() > MAX_PRICE_DECIMALS {
        return Err(bad("has more than 12 decimal places"));
    }
    if whole.bytes().chain(fraction.bytes()).all(|b| b == b'0') {
        return Err(bad("is zero"));
    }
    Ok(text.to_owned())
}

fn check_currency(code: &str) -> Result<String, BadInput> {
    hallmark_core::earnings::Currency::parse(code)
        .map(|c| c.code().to_owned())
        .map_err(|e| BadInput(format!("--currency: {e}")))
}

pub fn run(args: &PublishArgs, json: bool, quiet: bool) -> anyhow::Result<()> {
    let data = keys::data_dir()?;
    let store = JoinedStore::new(&data);
    let usage = format!("hallmark publish {} --market URL", args.out.display());
    let joined = market::which(&store, args.market.as_deref(), &usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the network runtime")?;
    if args.status {
        return runtime.block_on(status(&data, &joined, &args.out, json));
    }
    if args.check {
        return runtime.block_on(check_published(
            &Publishing {
                data: &data,
                store: &store,
                joined: &joined,
                json,
                quiet,
            },
            args,
        ));
    }
    let terms = match (&args.price, &args.currency) {
        (Some(price), Some(currency)) => Some((check_price(price)?, check_currency(currency)?)),
        _ => None,
    };
    runtime.block_on(publish(
        &Publishing {
            data: &data,
            store: &store,
            joined: &joined,
            json,
            quiet,
        },
        args,
        terms,
    ))
}

/// Where a publish runs: the data folder, the marketplace joined, how to print.
struct Publishing<'a> {
    data: &'a Path,
    store: &'a JoinedStore,
    joined: &'a Joined,
    json: bool,
    quiet: bool,
}

/// `PublishError` in the CLI's words: what to run to fix it.
fn explained(error: PublishError, out: &Path) -> anyhow::Error {
    let sign_first = format!("sign it first: hallmark sign {}", out.display());
    match error {
        PublishError::NotSigned { .. }
        | PublishError::SignatureStale { .. }
        | PublishError::SignatureInvalid { .. } => {
            BadInput(format!("{error}; {sign_first}")).into()
        }
        PublishError::WrongSigner {
            ref signer,
            ref origin,
            ref creator,
            ..
        } => BadInput(format!(
            "{error}; sign it with that key (hallmark sign {} --key {creator}) or join with this one \
             (hallmark market join {origin} --name NAME --key {signer})",
            out.display(),
        ))
        .into(),
        PublishError::NeedsPrice { .. } => BadInput(format!(
            "{error}: add --price AMOUNT --currency CODE (such as --price 0.002 --currency EUR)"
        ))
        .into(),
        PublishError::Client(e) => market::failed(e),
        // A file changed since the seal: its message asks for a reseal, not a retry.
        PublishError::Upload(e @ (UploadError::Source { .. } | UploadError::Cancelled)) => e.into(),
        PublishError::Upload(e) => anyhow::Error::new(e).context(format!(
            "the upload stopped; what was confirmed is kept: hallmark publish --status {} shows it, and hallmark publish {} continues",
            out.display(),
            out.display()
        )),
        other => other.into(),
    }
}

fn say(ctx: &Publishing<'_>, line: &str) {
    if !ctx.json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

async fn publish(
    ctx: &Publishing<'_>,
    args: &PublishArgs,
    terms: Option<(String, String)>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let out = &args.out;
    let (_, key) = keys::choose(
        Some(&ctx.joined.creator),
        "hallmark market join URL --name NAME --key DID",
    )?;
    let cancel = CancelToken::new();
    {
        // Ctrl-C stops the upload cleanly (what the marketplace confirmed is kept).
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
    }
    let shelf = keys::credential_shelf()?;
    let job = PublishJob {
        data: ctx.data,
        store: ctx.store,
        joined: ctx.joined,
        key: Arc::new(key),
        terms,
        options: UploadOptions {
            streams: usize::from(args.streams),
            max_bytes_per_second: args.limit_rate,
            ..UploadOptions::default()
        },
        cancel,
        now: Arc::new(keys::now),
        shelf: &shelf,
    };
    let bar = transfer_bar(ctx.quiet || ctx.json, "upload");
    let on_progress = {
        let bar = bar.clone();
        Arc::new(move |event: &UploadEvent| {
            bar.set_length(event.bytes_total);
            bar.set_position(event.bytes_done);
            let state = match &event.state {
                ShardState::Retrying { why, .. } => format!(", retrying: {why}"),
                _ => String::new(),
            };
            bar.set_message(format!(
                "{}/{} shards{state}",
                event.shards_done, event.shards_total
            ));
        })
    };
    let upload_started = std::sync::Mutex::new(Instant::now());
    let on_stage = |stage: &Stage| match stage {
        Stage::Checked {
            name,
            version,
            shards,
            total_bytes,
            missing,
            missing_bytes,
            signer,
        } => {
            if *missing == 0 {
                bar.finish_and_clear();
            }
            *upload_started.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            say(
                ctx,
                &format!(
                    "check:   {name} {version}, {shards} shards ({}), signed by {signer}; {} lacks {missing} of them ({})",
                    progress::human_bytes(*total_bytes),
                    ctx.joined.origin,
                    progress::human_bytes(*missing_bytes)
                ),
            );
        }
        Stage::Uploaded { shards, bytes_sent } => {
            bar.finish_and_clear();
            let took = upload_started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed();
            say(
                ctx,
                &if *shards == 0 {
                    "upload:  nothing to send, the marketplace holds every shard from you"
                        .to_owned()
                } else {
                    format!(
                        "upload:  {shards} shards sent ({}) in {:.1} s",
                        progress::human_bytes(*bytes_sent),
                        took.as_secs_f64()
                    )
                },
            );
        }
    };
    let result =
        publishing::publish(out, args.source.as_deref(), job, &on_stage, on_progress).await;
    bar.finish_and_clear();
    let report = result.map_err(|e| explained(e, out))?;
    let mut stdout = std::io::stdout().lock();
    if ctx.json {
        let mut value = serde_json::to_value(&report)?;
        value["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        let what = if report.already_published {
            "already published"
        } else {
            "published"
        };
        writeln!(
            stdout,
            "publish: {what}: {} {} is {} at {} {} per sample",
            report.name, report.version, report.version_id, report.price, report.currency
        )?;
        writeln!(stdout, "  {}", report.catalog_url)?;
    }
    Ok(())
}

/// A transfer's bar on standard error, after its stage's name: bytes, items, rate and time left.
pub(crate) fn transfer_bar(hidden: bool, stage: &str) -> ProgressBar {
    let bar = if hidden {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    let template = format!(
        "{:<9}[{{bar:30}}] {{decimal_bytes}}/{{decimal_total_bytes}} {{msg}} {{decimal_bytes_per_sec}}, {{eta}} left",
        format!("{stage}:")
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// One shard as `--status` shows it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ShardStatus {
    cid: String,
    size: u64,
    /// `done`, `partial` (an upload started; `confirmed` bytes of it confirmed) or `not-started`
    /// (here: the marketplace may hold it already, publish asks).
    state: &'static str,
    confirmed: u64,
}

/// What `--status` shows.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PublishStatus {
    origin: String,
    name: String,
    version: String,
    manifest_sha256: String,
    /// The version id, once listed.
    published: Option<String>,
    price: Option<String>,
    currency: Option<String>,
    done: usize,
    partial: usize,
    not_started: usize,
    /// Bytes still to send at most (less when the marketplace holds some shards already).
    bytes_left: u64,
    shards: Vec<ShardStatus>,
    journal: PathBuf,
}

async fn status(data: &Path, joined: &Joined, out: &Path, json: bool) -> anyhow::Result<()> {
    let (manifest_bytes, facts) = manifest::read_file(out)
        .with_context(|| format!("cannot show {}: it is not a sealed dataset", out.display()))?;
    let manifest_sha256 = Sha256Digest::of(&manifest_bytes).hex();
    let origin = joined.origin.as_str();
    let journal_path = data.join(JOURNAL_FILE);
    // Looking must not create the journal.
    let (entries, record) = if journal_path.exists() {
        let journal = Journal::open(data).await?;
        (
            journal.entries(origin).await?,
            journal.publish_record(origin, &manifest_sha256).await?,
        )
    } else {
        (Vec::new(), None)
    };
    let status = shard_status(
        &facts,
        &entries,
        origin,
        manifest_sha256,
        record,
        journal_path,
    );
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&status)?)?;
        return Ok(());
    }
    writeln!(
        stdout,
        "{} {} to {}",
        status.name, status.version, status.origin
    )?;
    let terms = match (&status.price, &status.currency) {
        (Some(price), Some(currency)) => format!("{price} {currency} per sample"),
        _ => "no price given yet".to_owned(),
    };
    match &status.published {
        Some(id) => writeln!(stdout, "  published: as {id} ({terms})")?,
        None if status.price.is_some() => {
            writeln!(stdout, "  published: not yet; started here at {terms}")?
        }
        None => writeln!(stdout, "  published: not from here")?,
    }
    writeln!(
        stdout,
        "  shards:    {} in all: {} uploaded, {} in progress, {} not started here",
        status.shards.len(),
        status.done,
        status.partial,
        status.not_started
    )?;
    for shard in &status.shards {
        match shard.state {
            "partial" => writeln!(
                stdout,
                "    in progress  {}: {} of {} confirmed",
                shard.cid,
                progress::human_bytes(shard.confirmed),
                progress::human_bytes(shard.size)
            )?,
            "not-started" => writeln!(
                stdout,
                "    not started  {} ({})",
                shard.cid,
                progress::human_bytes(shard.size)
            )?,
            _ => {}
        }
    }
    if status.published.is_none() {
        writeln!(
            stdout,
            "  still to send: at most {} (the marketplace may hold some shards already); continue with: hallmark publish {}",
            progress::human_bytes(status.bytes_left),
            out.display()
        )?;
    }
    Ok(())
}

fn shard_status(
    facts: &ManifestFacts,
    entries: &[hallmark_client::upload::JournalEntry],
    origin: &str,
    manifest_sha256: String,
    record: Option<hallmark_client::upload::PublishRecord>,
    journal: PathBuf,
) -> PublishStatus {
    let shards: Vec<ShardStatus> = facts
        .shards
        .iter()
        .map(|shard| {
            let entry = entries
                .iter()
                .find(|e| e.cid == shard.cid && e.size == shard.size);
            let (state, confirmed) = match entry {
                Some(e) if e.done => ("done", shard.size),
                Some(e) => ("partial", e.offset.min(shard.size)),
                None => ("not-started", 0),
            };
            ShardStatus {
                cid: shard.cid.clone(),
                size: shard.size,
                state,
                confirmed,
            }
        })
        .collect();
    let count = |state: &str| shards.iter().filter(|s| s.state == state).count();
    PublishStatus {
        origin: origin.to_owned(),
        name: facts.name.clone(),
        version: facts.version.clone(),
        manifest_sha256,
        published: record.as_ref().and_then(|r| r.version_id.clone()),
        price: record.as_ref().map(|r| r.price.clone()),
        currency: record.as_ref().map(|r| r.currency.clone()),
        done: count("done"),
        partial: count("partial"),
        not_started: count("not-started"),
        bytes_left: shards.iter().map(|s| s.size - s.confirmed).sum(),
        shards,
        journal,
    }
}

/// One shard as `--check` found it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ShardCheck {
    cid: String,
    expected_size: u64,
    expected_sha256: String,
    /// `None`: the marketplace does not hold it from you.
    found_size: Option<u64>,
    found_sha256: Option<String>,
}

/// `hallmark publish --check OUT`: every shard read back by the marketplace, and the catalog's
/// manifest and index, compared with the seal.
async fn check_published(ctx: &Publishing<'_>, args: &PublishArgs) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let out = &args.out;
    let origin = ctx.joined.origin.as_str();
    let (manifest_bytes, facts) = manifest::read_file(out)
        .with_context(|| format!("cannot check {}: it is not a sealed dataset", out.display()))?;
    let manifest_sha256 = Sha256Digest::of(&manifest_bytes).hex();
    let journal = Journal::open(ctx.data).await?;
    let version_id = journal
        .publish_record(origin, &manifest_sha256)
        .await?
        .and_then(|record| record.version_id)
        .filter(|id| !id.is_empty() && id.len() <= 100 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .ok_or_else(|| {
            BadInput(format!(
                "{} {} is not published to {origin} from this studio; publish it first: hallmark publish {}",
                facts.name,
                facts.version,
                out.display()
            ))
        })?;
    let now = keys::now();
    let (_, key) = keys::choose(
        Some(&ctx.joined.creator),
        "hallmark market join URL --name NAME --key DID",
    )?;
    let mut client = market::pinned_client(ctx.joined)?;
    let session = client.sign_in(&key, &now).await.map_err(market::failed)?;
    ctx.store.save_session(client.origin(), &session)?;
    let bar = transfer_bar(ctx.quiet || ctx.json, "check");
    bar.set_length(facts.shards.iter().map(|s| s.size).sum());
    let client_ref = &client;
    let bar_ref = &bar;
    let checks: Vec<anyhow::Result<ShardCheck>> = futures_util::stream::iter(facts.shards.iter())
        .map(|shard| async move {
            let found = match client_ref.stored_shard(&shard.cid).await {
                Ok(stored) => Some(stored),
                Err(hallmark_client::ClientError::Refused { status: 404, .. }) => None,
                Err(e) => return Err(market::failed(e)),
            };
            bar_ref.inc(shard.size);
            Ok(ShardCheck {
                cid: shard.cid.clone(),
                expected_size: shard.size,
                expected_sha256: shard.sha256.clone(),
                found_size: found.as_ref().map(|f| f.size),
                found_sha256: found.map(|f| f.sha256),
            })
        })
        .buffered(usize::from(args.streams))
        .collect()
        .await;
    bar.finish_and_clear();
    let checks = checks.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let catalog = publishing::catalog_differences(&client, &version_id, &manifest_bytes, &facts)
        .await
        .map_err(market::failed)?;
    let bad: Vec<&ShardCheck> = checks
        .iter()
        .filter(|c| {
            c.found_size != Some(c.expected_size)
                || c.found_sha256.as_deref() != Some(c.expected_sha256.as_str())
        })
        .collect();
    let ok = bad.is_empty() && catalog.is_empty();
    let mut stdout = std::io::stdout().lock();
    if ctx.json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "origin": origin,
                "versionId": version_id,
                "ok": ok,
                "shards": checks,
                "catalog": catalog,
            }))?
        )?;
    } else {
        for c in &bad {
            match (&c.found_size, &c.found_sha256) {
                (None, _) => writeln!(stdout, "missing: shard {}", c.cid)?,
                (Some(size), sha) => writeln!(
                    stdout,
                    "differs: shard {}: {size} bytes, sha256 {} (the seal: {} bytes, sha256 {})",
                    c.cid,
                    sha.as_deref().unwrap_or("?"),
                    c.expected_size,
                    c.expected_sha256
                )?,
            }
        }
        for difference in &catalog {
            writeln!(stdout, "differs: {difference}")?;
        }
        if ok {
            writeln!(
                stdout,
                "check:   {} {} at {origin} ({version_id}): all {} shards, the manifest and the index have the size and SHA-256 of the seal",
                facts.name,
                facts.version,
                checks.len()
            )?;
        } else {
            writeln!(
                stdout,
                "check:   {} of {} shards and {} catalog files differ from the seal; publish again to resend missing shards, and report stored differences to the marketplace's operator",
                bad.len(),
                checks.len(),
                catalog.len()
            )?;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(crate::Invalid.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_positive_decimals() {
        assert_eq!(check_price("0.002").unwrap(), "0.002");
        assert_eq!(check_price("12").unwrap(), "12");
        for bad in [
            "",
            ".",
            "0",
            "0.000",
            "-1",
            "1e3",
            "1.2.3",
            "0.0000000000001",
            " 1",
        ] {
            assert!(check_price(bad).is_err(), "{bad:?}");
        }
        assert!(check_price("abc").unwrap_err().0.contains("--price 0.002"));
    }

    #[test]
    fn currencies_are_iso_4217() {
        assert_eq!(check_currency("EUR").unwrap(), "EUR");
        assert!(check_currency("eur").is_err());
        assert!(check_currency("EURO").is_err());
        assert!(check_currency("ZZZ").is_err());
    }

    #[test]
    fn rates_need_a_unit_size() {
        assert_eq!(rate("10MiB").unwrap(), 10 << 20);
        assert!(rate("10").is_err());
        assert!(rate("fast").is_err());
    }
}
