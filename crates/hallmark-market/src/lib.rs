//! The reference marketplace: an HTTP service a creator's studio publishes to and earns from.
//!
//! It exists so that Hallmark's whole loop (seal, sign, publish, earn) runs on one machine with no
//! account anywhere, and it is deployable as it is: SQLite and local files by default, PostgreSQL
//! and an S3-compatible store by URL. This crate is the creator side: sign-in by did:key,
//! creator credentials, resumable verified uploads (tus 1.0) and publishing; and the buyer side:
//! buyer accounts, entitlements, signed access tokens and metered shard downloads.

pub mod access;
pub mod auth;
pub mod blobs;
pub mod buyers;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod creators;
pub mod db;
pub mod error;
pub mod identity;
pub mod log;
pub mod metering;
pub mod publish;
pub mod simulate;
pub mod spans;
pub mod statements;
pub mod tokens;
pub mod uploads;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::{Json, Router};
use hallmark_core::did::SigningIdentity;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::blobs::Blobs;
pub use crate::clock::{Clock, ShiftedClock, SystemClock};
pub use crate::config::{Config, Limits};
use crate::db::Db;

/// `N` bytes from the OS's random source, for ids, tokens and nonces.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; N];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// The largest JSON body a handler reads unless it sets its own limit.
pub const MAX_JSON_BODY: usize = 1 << 20;

/// What `GET /v1/health` answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `"ok"` when the server answers.
    pub status: String,
    /// The server's name, so a client can tell it reached a Hallmark marketplace.
    pub service: String,
    /// The server's version.
    pub version: String,
}

/// What `GET /v1/marketplace` answers: who this marketplace is, so a studio can pin its key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketplaceInfo {
    /// The marketplace's did:key: it issues creator credentials and signs statements with it.
    pub did: String,
    /// The origin sign-in presentations must name as their domain.
    pub public_url: String,
    /// The creator's share of each sale, a decimal string between 0 and 1.
    pub creator_share: String,
    /// The largest shard one upload may declare, in bytes.
    pub max_shard_bytes: u64,
    /// The tus protocol version the upload endpoint speaks.
    pub tus_version: String,
    /// The server's version.
    pub version: String,
}

/// Everything a handler can reach.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub blobs: Blobs,
    /// The marketplace's own key.
    pub identity: SigningIdentity,
    pub clock: Arc<dyn Clock>,
    /// Turns delivered paid accesses into durable receipts (group commit).
    pub meter: metering::Meter,
    /// Where each sample's bytes lie in its shard, per version, loaded on first access.
    pub spans: spans::SpanCache,
    /// Held while serving: one server per data folder (partial uploads live there).
    _data_lock: std::fs::File,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the data folder (creating it, the key, the database and the blob store as needed).
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        use anyhow::Context as _;
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.data_dir)
            .with_context(|| {
                format!(
                    "cannot create the data folder {}; pass --data with a folder you can write",
                    config.data_dir.display()
                )
            })?;
        let data_lock = lock_data_folder(&config.data_dir)?;
        let identity = identity::load_or_create(&config.data_dir)?;
        let url = match &config.database_url {
            Some(url) => url.clone(),
            None => db::default_url(&config.data_dir)?,
        };
        let db = Db::connect(&url).await?;
        let blobs = Blobs::open(
            config.store_url.as_deref(),
            &config.data_dir,
            &config.store_options,
        )?;
        let meter = metering::start(db.clone(), clock.clone(), &identity);
        Ok(AppState(Arc::new(Inner {
            config,
            meter,
            spans: spans::SpanCache::default(),
            db,
            blobs,
            identity,
            clock,
            _data_lock: data_lock,
        })))
    }

    /// Now, as RFC 3339.
    pub fn now(&self) -> String {
        clock::rfc3339(self.clock.now())
    }

    /// Now, as Unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

/// The lock file that keeps a second server off a data folder.
pub const LOCK_FILE: &str = "server.lock";

