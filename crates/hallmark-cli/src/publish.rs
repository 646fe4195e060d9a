//! `hallmark publish`: check a signed seal, upload the shards a joined marketplace lacks (streamed
//! from the source files, resumable from the journal), then list the version; `--status` shows,
//! offline, what an interrupted publish still needs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use hallmark_client::upload::{
    Journal, Renew, Shard, ShardState, UploadError, UploadEvent, UploadOptions, Uploader,
    journal::JOURNAL_FILE,
};
use hallmark_client::{PublishForm, Published};
use hallmark_core::credential::{self, CREDENTIAL_FILE};
use hallmark_core::digest::Sha256Digest;
use hallmark_core::manifest::{self, ManifestFacts};
use hallmark_core::progress::CancelToken;
use hallmark_core::publish::ShardSource;
use hallmark_core::seal::INDEX_FILE;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{BadInput, keys, market, progress};
use hallmark_client::joined::{self, Joined, JoinedStore};

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

/// The final report, `--json`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    origin: String,
    name: String,
    version: String,
    version_id: String,
    catalog_url: String,
    already_published: bool,
    price: String,
    currency: String,
    shards: usize,
    uploaded_shards: Vec<String>,
    already_held_shards: usize,
    bytes_sent: u64,
    seconds: f64,
}

/// Checks that `out` is signed, by the key that joined, for exactly its manifest and index.
fn check_signature(out: &Path, joined: &Joined, now: &str) -> anyhow::Result<String> {
    let sign_first = format!("sign it first: hallmark sign {}", out.display());
    let check = credential::check(out, now)?.ok_or_else(|| {
        BadInput(format!(
            "{} is not signed (no {CREDENTIAL_FILE}); {sign_first}",
            out.display()
        ))
    })?;
    if !check.differences.is_empty() {
        let differences: Vec<String> = check
            .differences
            .iter()
            .take(5)
            .map(ToString::to_string)
            .collect();
        return Err(BadInput(format!(
            "{} in {} is not a current signature of this seal ({}); {sign_first}",
            CREDENTIAL_FILE,
            out.display(),
            differences.join("; ")
        ))
        .into());
    }
    let signer = check.signer.ok_or_else(|| {
        BadInput(format!(
            "the signature in {} does not verify; {sign_first}",
            out.join(CREDENTIAL_FILE).display()
        ))
    })?;
    if signer != joined.creator {
        return Err(BadInput(format!(
            "{} was signed by {signer}, but you joined {} as {}; sign it with that key \
             (hallmark sign {} --key {}) or join with this one (hallmark market join {} --name NAME --key {signer})",
            out.display(),
            joined.origin,
            joined.creator,
            out.display(),
            joined.creator,
            joined.origin,
        ))
        .into());
    }
    Ok(signer)
}

/// The dataset credential as signed, to present.
fn dataset_credential(out: &Path) -> anyhow::Result<serde_json::Value> {
    let path = out.join(CREDENTIAL_FILE);
    let bytes = hallmark_core::untrusted::read_capped(
        &path,
        hallmark_core::creator::MAX_DOCUMENT_BYTES as u64,
    )?;
    hallmark_core::creator::parse(&bytes)
        .with_context(|| format!("{} is not a credential", path.display()))
}

