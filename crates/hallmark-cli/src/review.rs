//! `hallmark review`: what a folder holds that should not leave it (private metadata, personal
//! data, broken and duplicate files), the creator's decisions on it, and the check before publishing.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use hallmark_core::progress::CancelToken;
use hallmark_core::review::{
    self, Decision, Finding, MediaKind, Review, Severity, Statistics, decisions,
};

use crate::progress::{Bar, human_bytes};
use crate::seal::printable;

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The folder that holds your work (read, never written to).
    dir: PathBuf,
    /// The dataset's output folder (as for `hallmark seal`): the review and your decisions are
    /// kept there, its seal's rules and your exclusions apply, and the next seal takes the
    /// statistics into the manifest. Without it, nothing is kept.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Accept findings by id (the files stay in), from the last review kept in OUT (repeatable).
    #[arg(long, value_name = "ID", requires = "out")]
    accept: Vec<String>,
    /// Exclude the files of findings by id (for duplicates: the extra copies) from every seal of
    /// OUT; your folder is not changed. Takes effect at the next seal (repeatable).
    #[arg(long, value_name = "ID", requires = "out")]
    exclude: Vec<String>,
    /// Take back the decision on findings by id (repeatable).
    #[arg(long, value_name = "ID", requires = "out")]
    reopen: Vec<String>,
}

pub fn run(args: &ReviewArgs, json: bool, quiet: bool) -> anyhow::Result<()> {
    if !args.accept.is_empty() || !args.exclude.is_empty() || !args.reopen.is_empty() {
        let Some(out) = &args.out else {
            return Err(
                crate::BadInput("--accept, --exclude and --reopen need --out OUT".into()).into(),
            );
        };
        return decide(args, out, json);
    }
    let bar = Bar::new(quiet || json, "reviewing");
    let cancel = CancelToken::new();
    let review = match &args.out {
        Some(out) => decisions::review_dataset(&args.dir, out, &Default::default(), &bar, &cancel),
        None => review::review(&args.dir, &Default::default(), &bar, &cancel),
    };
    bar.finish();
    let review = review?;
    let mut stdout = std::io::stdout().lock();
    if json {
        let mut bytes = serde_json::to_vec_pretty(&review)?;
        bytes.push(b'\n');
        stdout.write_all(&bytes)?;
        return Ok(());
    }
    print_review(&mut stdout, &review, args)?;
    Ok(())
}

