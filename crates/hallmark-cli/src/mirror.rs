//! `hallmark mirror`: copy a signed seal (shards streamed from the source files, index, credential, manifest) to an S3-compatible bucket, resumably, each object checked by the bucket's ETag; `--check` reads it all back; `--set-credentials` keeps the bucket's key in the OS keyring.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hallmark_client::mirror::{
    Mirror, MirrorContent, MirrorError, MirrorObject, MirrorOptions, MirrorReport, ObjectCheck,
};
use hallmark_client::upload::{Journal, ShardState, UploadEvent};
use hallmark_core::bucket::{BucketCredentials, BucketTarget};
use hallmark_core::credential::{self, CREDENTIAL_FILE};
use hallmark_core::digest::Sha256Digest;
use hallmark_core::manifest::{self, MANIFEST_FILE};
use hallmark_core::progress::CancelToken;
use hallmark_core::publish::ShardSource;
use hallmark_core::seal::INDEX_FILE;
use zeroize::Zeroizing;

use crate::{BadInput, Invalid, keys, progress, publish};

#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// The output folder of `hallmark seal`, signed (with --set-credentials: the bucket instead).
    #[arg(value_name = "OUT")]
    out: String,
    /// The bucket and prefix to write to, such as s3://my-datasets/photos.
    #[arg(value_name = "s3://BUCKET/PREFIX")]
    target: Option<String>,
    /// The S3-compatible service, such as https://ACCOUNT.r2.cloudflarestorage.com (default:
    /// AWS_ENDPOINT_URL, else AWS S3 itself).
    #[arg(long)]
    endpoint: Option<String>,
    /// The region (default: AWS_REGION or AWS_DEFAULT_REGION, else auto with an endpoint and
    /// us-east-1 without).
    #[arg(long)]
    region: Option<String>,
    /// Address the bucket as ENDPOINT/BUCKET (the default with --endpoint).
    #[arg(long, conflicts_with = "virtual_hosted")]
    path_style: bool,
    /// Address the bucket as BUCKET.ENDPOINT (the default for AWS S3).
    #[arg(long)]
    virtual_hosted: bool,
    /// Objects sent at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    streams: u16,
    /// The size of each part of a multipart upload (at least 5MiB; all parts but the last are
    /// this size, as R2 requires).
    #[arg(long, default_value = "16MiB", value_parser = part_size)]
    part_size: u64,
    /// The source folder, if it moved since sealing.
    #[arg(long)]
    source: Option<PathBuf>,
    /// Send nothing: read every object back and compare its size and SHA-256 with the seal.
    #[arg(long, conflicts_with_all = ["set_credentials", "forget_credentials"])]
    check: bool,
    /// Keep the bucket's access key in the OS keyring: asked for at the terminal, or read from
    /// standard input as two lines (access key id, then secret).
    #[arg(long, conflicts_with = "forget_credentials")]
    set_credentials: bool,
    /// Remove the bucket's access key from the OS keyring.
    #[arg(long)]
    forget_credentials: bool,
}

fn part_size(text: &str) -> Result<u64, String> {
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) if (5 << 20..=5 << 30).contains(&size.as_u64()) => Ok(size.as_u64()),
        _ => Err(format!(
            "{text:?} is not a part size from 5MiB to 5GiB; write it like 16MiB or 64MiB"
        )),
    }
}

