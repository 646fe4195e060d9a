//! The `hallmark` command: parses arguments, calls the core, prints for people or for scripts.

mod earnings;
mod keys;
mod market;
mod mirror;
mod progress;
mod publish;
mod review;
mod seal;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hallmark_core::progress::CancelToken;
use hallmark_core::{ErrorKind, folder};

/// Hallmark: turn a folder of your work into a signed, sellable AI training dataset.
#[derive(Debug, Parser)]
#[command(name = "hallmark", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON on standard output instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// Do not draw progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Count the files and bytes in a folder, and list what would be passed over and why.
    Summary {
        /// The folder that holds your work.
        dir: PathBuf,
    },
    /// Seal a folder into a dataset: WebDataset shards (by CID), index.jsonl and croissant.json in OUT.
    ///
    /// Shard bytes are not written (see `export`); OUT gets the manifest, the index and Hallmark's record.
    Seal(Box<seal::SealArgs>),
    /// Write the shard files of a sealed dataset, regenerated from its source folder and checked by hash.
    Export {
        /// The output folder of `hallmark seal`.
        out: PathBuf,
        /// Where to write the shards (named as the manifest's contentUrl; use OUT to keep them together).
        #[arg(long)]
        shards: PathBuf,
        /// The source folder, if it moved since sealing.
        #[arg(long)]
        source: Option<PathBuf>,
    },
    /// Create, list, back up, restore and delete signing keys (kept in the OS keyring).
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Sign a sealed dataset offline: writes credential.json (a W3C Verifiable Credential) into OUT.
    Sign {
        /// The output folder of `hallmark seal`.
        out: PathBuf,
        /// The key's did:key (needed only when the keyring holds several).
        #[arg(long)]
        key: Option<String>,
        /// Use this age-encrypted key file instead of the keyring (passphrase from
        /// HALLMARK_KEY_PASSPHRASE or a prompt).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Creator credentials a marketplace issued to you: check, import (kept for publishing), list.
    #[command(subcommand)]
    Credential(keys::CredentialCommand),
    /// Sign a presentation for a marketplace: your creator credential and the dataset's credential,
    /// over the marketplace's challenge. Written to --out, ready for publishing.
    Present {
        /// The output folder of `hallmark seal`, already signed.
        out: PathBuf,
        /// The creator credential the marketplace issued to you.
        #[arg(long)]
        creator_credential: PathBuf,
        /// The challenge (nonce) the marketplace sent.
        #[arg(long)]
        challenge: String,
        /// The marketplace's domain, such as market.example.
        #[arg(long)]
        domain: String,
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Where to write the presentation.
        #[arg(long = "to")]
        to: PathBuf,
    },
    /// Join a marketplace, see where you stand with it, and get session tokens for scripts.
    #[command(subcommand)]
    Market(market::MarketCommand),
    /// Publish a signed dataset to a marketplace you joined: check, upload the shards it lacks
    /// (resumable: run it again after an interruption), then list the version for sale.
    ///
    /// Exit code 0: listed (or already listed with this content). 2: bad input (unsigned, not
    /// joined, no price). 3: could not complete (network, a refusal, a file changed since the seal).
    Publish {
        #[command(flatten)]
        args: Box<publish::PublishArgs>,
        /// Publish although the last review (hallmark review DIR --out OUT) has open high
        /// findings, such as GPS positions or personal data.
        #[arg(long)]
        accept_findings: bool,
    },
    /// Copy a signed dataset to your own S3-compatible bucket (Cloudflare R2, AWS S3, MinIO):
    /// shards streamed from the source files, index, credential and manifest; only what the
    /// bucket lacks, resumable, each object checked by the bucket's ETag.
    ///
    /// Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else the OS keyring
    /// (--set-credentials). Exit code 0: mirrored (or, with --check, identical). 1: --check found
    /// objects that differ. 2: bad input. 3: could not complete (network, a refusal, a changed file).
    Mirror(Box<mirror::MirrorArgs>),
    /// Review a folder before it leaves your desk: private metadata (GPS, serial numbers, names),
    /// personal data in text (e-mails, phone, card and IBAN numbers, shown masked), broken files,
    /// wrong extensions, duplicates; and the statistics the manifest will carry.
    ///
    /// With --out OUT (the dataset's output folder) the findings and your decisions are kept
    /// there: --accept ID keeps a finding's files, --exclude ID leaves them out of every later
    /// seal (your folder is never changed), --reopen ID takes a decision back. A changed file is
    /// a new finding. `hallmark publish` asks once more while high findings are open.
    Review(Box<review::ReviewArgs>),
    /// What your datasets earned, verified without trusting the marketplace: fetch statements and
    /// receipts, check them against its key and its public log, sum them, export them.
    ///
    /// Exit code 0: done (verify: no findings). 1: verify found findings (each listed).
    /// 2: bad input (not joined, nothing fetched). 3: could not complete (network, a changed key).
    #[command(subcommand)]
    Earnings(earnings::EarningsCommand),
    /// Check a sealed dataset: its manifest and index, and with --source or --shards every file's hash.
    ///
    /// Exit code 0: valid. 1: something differs (each difference is listed). 2 or 3: could not check.
    Verify {
        /// The output folder of `hallmark seal`.
        out: PathBuf,
        /// Re-hash every source file and report which differ, were removed or were added.
        #[arg(long)]
        source: Option<PathBuf>,
        /// Re-hash every shard file in this folder.
        #[arg(long)]
        shards: Option<PathBuf>,
        /// Require a valid signature: an unsigned dataset is a difference (exit 1), as a
        /// marketplace or a buyer should check it.
        #[arg(long)]
        signed: bool,
    },
}

