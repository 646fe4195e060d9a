//! `hallmark seal` and `hallmark export`: a folder into a dataset, and a dataset's shards onto disk.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::progress::CancelToken;
use hallmark_core::scan::ScanRules;
use hallmark_core::seal::{DEFAULT_SHARD_SIZE, SealOptions};
use hallmark_core::{dataset, verify as check};

use crate::progress::{Bar, human_bytes};

#[derive(Debug, Args)]
pub struct SealArgs {
    /// The folder that holds your work (never written to).
    dir: PathBuf,
    /// The output folder for croissant.json and index.jsonl (outside DIR).
    #[arg(long)]
    out: PathBuf,
    /// License as an SPDX expression, such as CC-BY-4.0 (https://spdx.org/licenses).
    #[arg(long)]
    license: String,
    /// Who made the work, as buyers will credit it.
    #[arg(long)]
    creator: String,
    /// The creator's web page.
    #[arg(long)]
    creator_url: Option<String>,
    /// Dataset name (default: the folder's name).
    #[arg(long)]
    name: Option<String>,
    /// What the dataset holds, in a sentence or two.
    #[arg(long)]
    description: Option<String>,
    /// Release version (semver).
    #[arg(long, default_value = "1.0.0")]
    version: String,
    /// Target shard size, such as 64MiB, or 4MiB for micro-shards.
    #[arg(long, default_value_t = bytesize::ByteSize::b(DEFAULT_SHARD_SIZE))]
    shard_size: bytesize::ByteSize,
    /// Only files matching this glob (repeatable; gitignore syntax).
    #[arg(long)]
    include: Vec<String>,
    /// Leave out files matching this glob (repeatable; gitignore syntax).
    #[arg(long)]
    exclude: Vec<String>,
    /// Keep system files such as .DS_Store and Thumbs.db.
    #[arg(long)]
    keep_junk: bool,
    /// A keyword buyers can search for (repeatable).
    #[arg(long = "keyword")]
    keywords: Vec<String>,
}

pub fn seal(args: &SealArgs, json: bool, quiet: bool) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => std::fs::canonicalize(&args.dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "dataset".to_owned()),
    };
    let today = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let info = DatasetInfo {
        description: args
            .description
            .clone()
            .unwrap_or_else(|| format!("{name}, by {}, sealed with Hallmark", args.creator)),
        name,
        license: args.license.clone(),
        creator_name: args.creator.clone(),
        creator_url: args.creator_url.clone(),
        url: None,
        version: args.version.clone(),
        date_published: today[..10].to_owned(),
        keywords: args.keywords.clone(),
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    };
    let options = SealOptions {
        rules: ScanRules {
            include: args.include.clone(),
            exclude: args.exclude.clone(),
            skip_junk: !args.keep_junk,
        },
        shard_size: args.shard_size.as_u64(),
    };
    let bar = Bar::new(quiet || json, "sealing");
    let sealed = dataset::seal_folder(
        &args.dir,
        &args.out,
        &options,
        &info,
        dataset::ResealPolicy::default(),
        &bar,
        &CancelToken::new(),
    );
    bar.finish();
    let sealed = sealed?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut bytes = serde_json::to_vec_pretty(&sealed)?;
        bytes.push(b'\n');
        out.write_all(&bytes)?;
        return Ok(());
    }
    let r = &sealed.report;
    writeln!(out, "sealed {}", r.root.display())?;
    writeln!(out, "  files:   {} ({})", r.files, human_bytes(r.bytes))?;
    writeln!(out, "  samples: {}", r.samples)?;
    writeln!(out, "  shards:  {}", r.shards.len())?;
    for shard in &r.shards {
        writeln!(
            out,
            "    {}  {:>10}  {} samples",
            shard.cid,
            human_bytes(shard.size),
            shard.samples
        )?;
    }
    if r.files_without_field > 0 {
        writeln!(
            out,
            "  note: {} without an extension; WebDataset readers skip such files (they are in the index)",
            if r.files_without_field == 1 {
                "1 file".to_owned()
            } else {
                format!("{} files", r.files_without_field)
            }
        )?;
    }
    if r.skipped_total > 0 {
        writeln!(out, "  passed over: {}", r.skipped_total)?;
        for entry in &r.skipped {
            writeln!(out, "    {}: {}", entry.path.display(), entry.reason)?;
        }
    }
    writeln!(out, "  manifest: {}", sealed.manifest_path.display())?;
    writeln!(out, "  index:    {}", sealed.index_path.display())?;
    writeln!(
        out,
        "write the shards with: hallmark export {} --shards DIR",
        args.out.display()
    )?;
    Ok(())
}

pub fn export(
    out_dir: &Path,
    shards: &Path,
    source: Option<&Path>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = Bar::new(quiet || json, "exporting");
    let written = dataset::export_shards(out_dir, shards, source, &bar, &CancelToken::new());
    bar.finish();
    let written =
        written.with_context(|| format!("cannot export the shards of {}", out_dir.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut bytes = serde_json::to_vec_pretty(&written)?;
        bytes.push(b'\n');
        out.write_all(&bytes)?;
    } else {
        for shard in &written {
            writeln!(out, "{}", shard.path.display())?;
        }
    }
    Ok(())
}

pub fn verify(
    out_dir: &Path,
    source: Option<&Path>,
    shards: Option<&Path>,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = Bar::new(quiet || json, "verifying");
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let report = check::verify(out_dir, source, shards, &now, &bar, &CancelToken::new());
    bar.finish();
    let report = report?;
    let mut out = std::io::stdout().lock();
    if json {
        let mut bytes = serde_json::to_vec_pretty(&report)?;
        bytes.push(b'\n');
        out.write_all(&bytes)?;
    } else if report.is_valid() {
        writeln!(out, "valid: {} matches what was sealed", out_dir.display())?;
        match &report.signer {
            Some(signer) => writeln!(out, "  signed by {signer}")?,
            None => writeln!(
                out,
                "  not signed yet (hallmark sign {})",
                out_dir.display()
            )?,
        }
        if source.is_some() {
            writeln!(
                out,
                "  {} source files re-hashed ({})",
                report.files_checked,
                human_bytes(report.bytes_checked)
            )?;
        }
    } else {
        writeln!(out, "INVALID: {} differences", report.differences.len())?;
        for difference in &report.differences {
            writeln!(out, "  {difference}")?;
        }
    }
    if report.is_valid() {
        Ok(())
    } else {
        Err(crate::Invalid.into())
    }
}