fn say(ctx: &Publishing<'_>, line: &str) -> anyhow::Result<()> {
    if !ctx.json {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

async fn publish(
    ctx: &Publishing<'_>,
    args: &PublishArgs,
    terms: Option<(String, String)>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let out = &args.out;
    let origin = ctx.joined.origin.as_str();

    // Stage 1, check: the seal, the signature, the terms, then what the marketplace lacks.
    let now = keys::now();
    let (manifest_bytes, facts) = manifest::read_file(out).with_context(|| {
        format!(
            "cannot publish {}: it is not a sealed dataset",
            out.display()
        )
    })?;
    check_signature(out, ctx.joined, &now)?;
    let source = ShardSource::open(out, args.source.as_deref())
        .with_context(|| format!("cannot publish {}", out.display()))?;
    let dataset = dataset_credential(out)?;
    let manifest_sha256 = Sha256Digest::of(&manifest_bytes).hex();
    let journal = Journal::open(ctx.data).await?;
    let (price, currency) = match terms {
        Some(terms) => terms,
        None => match journal.publish_record(origin, &manifest_sha256).await? {
            Some(record) => (record.price, record.currency),
            None => {
                return Err(BadInput(format!(
                    "the first publish of {} {} to {origin} needs its price: add --price AMOUNT \
                     --currency CODE (such as --price 0.002 --currency EUR)",
                    facts.name, facts.version
                ))
                .into());
            }
        },
    };
    journal
        .intend(origin, &manifest_sha256, &price, &currency)
        .await?;

    let (_, key) = keys::choose(
        Some(&ctx.joined.creator),
        "hallmark market join URL --name NAME --key DID",
    )?;
    let mut client = market::pinned_client(ctx.joined)?;
    let session = client.sign_in(&key, &now).await.map_err(market::failed)?;
    ctx.store.save_session(client.origin(), &session)?;
    let creator = client.creator(&now).await.map_err(market::failed)?;
    market::keep(&creator, &client, &now)?;

    let options = UploadOptions {
        streams: usize::from(args.streams),
        max_bytes_per_second: args.limit_rate,
        ..UploadOptions::default()
    };
    // A session that ends during a long upload is made again with the same key; Ctrl-C stops
    // the upload cleanly (what the marketplace confirmed is kept).
    let key = Arc::new(key);
    let renew: Renew = {
        let (joined, key, store) = (ctx.joined.clone(), key.clone(), ctx.store.clone());
        Arc::new(move || {
            let (joined, key, store) = (joined.clone(), key.clone(), store.clone());
            Box::pin(async move {
                let mut client = market::pinned_client(&joined).map_err(|e| {
                    hallmark_client::ClientError::BadUrl {
                        url: joined.origin.clone(),
                        problem: e.to_string(),
                    }
                })?;
                let session = client.sign_in(&key, &keys::now()).await?;
                let _ = store.save_session(client.origin(), &session);
                Ok(session.token)
            })
        })
    };
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
    }
    let uploader = Uploader::new(&client, journal.clone(), options)?
        .with_renewal(renew)
        .with_cancel(cancel);
    let shards: Vec<Shard> = facts
        .shards
        .iter()
        .map(|s| Shard {
            cid: s.cid.clone(),
            size: s.size,
        })
        .collect();
    let cids: Vec<String> = shards.iter().map(|s| s.cid.clone()).collect();
    let missing = uploader.missing(&cids).await?;
    let missing_bytes: u64 = shards
        .iter()
        .filter(|s| missing.contains(&s.cid))
        .map(|s| s.size)
        .sum();
    let total_bytes: u64 = shards.iter().map(|s| s.size).sum();
    say(
        ctx,
        &format!(
            "check:   {} {}, {} shards ({}), signed by {}; {} lacks {} of them ({})",
            facts.name,
            facts.version,
            shards.len(),
            progress::human_bytes(total_bytes),
            ctx.joined.creator,
            origin,
            missing.len(),
            progress::human_bytes(missing_bytes)
        ),
    )?;

    // Stage 2, upload: only what is missing, streamed from the source files.
    let sent = Arc::new(AtomicU64::new(0));
    let bar = transfer_bar(ctx.quiet || ctx.json || missing.is_empty(), "upload");
    let on_progress = {
        let bar = bar.clone();
        let sent = sent.clone();
        Arc::new(move |event: &UploadEvent| {
            sent.fetch_max(event.bytes_done, Ordering::Relaxed);
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
    let upload_started = Instant::now();
    let report = uploader
        .upload(Arc::new(source), &shards, on_progress)
        .await;
    bar.finish_and_clear();
    let report = match report {
        Ok(report) => report,
        // A file changed since the seal: its message asks for a reseal, not a retry.
        Err(e @ (UploadError::Source { .. } | UploadError::Cancelled)) => return Err(e.into()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "the upload stopped; what was confirmed is kept: hallmark publish --status {} shows it, and hallmark publish {} continues",
                out.display(),
                out.display()
            )));
        }
    };
    let bytes_sent = sent.load(Ordering::Relaxed);
    say(
        ctx,
        &if report.uploaded.is_empty() {
            "upload:  nothing to send, the marketplace holds every shard from you".to_owned()
        } else {
            format!(
                "upload:  {} shards sent ({}) in {:.1} s",
                report.uploaded.len(),
                progress::human_bytes(bytes_sent),
                upload_started.elapsed().as_secs_f64()
            )
        },
    )?;

    // Stage 3, publish: manifest, index and the presentation, over a fresh challenge.
    let now = keys::now();
    if !joined::valid_for(&session, &now, joined::TOKEN_MARGIN_SECONDS) {
        let session = client.sign_in(&key, &now).await.map_err(market::failed)?;
        ctx.store.save_session(client.origin(), &session)?;
    }
    let credentials = [creator.record.credential.clone(), dataset];
    let Published { version, new } = client
        .publish(
            &key,
            PublishForm {
                credentials: &credentials,
                manifest: &manifest_bytes,
                index: &out.join(INDEX_FILE),
                price: &price,
                currency: &currency,
            },
            &now,
        )
        .await
        .map_err(market::failed)?;
    journal
        .published(origin, &manifest_sha256, &version.id)
        .await?;
    // The version is checked where buyers see it: its manifest and index as the catalog serves them.
    let differences = catalog_differences(&client, &version.id, &manifest_bytes, &facts).await?;
    if !differences.is_empty() {
        anyhow::bail!(
            "{origin} lists {} with other content than the seal: {}; report this to the marketplace's operator",
            version.id,
            differences.join("; ")
        );
    }
    let catalog_url = client.catalog_url(&version.id);
    let report = Report {
        origin: origin.to_owned(),
        name: facts.name.clone(),
        version: facts.version.clone(),
        version_id: version.id.clone(),
        catalog_url,
        already_published: !new,
        price: version.price.clone(),
        currency: version.currency.clone(),
        shards: shards.len(),
        uploaded_shards: report.uploaded,
        already_held_shards: report.already_held.len(),
        bytes_sent,
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut stdout = std::io::stdout().lock();
    if ctx.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        let what = if new {
            "published"
        } else {
            "already published"
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
        "{:<9}[{{bar:30}}] {{bytes}}/{{total_bytes}} {{msg}} {{binary_bytes_per_sec}}, {{eta}} left",
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

/// How the catalog's copy of version `id` differs from the seal (its manifest digest as listed,
/// the manifest and the index as served); empty when identical.
async fn catalog_differences(
    client: &hallmark_client::MarketClient,
    id: &str,
    manifest_bytes: &[u8],
    facts: &ManifestFacts,
) -> anyhow::Result<Vec<String>> {
    let manifest_sha256 = Sha256Digest::of(manifest_bytes).hex();
    let mut differences = Vec::new();
    let listed = client.catalog_version(id).await.map_err(market::failed)?;
    if listed.manifest_sha256 != manifest_sha256 {
        differences.push(format!(
            "the catalog lists manifest sha256 {}, the seal's is {manifest_sha256}",
            listed.manifest_sha256
        ));
    }
    for (file, size, sha256) in [
        (
            "manifest",
            manifest_bytes.len() as u64,
            manifest_sha256.as_str(),
        ),
        ("index", facts.index_size, facts.index_sha256.as_str()),
    ] {
        let (found_size, found) = client
            .catalog_file_digest(id, file)
            .await
            .map_err(market::failed)?;
        if (found_size, found.as_str()) != (size, sha256) {
            differences.push(format!(
                "the catalog serves the {file} with {found_size} bytes with sha256 {found}, the seal's has {size} bytes and sha256 {sha256}"
            ));
        }
    }
    Ok(differences)
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
    let catalog = catalog_differences(&client, &version_id, &manifest_bytes, &facts).await?;
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
