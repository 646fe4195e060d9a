//! The `hallmark-market` command: serves the reference marketplace, and its admin's steps.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use hallmark_core::creator::VerificationLevel;
use hallmark_market::{AppState, Config, Limits, SystemClock, config, creators, statements};
use rust_decimal::Decimal;

/// The reference Hallmark marketplace. Without a command, serves with the defaults.
#[derive(Debug, Parser)]
#[command(
    name = "hallmark-market",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the marketplace (the default).
    Serve(ServeArgs),
    /// The admin's steps on creators.
    #[command(subcommand)]
    Creator(CreatorCommand),
    /// The admin's steps on buyers.
    #[command(subcommand)]
    Buyer(BuyerCommand),
    /// The admin's steps on entitlements.
    #[command(subcommand)]
    Entitlement(EntitlementCommand),
    /// The receipt log.
    #[command(subcommand)]
    Log(LogCommand),
    /// Simulate buyers against a running marketplace: buyers, entitlements, real downloads (whole
    /// shards and single samples), and the simulator's own tally of what should be billed.
    Simulate {
        /// The marketplace's URL (it must run with --open-buyer-signup).
        #[arg(long, default_value = "http://127.0.0.1:8787")]
        market: String,
        /// How many buyers.
        #[arg(long, default_value_t = 3)]
        buyers: u32,
        /// How many downloads in all (about one in ten repeats an earlier one: not billed again).
        #[arg(long, default_value_t = 100)]
        accesses: u32,
        /// The random seed: the same seed on the same catalog makes the same plan.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Downloads in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Print the tally as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Statements' payouts: list them, record a payment.
    #[command(subcommand)]
    Payout(PayoutCommand),
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Re-hash the whole log from storage; check every checkpoint issued is signed and
    /// consistent with it, and every receipt is the entry at its index.
    Check {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
        /// Where the blobs are, as `serve --store` (default: DATA/blobs).
        #[arg(long = "store", env = "HALLMARK_MARKET_STORE")]
        blob_store: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PayoutCommand {
    /// List statements with what each creator is owed and whether it was paid.
    List {
        /// Only statements not paid yet.
        #[arg(long)]
        pending: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Record that a statement was paid, with the payment's reference.
    Mark {
        /// The statement's id (`s_…`), as `payout list` shows it.
        statement: String,
        /// The payment's reference (a bank or payment-provider id).
        #[arg(long)]
        reference: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum BuyerCommand {
    /// Add a buyer and print their API key (shown once; only its SHA-256 is kept).
    Add {
        /// The buyer's name, unique here.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the buyers.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable a buyer: their API key and access tokens are refused from now on.
    Disable {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum EntitlementCommand {
    /// Revoke an entitlement (ent_…): its access tokens are refused from now on.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum CreatorCommand {
    /// Set how far the marketplace checked a creator; their credential is re-issued at that level.
    Verify {
        /// The creator's did:key.
        did: String,
        /// self-asserted, contact-verified or identity-verified.
        #[arg(long)]
        level: VerificationLevel,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where the marketplace keeps its data.
#[derive(Debug, Clone, Args)]
struct StoreArgs {
    /// The data folder: the marketplace key, the SQLite database and (by default) the blobs.
    #[arg(long, env = "HALLMARK_MARKET_DATA")]
    data: Option<PathBuf>,
    /// The metadata database: sqlite://PATH (default: in the data folder) or postgres://USER@HOST/NAME.
    #[arg(long, env = "HALLMARK_MARKET_DATABASE")]
    database: Option<String>,
}

impl StoreArgs {
    /// The data folder's database, migrated (also while a server runs on it).
    async fn database(&self) -> anyhow::Result<hallmark_market::db::Db> {
        let url = match &self.database {
            Some(url) => url.clone(),
            None => {
                let data_dir = self.data_dir()?;
                if !data_dir.join(hallmark_market::identity::KEY_FILE).exists() {
                    anyhow::bail!(
                        "{} is not a marketplace's data folder (no marketplace key); pass --data \
                         with the folder the server uses",
                        data_dir.display()
                    );
                }
                hallmark_market::db::default_url(&data_dir)?
            }
        };
        hallmark_market::db::Db::connect(&url).await
    }

    fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data {
            Some(dir) => Ok(dir.clone()),
            None => dirs::data_local_dir()
                .map(|d| d.join("hallmark-market"))
                .context("no per-user data folder on this system; pass --data DIR"),
        }
    }
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on. Port 0 picks a free port; the chosen address is printed.
    #[arg(long, default_value = "127.0.0.1:8787", env = "HALLMARK_MARKET_LISTEN")]
    listen: SocketAddr,
    /// Where shards and dataset files go: s3://BUCKET/PREFIX (with the AWS_* environment
    /// variables; R2 and MinIO via AWS_ENDPOINT_URL) or a folder (default: DATA/blobs).
    #[arg(long = "store", env = "HALLMARK_MARKET_STORE")]
    blob_store: Option<String>,
    /// The origin clients reach this server at (default: http://LISTEN-ADDRESS).
    #[arg(long, env = "HALLMARK_MARKET_PUBLIC_URL")]
    public_url: Option<String>,
    /// The creator's share of each sale: a decimal (0.80) or a percentage (80%).
    #[arg(long, default_value = "80%", env = "HALLMARK_MARKET_CREATOR_SHARE", value_parser = config::parse_share)]
    creator_share: Decimal,
    /// The largest shard one upload may declare, in bytes.
    #[arg(long, env = "HALLMARK_MARKET_MAX_SHARD_BYTES")]
    max_shard_bytes: Option<u64>,
    /// How many unfinished uploads one creator may have at once.
    #[arg(long, env = "HALLMARK_MARKET_MAX_OPEN_UPLOADS")]
    max_open_uploads: Option<u32>,
    /// Let anyone create a buyer account over HTTP (POST /v1/buyers): for demos and the simulator.
    #[arg(long, env = "HALLMARK_MARKET_OPEN_BUYER_SIGNUP")]
    open_buyer_signup: bool,
    /// How long a statement period is (1d: UTC days), aligned to the Unix epoch. Each creator
    /// with receipts gets one signed statement when a period closes.
    #[arg(long, default_value = "1d", env = "HALLMARK_MARKET_STATEMENT_PERIOD", value_parser = parse_period)]
    statement_period: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Everything the marketplace writes (key, database, partial uploads, shards) is its own.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => serve(args).await,
        Command::Creator(CreatorCommand::Verify { did, level, store }) => {
            let data_dir = store.data_dir()?;
            let key = hallmark_market::identity::load(&data_dir)?;
            let url = match &store.database {
                Some(url) => url.clone(),
                None => hallmark_market::db::default_url(&data_dir)?,
            };
            let db = hallmark_market::db::Db::connect(&url).await?;
            creators::set_level(&db, &key, &did, level, time::OffsetDateTime::now_utc()).await?;
            println!("{did} is now {level}; their next status check receives the new credential");
            Ok(())
        }
        Command::Buyer(BuyerCommand::Add { name, store }) => {
            let db = store.database().await?;
            let buyer = hallmark_market::buyers::add(&db, &name, now_unix())
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("buyer {:?} added as {}", buyer.name, buyer.id);
            println!(
                "API key (shown once, only its SHA-256 is kept): {}",
                buyer.api_key
            );
            Ok(())
        }
        Command::Buyer(BuyerCommand::List { store }) => {
            let db = store.database().await?;
            let buyers = hallmark_market::buyers::list(&db)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            if buyers.is_empty() {
                println!("no buyers yet; add one with hallmark-market buyer add NAME");
            }
            for buyer in buyers {
                let status = match buyer.disabled_at {
                    Some(at) => {
                        format!("disabled {}", hallmark_market::clock::rfc3339_from_unix(at))
                    }
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\tadded {}\t{status}",
                    buyer.id,
                    buyer.name,
                    hallmark_market::clock::rfc3339_from_unix(buyer.created_at)
                );
            }
            Ok(())
        }
        Command::Buyer(BuyerCommand::Disable { name, store }) => {
            let db = store.database().await?;
            if hallmark_market::buyers::disable(&db, &name, now_unix()).await? {
                println!("buyer {name:?} is disabled: their API key and access tokens are refused");
            } else {
                println!("buyer {name:?} was disabled already");
            }
            Ok(())
        }
        Command::Payout(PayoutCommand::List {
            pending,
            json,
            store,
        }) => {
            let lines = statements::payouts(&store.database().await?, pending).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&lines)?);
            } else if lines.is_empty() {
                println!("no statements{}", if pending { " pending" } else { "" });
            }
            for line in lines.iter().filter(|_| !json) {
                let status = match &line.payout.reference {
                    Some(reference) => format!("paid ({reference})"),
                    None => line.payout.status.clone(),
                };
                println!(
                    "{}  {}  {} – {}  {}  {status}",
                    line.statement,
                    line.creator,
                    line.period_start,
                    line.period_end,
                    line.payable.join(", ")
                );
            }
            Ok(())
        }
        Command::Log(LogCommand::Check {
            json,
            store,
            blob_store,
        }) => {
            let data_dir = store.data_dir()?;
            let key = hallmark_market::identity::load(&data_dir)?;
            let aws: Vec<(String, String)> = std::env::vars()
                .filter(|(name, _)| name.starts_with("AWS_"))
                .collect();
            let blobs =
                hallmark_market::blobs::Blobs::open(blob_store.as_deref(), &data_dir, &aws)?;
            let report =
                hallmark_market::log::check(&store.database().await?, blobs, &key.public())
                    .await
                    .context("the receipt log does not check")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "the receipt log checks: {} entries, root {}, {} entry bundles re-hashed, \
                     {} tiles compared, {} checkpoints consistent, {} receipts match their entries",
                    report.size,
                    report.root,
                    report.bundles,
                    report.tiles,
                    report.checkpoints,
                    report.receipts
                );
            }
            Ok(())
        }
        Command::Payout(PayoutCommand::Mark {
            statement,
            reference,
            store,
        }) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            statements::mark_paid(&store.database().await?, &statement, &reference, now).await?;
            println!("statement {statement} is paid ({})", reference.trim());
            Ok(())
        }
        Command::Simulate {
            market,
            buyers,
            accesses,
            seed,
            concurrency,
            json,
        } => {
            let plan = hallmark_market::simulate::Plan {
                market,
                buyers,
                accesses,
                seed,
                concurrency,
            };
            let tally = hallmark_market::simulate::run(&plan).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tally)?);
                return Ok(());
            }
            println!(
                "{} accesses ({} repeats, not billed again): {} whole shards, {} samples by range, {} bytes",
                tally.accesses, tally.retries, tally.whole_shards, tally.sample_ranges, tally.bytes
            );
            for (creator, currencies) in &tally.creators {
                for (currency, earned) in currencies {
                    println!(
                        "{creator}: {} receipts, {} samples, {} {currency} gross, {} {currency} creator share",
                        earned.receipts, earned.samples, earned.gross, earned.creator_share
                    );
                }
            }
            Ok(())
        }
        Command::Entitlement(EntitlementCommand::Revoke { id, store }) => {
            let db = store.database().await?;
            if hallmark_market::buyers::revoke_any(&db, &id, now_unix()).await? {
                println!("entitlement {id} is revoked: its access tokens are refused");
            } else {
                println!("entitlement {id} was revoked already");
            }
            Ok(())
        }
    }
}