/// Takes the data folder for this process: refuses a folder others can write (they could swap
/// the key or plant partial uploads), and a folder another server is serving from (two servers
/// writing one partial upload would store bytes no one hashed).
fn lock_data_folder(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context as _;
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(data_dir)
        .with_context(|| format!("cannot read the data folder {}", data_dir.display()))?
        .permissions()
        .mode();
    if mode & 0o022 != 0 {
        anyhow::bail!(
            "the data folder {} can be written by others (mode {:o}); run chmod go-w on it",
            data_dir.display(),
            mode & 0o777
        );
    }
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another hallmark-market is serving from {} (it holds {LOCK_FILE}); stop it, or pass \
             --data with another folder",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The OpenAPI document's fixed parts; the paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hallmark reference marketplace",
        description = "A training-data marketplace: did:key sign-in, creator credentials, tus 1.0 uploads, publishing; buyers, entitlements, access tokens and metered shard downloads.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "marketplace", description = "Who this marketplace is"),
        (name = "sign-in", description = "DID authentication: challenge, presentation, bearer token"),
        (name = "creators", description = "Registration and creator credentials"),
        (name = "publishing", description = "Publishing and withdrawing dataset versions"),
        (name = "catalog", description = "Published versions with their manifests, indexes and credentials, for buyers"),
        (name = "uploads", description = "Resumable, verified shard uploads (tus 1.0.0) and which shards are missing"),
        (name = "log", description = "The public receipt log (C2SP tlog-tiles): checkpoints, proofs; tiles under /log/"),
        (name = "earnings", description = "A creator's receipts and signed statements, with payout state"),
        (name = "buyers", description = "Buyer accounts (API keys), entitlements to versions and access tokens"),
        (name = "access", description = "Shard downloads with an access token, metered per sample and receipted"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A creator's session token (hmk_…) from POST /v1/auth/sessions, a buyer's API key (hmb_…), or an access token (hmt1.…) for shard downloads, as each endpoint says",
                    ))
                    .build(),
            ),
        );
    }
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(marketplace))
        .merge(auth::routes())
        .merge(creators::routes())
        .merge(publish::routes())
        .merge(catalog::routes())
        .merge(uploads::routes())
        .merge(statements::routes())
        .merge(log::routes())
        .merge(buyers::routes())
        .merge(access::routes())
}

/// The OpenAPI document of every route, as served at `/openapi.json` and committed as
/// `docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut document) = api().split_for_parts();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    document
}

/// The marketplace's HTTP routes over `state`.
pub fn router(state: AppState) -> Router {
    let (router, _) = api().split_for_parts();
    let document = openapi();
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { Json(document) }),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(state)
}

/// Answers when the server is up.
#[utoipa::path(get, path = "/v1/health", tag = "marketplace",
    responses((status = 200, description = "The server is up", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        service: "hallmark-market".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Names this marketplace: its did:key (pin it on first contact), public origin and terms.
#[utoipa::path(get, path = "/v1/marketplace", tag = "marketplace",
    responses((status = 200, description = "This marketplace", body = MarketplaceInfo)))]
async fn marketplace(State(state): State<AppState>) -> Json<MarketplaceInfo> {
    Json(MarketplaceInfo {
        did: state.identity.public().to_string(),
        public_url: state.config.public_url.clone(),
        creator_share: state.config.creator_share.to_string(),
        max_shard_bytes: state.config.limits.max_shard_bytes,
        tus_version: "1.0.0".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// How often expired challenges, sessions and uploads are removed, in seconds.
pub const SWEEP_SECONDS: u64 = 10 * 60;

/// Removes what has expired: challenges, sessions, and unfinished uploads with their partial
/// files and multipart uploads.
pub async fn sweep(state: &AppState) -> error::ApiResult<()> {
    auth::remove_expired(state).await?;
    uploads::store::remove_expired(state).await
}

/// Serves the marketplace over `state` on `listener` until `shutdown` completes, sweeping
/// expired records every [`SWEEP_SECONDS`].
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn({
        let state = state.clone();
        async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(SWEEP_SECONDS));
            loop {
                every.tick().await;
                // A failed sweep is logged by ApiError::internal and tried again next time.
                let _ = sweep(&state).await;
            }
        }
    });
    let sequencer = log::start(state.clone());
    let statements = tokio::spawn({
        let state = state.clone();
        async move {
            let every = std::time::Duration::from_secs(statements::ISSUE_EVERY_SECONDS);
            let mut every = tokio::time::interval(every);
            loop {
                every.tick().await;
                // A failure is logged by ApiError::internal and the period is tried again.
                let _ = statements::issue_due(&state).await;
            }
        }
    });
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    // No Nagle delay: a metered response sends its headers, then its last chunk only once the
    // receipt is committed; with Nagle's algorithm that chunk would wait for the client's delayed
    // ACK of the headers (up to 40 ms on Linux), which bounded small ranges to ~25 per connection
    // per second.
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        // A socket that refuses the option is still served, only slower.
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping.send(());
    });
    // Requests in flight get a grace period; a client that stalls cannot hold the stop forever.
    let deadline = async {
        if stopped.await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_secs(SHUTDOWN_GRACE_SECONDS)).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let served = tokio::select! {
        served = server => served,
        () = deadline => Ok(()),
    };
    sweeper.abort();
    statements.abort();
    sequencer.abort();
    served
}

/// How long requests in flight may take to finish once a stop is asked for, in seconds.
pub const SHUTDOWN_GRACE_SECONDS: u64 = 20;
