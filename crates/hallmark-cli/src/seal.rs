//! `hallmark seal` and `hallmark export`: a folder into a dataset, and a dataset's shards onto disk.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use hallmark_core::manifest::{self, Consent, DatasetInfo, Permission, ResponsibleAi};
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
    #[arg(long, default_value_t = DEFAULT_SHARD_SIZE, value_parser = shard_size)]
    shard_size: u64,
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
    /// Uses buyers may make of your work (comma-separated): ai-training, generative-training,
    /// inference, data-mining, or all. Each use must be allowed, forbidden or constrained on the
    /// first seal; a reseal keeps the earlier terms for uses not named.
    #[arg(long, value_enum, value_delimiter = ',')]
    allow: Vec<AiUse>,
    /// Uses buyers may not make of your work (same names as --allow).
    #[arg(long, value_enum, value_delimiter = ',')]
    forbid: Vec<AiUse>,
    /// Uses allowed only under the terms you write in --constraints (same names as --allow).
    #[arg(long, value_enum, value_delimiter = ',')]
    constrain: Vec<AiUse>,
    /// Your constraints in your own words, for the uses given to --constrain.
    #[arg(long)]
    constraints: Option<String>,
    /// Read and hash every file again, ignoring what the last seal remembered.
    #[arg(long)]
    rehash: bool,
    /// Seal DIR into an OUT that holds a seal of another folder, replacing that dataset.
    #[arg(long)]
    replace_source: bool,
}

/// An AI use a creator allows or forbids (the CAWG training-and-mining terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AiUse {
    /// Training AI models on the work.
    AiTraining,
    /// Training models that generate new works like it.
    GenerativeTraining,
    /// A model reading the work when it answers (retrieval, reference).
    Inference,
    /// Analysing, searching and counting the work.
    DataMining,
    /// All four.
    All,
}

/// The four uses, their flag names and what each means in plain words.
const USES: [(AiUse, &str, &str); 4] = [
    (
        AiUse::AiTraining,
        "ai-training",
        "train AI models on your work",
    ),
    (
        AiUse::GenerativeTraining,
        "generative-training",
        "train models that generate new works like yours",
    ),
    (
        AiUse::Inference,
        "inference",
        "let a model read your work when it answers (retrieval, reference)",
    ),
    (
        AiUse::DataMining,
        "data-mining",
        "analyse, search and count your work",
    ),
];

/// A shard size as people write it; the error says what sizes look like.
fn shard_size(text: &str) -> Result<u64, String> {
    let size = text
        .trim()
        .parse::<bytesize::ByteSize>()
        .map_err(|_| format!("{text:?} is not a size; write it like 64MiB, 512KiB or 1GiB"))?;
    if size.as_u64() == 0 {
        return Err(
            "the shard size must be more than 0 bytes; try 64MiB, or 4MiB for micro-shards".into(),
        );
    }
    Ok(size.as_u64())
}