/// A statement period such as `1d`, `12h` or `30m`: whole seconds, from 1 second to 366 days.
fn parse_period(text: &str) -> Result<u64, String> {
    let period = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration ({e}); write e.g. 1d, 12h or 30m"))?;
    if period.subsec_nanos() != 0 || period.as_secs() == 0 || period.as_secs() > 366 * 86_400 {
        return Err(format!(
            "{text:?}: a statement period is whole seconds, from 1s to 366d"
        ));
    }
    Ok(period.as_secs())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; stop whatever uses that port or pass --listen 127.0.0.1:0",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let public_url = config::public_origin(
        &args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
    )
    .map_err(anyhow::Error::msg)?;
    let defaults = Limits::default();
    let config = Config {
        data_dir: args.store.data_dir()?,
        database_url: args.store.database.clone(),
        store_url: args.blob_store.clone(),
        store_options: std::env::vars()
            .filter(|(name, _)| name.starts_with("AWS_"))
            .collect(),
        public_url: public_url.clone(),
        creator_share: args.creator_share,
        limits: Limits {
            max_shard_bytes: args.max_shard_bytes.unwrap_or(defaults.max_shard_bytes),
            max_open_uploads: args.max_open_uploads.unwrap_or(defaults.max_open_uploads),
            ..defaults
        },
        open_buyer_signup: args.open_buyer_signup,
        statement_period_seconds: args.statement_period,
    };
    let state = AppState::open(config, Arc::new(SystemClock)).await?;
    println!("hallmark-market listening on http://{addr}");
    println!("marketplace {} at {public_url}", state.identity.public());
    hallmark_market::serve(state, listener, stop_requested()).await?;
    Ok(())
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Completes on Ctrl-C or SIGTERM (what service managers send), so that requests in flight finish.
async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