fn decide(args: &ReviewArgs, out: &Path, json: bool) -> anyhow::Result<()> {
    let mut changed = Vec::new();
    if !args.accept.is_empty() {
        changed.extend(decisions::decide(out, &args.accept, Decision::Accepted)?);
    }
    if !args.exclude.is_empty() {
        changed.extend(decisions::decide(out, &args.exclude, Decision::Excluded)?);
    }
    if !args.reopen.is_empty() {
        changed.extend(decisions::reopen(out, &args.reopen)?);
    }
    let mut stdout = std::io::stdout().lock();
    if json {
        let mut bytes = serde_json::to_vec_pretty(&changed)?;
        bytes.push(b'\n');
        stdout.write_all(&bytes)?;
        return Ok(());
    }
    for finding in &changed {
        let verb = match finding.decision {
            Some(Decision::Accepted) => "accepted",
            Some(Decision::Excluded) => "excluded",
            None => "open again",
        };
        writeln!(
            stdout,
            "{} {verb}: {}",
            finding.id,
            printable(&finding.what)
        )?;
        if finding.decision == Some(Decision::Excluded) {
            for file in finding.files_to_exclude() {
                writeln!(stdout, "  left out: {}", printable(&file.path))?;
            }
        }
    }
    if changed
        .iter()
        .any(|f| f.decision != Some(Decision::Accepted))
    {
        writeln!(
            stdout,
            "the next seal applies this: hallmark seal {} --out {} …",
            args.dir.display(),
            out.display()
        )?;
    }
    Ok(())
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

fn print_review(
    stdout: &mut impl Write,
    review: &Review,
    args: &ReviewArgs,
) -> std::io::Result<()> {
    writeln!(
        stdout,
        "reviewed {}: {} files ({})",
        review.root.display(),
        review.files,
        human_bytes(review.bytes)
    )?;
    let open: Vec<&Finding> = review.findings.iter().filter(|f| f.is_open()).collect();
    let count = |s: Severity| open.iter().filter(|f| f.severity == s).count();
    writeln!(
        stdout,
        "findings: {} open ({} high, {} medium, {} low), {} decided",
        open.len(),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        review.findings.len() - open.len()
    )?;
    for finding in &review.findings {
        let state = match finding.decision {
            Some(Decision::Accepted) => " (accepted)",
            Some(Decision::Excluded) => " (excluded)",
            None => "",
        };
        writeln!(
            stdout,
            "  [{}] {}{state}  {}",
            severity_word(finding.severity),
            finding.id,
            printable(&finding.what)
        )?;
        for file in &finding.files {
            writeln!(stdout, "      {}", printable(&file.path))?;
        }
        for occurrence in &finding.occurrences {
            writeln!(
                stdout,
                "      line {}: {}",
                occurrence.line, occurrence.excerpt
            )?;
        }
        if finding.is_open() {
            writeln!(stdout, "      → {}", finding.advice)?;
        }
    }
    print_statistics(stdout, &review.statistics)?;
    if !open.is_empty() {
        match &args.out {
            Some(out) => writeln!(
                stdout,
                "decide: hallmark review {} --out {} --accept ID | --exclude ID",
                args.dir.display(),
                out.display()
            )?,
            None => writeln!(
                stdout,
                "to keep decisions, review with --out OUT (the dataset's output folder), then --accept ID or --exclude ID"
            )?,
        }
    }
    Ok(())
}

/// Prints the statistics, one line per media kind.
pub fn print_statistics(stdout: &mut impl Write, stats: &Statistics) -> std::io::Result<()> {
    writeln!(stdout, "statistics:")?;
    for media in &stats.media {
        let kind = match media.kind {
            MediaKind::Image => "images",
            MediaKind::Audio => "audio",
            MediaKind::Text => "text",
            MediaKind::Document => "documents",
            MediaKind::Other => "other",
        };
        let mut line = format!(
            "  {kind}: {} files, {}",
            media.files,
            human_bytes(media.bytes)
        );
        if let Some(image) = &media.image {
            line.push_str(&format!(
                "; {}–{} × {}–{} px ({} measured)",
                image.min_width,
                image.max_width,
                image.min_height,
                image.max_height,
                image.measured
            ));
        }
        if let Some(audio) = &media.audio {
            let rates: Vec<String> = audio
                .sample_rates
                .iter()
                .map(|r| format!("{r} Hz"))
                .collect();
            let channels: Vec<String> = audio.channels.iter().map(u8::to_string).collect();
            line.push_str(&format!(
                "; {} in all ({}–{} each), {}, {} channels",
                duration(audio.total_duration_ms),
                duration(audio.min_duration_ms),
                duration(audio.max_duration_ms),
                rates.join(", "),
                channels.join(", ")
            ));
        }
        if let Some(text) = &media.text {
            line.push_str(&format!(
                "; {} characters, {} lines ({}–{} characters a file)",
                text.total_chars, text.total_lines, text.min_chars, text.max_chars
            ));
        }
        writeln!(stdout, "{line}")?;
    }
    Ok(())
}

/// Milliseconds as h:mm:ss.s or m:ss.s.
fn duration(ms: u64) -> String {
    let tenths = (ms % 1000) / 100;
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{tenths}")
    } else {
        format!("{m}:{s:02}.{tenths}")
    }
}

/// Before publishing OUT: refuses while its last review has open high findings, unless the
/// creator says once more that they accept them. A dataset never reviewed is not held back (a
/// note says how to review it).
pub fn check_before_publish(out: &Path, accept_findings: bool) -> anyhow::Result<()> {
    let Some(open) = decisions::open_high_findings(out)? else {
        eprintln!(
            "note: {} was not reviewed; `hallmark review DIR --out {}` shows private metadata and personal data before they leave",
            out.display(),
            out.display()
        );
        return Ok(());
    };
    if open.is_empty() || accept_findings {
        return Ok(());
    }
    let list: Vec<String> = open
        .iter()
        .take(10)
        .map(|f| {
            format!(
                "  {}  {}: {}",
                f.id,
                printable(&f.files[0].path),
                printable(&f.what)
            )
        })
        .collect();
    Err(crate::BadInput(format!(
        "the last review of {} has {} open high finding{} (what follows would leave with the data):\n{}\n\
         decide on each with hallmark review DIR --out {} --accept ID or --exclude ID (then seal and sign again), \
         or publish anyway with --accept-findings",
        out.display(),
        open.len(),
        if open.len() == 1 { "" } else { "s" },
        list.join("\n"),
        out.display()
    ))
    .into())
}