/// Exit codes: 0 success (or valid), 1 verification found differences, 2 bad input (clap also uses 2
/// for usage errors), 3 the operation could not complete.
const EXIT_INVALID: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_FAILED: u8 = 3;

/// Input the command cannot act on (a missing confirmation or passphrase); exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Returned by a command whose check found differences (already printed).
#[derive(Debug, thiserror::Error)]
#[error("the dataset does not match what was sealed")]
pub struct Invalid;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Summary { dir } => {
            let bar = progress::Bar::new(cli.quiet || cli.json, "scanning");
            let summary = folder::summarize(dir, &Default::default(), &bar, &CancelToken::new());
            bar.finish();
            let summary = summary?;
            let mut out = std::io::stdout().lock();
            if cli.json {
                // Serialise first so that a closed pipe surfaces as a plain I/O error.
                let mut json = serde_json::to_vec_pretty(&summary)?;
                json.push(b'\n');
                out.write_all(&json)?;
            } else {
                writeln!(out, "{}", summary.root.display())?;
                writeln!(out, "  files:   {}", summary.files)?;
                writeln!(
                    out,
                    "  size:    {} ({} bytes)",
                    progress::human_bytes(summary.bytes),
                    summary.bytes
                )?;
                writeln!(out, "  folders: {}", summary.folders)?;
                if summary.skipped_total > 0 {
                    writeln!(out, "  passed over: {}", summary.skipped_total)?;
                    for entry in &summary.skipped {
                        writeln!(out, "    {}: {}", entry.path.display(), entry.reason)?;
                    }
                    let hidden = summary.skipped_total - summary.skipped.len() as u64;
                    if hidden > 0 {
                        writeln!(out, "    … and {hidden} more")?;
                    }
                }
            }
            Ok(())
        }
        Command::Seal(args) => seal::seal(args, cli.json, cli.quiet),
        Command::Export {
            out,
            shards,
            source,
        } => seal::export(out, shards, source.as_deref(), cli.json, cli.quiet),
        Command::Key(command) => keys::run(command, cli.json),
        Command::Sign { out, key, key_file } => {
            keys::sign(out, key.as_deref(), key_file.as_deref(), cli.json)
        }
        Command::Credential(command) => keys::credential(command, cli.json),
        Command::Present {
            out,
            creator_credential,
            challenge,
            domain,
            key,
            key_file,
            to,
        } => keys::present(
            &keys::PresentArgs {
                out,
                creator_credential,
                challenge,
                domain,
                key: key.as_deref(),
                key_file: key_file.as_deref(),
                to,
            },
            cli.json,
        ),
        Command::Market(command) => market::run(command, cli.json),
        Command::Publish {
            args,
            accept_findings,
        } => {
            if !args.status && !args.check {
                review::check_before_publish(&args.out, *accept_findings)?;
            }
            publish::run(args, cli.json, cli.quiet)
        }
        Command::Mirror(args) => mirror::run(args, cli.json, cli.quiet),
        Command::Review(args) => review::run(args, cli.json, cli.quiet),
        Command::Earnings(command) => earnings::run(command, cli.json, cli.quiet),
        Command::Verify {
            out,
            source,
            shards,
            signed,
        } => seal::verify(
            out,
            source.as_deref(),
            shards.as_deref(),
            *signed,
            cli.json,
            cli.quiet,
        ),
    }
}

/// Prints an error for people and picks the exit code; a closed pipe (`hallmark … | head`) is a clean exit.
fn report(err: &anyhow::Error) -> ExitCode {
    if let Some(io) = err.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    if err.downcast_ref::<Invalid>().is_some() {
        return ExitCode::from(EXIT_INVALID);
    }
    eprintln!("error: {err:#}");
    if err
        .downcast_ref::<hallmark_core::keys::KeyError>()
        .is_some()
        || err.downcast_ref::<BadInput>().is_some()
    {
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    match err.downcast_ref::<hallmark_core::Error>().map(|e| e.kind()) {
        Some(ErrorKind::NotFound | ErrorKind::InvalidInput) => ExitCode::from(EXIT_BAD_INPUT),
        _ => ExitCode::from(EXIT_FAILED),
    }
}