/// The consent terms from --allow/--forbid/--constrain over the earlier seal's terms (if any);
/// every use must end up decided, each by one choice.
fn consent(args: &SealArgs, earlier: Option<&Consent>) -> Result<Consent, crate::BadInput> {
    let mut chosen: [Option<Permission>; 4] = match earlier {
        Some(c) => [
            Some(c.ai_training),
            Some(c.ai_generative_training),
            Some(c.ai_inference),
            Some(c.data_mining),
        ],
        None => [None; 4],
    };
    let mut given: [Option<Permission>; 4] = [None; 4];
    for (uses, permission) in [
        (&args.allow, Permission::Allowed),
        (&args.forbid, Permission::NotAllowed),
        (&args.constrain, Permission::Constrained),
    ] {
        for &use_ in uses {
            for (i, (one, name, _)) in USES.iter().enumerate() {
                if use_ == *one || use_ == AiUse::All {
                    if given[i].is_some_and(|p| p != permission) {
                        return Err(crate::BadInput(format!(
                            "{name} is given two different choices; allow, forbid or constrain it once"
                        )));
                    }
                    given[i] = Some(permission);
                }
            }
        }
    }
    for (slot, choice) in chosen.iter_mut().zip(given) {
        if choice.is_some() {
            *slot = choice;
        }
    }
    let missing: Vec<String> = USES
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| c.is_none())
        .map(|((_, name, meaning), _)| format!("  {name}: {meaning}"))
        .collect();
    if !missing.is_empty() {
        return Err(crate::BadInput(format!(
            "say what buyers may do with your work: allow, forbid or constrain each use with \
             --allow, --forbid or --constrain (and --constraints TEXT). Not decided yet:\n{}\n\
             for example: --allow ai-training,data-mining --forbid generative-training,inference",
            missing.join("\n")
        )));
    }
    let [
        Some(ai_training),
        Some(ai_generative_training),
        Some(ai_inference),
        Some(data_mining),
    ] = chosen
    else {
        return Err(crate::BadInput("not every use is decided".into()));
    };
    let constrained = chosen.contains(&Some(Permission::Constrained));
    let constraints = match (
        &args.constraints,
        earlier.and_then(|c| c.constraints.clone()),
    ) {
        (Some(text), _) if text.trim().is_empty() => None,
        (Some(text), _) => Some(text.trim().to_owned()),
        (None, kept) if constrained => kept,
        (None, _) => None,
    };
    if constrained && constraints.is_none() {
        return Err(crate::BadInput(
            "a constrained use needs its constraints: add --constraints \"what buyers must respect\"".into(),
        ));
    }
    if !constrained && args.constraints.is_some() {
        return Err(crate::BadInput(
            "--constraints applies only to uses given to --constrain; name them there".into(),
        ));
    }
    Ok(Consent {
        ai_training,
        ai_generative_training,
        ai_inference,
        data_mining,
        constraints,
    })
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
    // The earlier terms as the manifest states them (what was signed), never the unsigned record.
    let earlier = dataset::previous_seal(&args.out)
        .ok()
        .flatten()
        .map(|s| s.info.consent);
    let consent = consent(args, earlier.as_ref())?;
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
        consent,
        rai: ResponsibleAi::default(),
    };
    let options = SealOptions {
        rules: ScanRules {
            include: args.include.clone(),
            exclude: args.exclude.clone(),
            skip_junk: !args.keep_junk,
        },
        shard_size: args.shard_size,
    };
    let policy = dataset::ResealPolicy {
        other_source: args.replace_source,
        rehash: args.rehash,
    };
    let bar = Bar::new(quiet || json, "sealing");
    let sealed = dataset::seal_folder(
        &args.dir,
        &args.out,
        &options,
        &info,
        policy,
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
    writeln!(
        out,
        "  terms:   {}",
        manifest::consent_in_words(&info.consent)
    )?;
    match sealed.signature {
        dataset::SignatureAfterSeal::MovedAside => writeln!(
            out,
            "  signature: signed for an earlier seal — sign again with: hallmark sign {}",
            args.out.display()
        )?,
        dataset::SignatureAfterSeal::StillValid => {
            writeln!(out, "  signature: still valid (nothing it signs changed)")?;
        }
        dataset::SignatureAfterSeal::Unsigned => {}
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
        let fresh: Vec<_> = written.iter().filter(|s| s.written).collect();
        let kept = written.len() - fresh.len();
        writeln!(
            out,
            "exported {} shards ({}) to {}: {} written ({}), {} already there and intact",
            written.len(),
            human_bytes(written.iter().map(|s| s.size).sum()),
            shards.display(),
            fresh.len(),
            human_bytes(fresh.iter().map(|s| s.size).sum()),
            kept
        )?;
    }
    Ok(())
}

/// `text` with every control character written as an escape (`\u{1b}`), for a terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

pub fn verify(
    out_dir: &Path,
    source: Option<&Path>,
    shards: Option<&Path>,
    signed: bool,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = Bar::new(quiet || json, "verifying");
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let report = check::verify(out_dir, source, shards, &now, &bar, &CancelToken::new());
    bar.finish();
    let mut report = report?;
    if signed {
        report.require_signature();
    }
    let mut out = std::io::stdout().lock();
    if json {
        let mut bytes = serde_json::to_vec_pretty(&report)?;
        bytes.push(b'\n');
        out.write_all(&bytes)?;
    } else if report.is_valid() {
        writeln!(out, "valid: {} matches what was sealed", out_dir.display())?;
        match (&report.signer, report.signature) {
            (Some(signer), _) => writeln!(out, "  signed by {signer}")?,
            (None, dataset::SignatureState::SignedForEarlierSeal) => writeln!(
                out,
                "  signed for an earlier seal — sign again (hallmark sign {})",
                out_dir.display()
            )?,
            (None, _) => writeln!(
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
            // Paths and values come from files that may be hostile: no control character reaches
            // the terminal (it could clear the screen and print a fake verdict).
            writeln!(out, "  {}", printable(&difference.to_string()))?;
        }
    }
    if report.is_valid() {
        Ok(())
    } else {
        Err(crate::Invalid.into())
    }
}