/// The final report, `--json`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    target: String,
    endpoint: Option<String>,
    objects: usize,
    #[serde(flatten)]
    mirror: MirrorReport,
    /// Every object's ETag matched the bytes sent (or it was read back and matched).
    verified: bool,
    seconds: f64,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn run(args: &MirrorArgs, json: bool, quiet: bool) -> anyhow::Result<()> {
    let (out, target_url) = if args.set_credentials || args.forget_credentials {
        match &args.target {
            None => (None, args.out.clone()),
            Some(target) => (Some(PathBuf::from(&args.out)), target.clone()),
        }
    } else {
        let target = args.target.clone().ok_or_else(|| {
            BadInput(format!(
                "name the bucket to mirror to: hallmark mirror {} s3://BUCKET/PREFIX",
                args.out
            ))
        })?;
        (Some(PathBuf::from(&args.out)), target)
    };
    let endpoint = args.endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL"));
    let region = args
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"));
    let path_style = match (args.path_style, args.virtual_hosted) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let target = BucketTarget::parse(
        &target_url,
        endpoint.as_deref(),
        region.as_deref(),
        path_style,
    )
    .map_err(|e| BadInput(e.to_string()))?;
    let keyring = keys::bucket_keyring();
    if args.forget_credentials {
        let had = keyring.delete(&target.bucket_id())?;
        let mut stdout = std::io::stdout().lock();
        if json {
            writeln!(
                stdout,
                "{}",
                serde_json::json!({ "bucket": target.bucket_id(), "forgotten": had })
            )?;
        } else if had {
            writeln!(
                stdout,
                "the access key for {} is no longer kept",
                target.bucket_id()
            )?;
        } else {
            writeln!(stdout, "no access key was kept for {}", target.bucket_id())?;
        }
        return Ok(());
    }
    if args.set_credentials {
        let credentials = ask_credentials(&target)?;
        keyring.save(&target.bucket_id(), &credentials)?;
        let mut stdout = std::io::stdout().lock();
        if json {
            writeln!(
                stdout,
                "{}",
                serde_json::json!({ "bucket": target.bucket_id(), "accessKeyId": credentials.access_key_id })
            )?;
        } else {
            writeln!(
                stdout,
                "the access key {} for {} is kept in the OS keyring",
                credentials.access_key_id,
                target.bucket_id()
            )?;
        }
        return Ok(());
    }
    let Some(out) = out else {
        return Ok(());
    };
    let credentials = match BucketCredentials::from_env(env) {
        Some(credentials) => credentials,
        None => keyring.load(&target.bucket_id())?.ok_or_else(|| {
            BadInput(format!(
                "no access key for {}: keep one in the OS keyring with hallmark mirror --set-credentials {}{}, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                target.bucket_id(),
                target.url(),
                target
                    .endpoint
                    .as_deref()
                    .map(|e| format!(" --endpoint {e}"))
                    .unwrap_or_default()
            ))
        })?,
    };

    let (objects, source) = plan(&out, args.source.as_ref())?;
    let data = keys::data_dir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the network runtime")?;
    runtime.block_on(async {
        let journal = Journal::open(&data).await?;
        let options = MirrorOptions {
            streams: usize::from(args.streams),
            part_bytes: args.part_size,
            ..MirrorOptions::default()
        };
        // Ctrl-C stops between parts; every part the bucket confirmed is kept.
        let cancel = CancelToken::new();
        {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            });
        }
        let mirror =
            Mirror::new(target.clone(), &credentials, journal, options)?.with_cancel(cancel);
        if args.check {
            check(&mirror, &objects, json, quiet).await
        } else {
            send(&mirror, &objects, source, json, quiet).await
        }
    })
}

/// Asks for an access key id and its secret (the terminal, or two lines of standard input).
fn ask_credentials(target: &BucketTarget) -> anyhow::Result<BucketCredentials> {
    let (id, secret) = if std::io::stdin().is_terminal() {
        eprint!("Access key ID for {}: ", target.bucket_id());
        std::io::stderr().flush()?;
        let mut id = String::new();
        std::io::stdin().lock().read_line(&mut id)?;
        let secret = Zeroizing::new(rpassword::prompt_password("Secret access key: ")?);
        (id, secret)
    } else {
        // Two lines, read at most 4 KiB each (longer is refused below).
        let mut lines = std::io::stdin().lock();
        let mut id = String::new();
        (&mut lines).take(4096).read_line(&mut id)?;
        let mut secret = Zeroizing::new(String::new());
        (&mut lines).take(4096).read_line(&mut secret)?;
        (id, secret)
    };
    let id = id.trim().to_owned();
    let secret = Zeroizing::new(secret.trim().to_owned());
    let printable =
        |s: &str| !s.is_empty() && s.len() <= 1024 && s.bytes().all(|b| b.is_ascii_graphic());
    if !printable(&id) || !printable(&secret) {
        return Err(BadInput(
            "an access key id and a secret are one line each of printable characters with no spaces; nothing was kept".into(),
        )
        .into());
    }
    Ok(BucketCredentials {
        access_key_id: id,
        secret_access_key: secret,
        session_token: None,
    })
}

/// The objects of a signed seal in `out`, in the order they are sent (the manifest last), and the
/// shards' source.
fn plan(
    out: &std::path::Path,
    source: Option<&PathBuf>,
) -> anyhow::Result<(Vec<MirrorObject>, ShardSource)> {
    let (manifest_bytes, facts) = manifest::read_file(out).with_context(|| {
        format!(
            "cannot mirror {}: it is not a sealed dataset",
            out.display()
        )
    })?;
    let sign_first = format!("sign it first: hallmark sign {}", out.display());
    let check = credential::check(out, &keys::now())?.ok_or_else(|| {
        BadInput(format!(
            "{} is not signed (no {CREDENTIAL_FILE}); {sign_first}",
            out.display()
        ))
    })?;
    if !check.differences.is_empty() || check.signer.is_none() {
        return Err(BadInput(format!(
            "{} in {} is not a valid signature of this seal; {sign_first}",
            CREDENTIAL_FILE,
            out.display()
        ))
        .into());
    }
    let credential_path = out.join(CREDENTIAL_FILE);
    let credential_bytes = hallmark_core::untrusted::read_capped(
        &credential_path,
        hallmark_core::creator::MAX_DOCUMENT_BYTES as u64,
    )?;
    let source = ShardSource::open(out, source.map(PathBuf::as_path))
        .with_context(|| format!("cannot mirror {}", out.display()))?;
    let mut objects: Vec<MirrorObject> = facts
        .shards
        .iter()
        .map(|s| MirrorObject {
            name: s.name.clone(),
            size: s.size,
            sha256: s.sha256.clone(),
            content: MirrorContent::Shard { cid: s.cid.clone() },
        })
        .collect();
    objects.push(MirrorObject {
        name: INDEX_FILE.to_owned(),
        size: facts.index_size,
        sha256: facts.index_sha256.clone(),
        content: MirrorContent::File {
            path: out.join(INDEX_FILE),
        },
    });
    objects.push(MirrorObject {
        name: CREDENTIAL_FILE.to_owned(),
        size: credential_bytes.len() as u64,
        sha256: Sha256Digest::of(&credential_bytes).hex(),
        content: MirrorContent::File {
            path: credential_path,
        },
    });
    objects.push(MirrorObject {
        name: MANIFEST_FILE.to_owned(),
        size: manifest_bytes.len() as u64,
        sha256: Sha256Digest::of(&manifest_bytes).hex(),
        content: MirrorContent::File {
            path: out.join(MANIFEST_FILE),
        },
    });
    Ok((objects, source))
}

fn progress_callback(bar: &indicatif::ProgressBar) -> hallmark_client::upload::OnProgress {
    let bar = bar.clone();
    Arc::new(move |event: &UploadEvent| {
        bar.set_length(event.bytes_total);
        bar.set_position(event.bytes_done);
        let state = match &event.state {
            ShardState::Retrying { why, .. } => format!(", retrying: {why}"),
            _ => String::new(),
        };
        bar.set_message(format!(
            "{}/{} objects{state}",
            event.shards_done, event.shards_total
        ));
    })
}

async fn send(
    mirror: &Mirror,
    objects: &[MirrorObject],
    source: ShardSource,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let target = mirror.target();
    let total: u64 = objects.iter().map(|o| o.size).sum();
    if !json {
        println!(
            "check:   {} objects ({}) for {}{}",
            objects.len(),
            progress::human_bytes(total),
            target.url(),
            target
                .endpoint
                .as_deref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default()
        );
    }
    let bar = publish::transfer_bar(quiet || json, "mirror");
    let report = mirror
        .mirror(Arc::new(source), objects, progress_callback(&bar))
        .await;
    bar.finish_and_clear();
    let report = match report {
        Ok(report) => report,
        Err(e @ (MirrorError::Source { .. } | MirrorError::Cancelled)) => return Err(e.into()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(
                "the mirror stopped; every part the bucket confirmed is kept: run the same command again to continue",
            ));
        }
    };
    let report = Report {
        target: target.url(),
        endpoint: target.endpoint.clone(),
        objects: objects.len(),
        mirror: report,
        verified: true,
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(
            stdout,
            "mirror:  {} objects sent ({}), {} already there, in {:.1} s",
            report.mirror.sent.len(),
            progress::human_bytes(report.mirror.bytes_sent),
            report.mirror.already_there.len(),
            report.seconds
        )?;
        writeln!(
            stdout,
            "verify:  every object's ETag matches the bytes read from the seal; hallmark mirror --check reads them back"
        )?;
    }
    Ok(())
}

async fn check(
    mirror: &Mirror,
    objects: &[MirrorObject],
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = publish::transfer_bar(quiet || json, "check");
    let checks = mirror.check(objects, progress_callback(&bar)).await;
    bar.finish_and_clear();
    let checks: Vec<ObjectCheck> = checks?;
    let bad: Vec<&ObjectCheck> = checks.iter().filter(|c| !c.ok()).collect();
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "target": mirror.target().url(),
                "ok": bad.is_empty(),
                "objects": checks,
            }))?
        )?;
    } else {
        for c in &bad {
            match (&c.found_size, &c.found_sha256) {
                (None, _) => writeln!(stdout, "missing: {}", c.key)?,
                (Some(size), sha) => writeln!(
                    stdout,
                    "differs: {}: {size} bytes, sha256 {} (the seal: {} bytes, sha256 {})",
                    c.key,
                    sha.as_deref().unwrap_or("?"),
                    c.expected_size,
                    c.expected_sha256
                )?,
            }
        }
        if bad.is_empty() {
            writeln!(
                stdout,
                "check:   all {} objects in {} have the size and SHA-256 of the seal",
                checks.len(),
                mirror.target().url()
            )?;
        } else {
            writeln!(
                stdout,
                "check:   {} of {} objects differ from the seal; run hallmark mirror again to resend them",
                bad.len(),
                checks.len()
            )?;
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Invalid.into())
    }
}
