//! A marketplace served in-process on a loopback port for one test, with its own data folder,
//! database (SQLite, or a fresh PostgreSQL database), blob store and a clock the test can move.

use std::sync::Arc;

use hallmark_core::creator;
use hallmark_core::did::SigningIdentity;
use hallmark_market::{AppState, Config, Limits, ShiftedClock};
use serde_json::Value;

use crate::servers;

/// Where a test marketplace keeps its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Sqlite,
    Postgres,
}

/// Where a test marketplace keeps its blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Local,
    S3,
}

/// How to start a test marketplace.
#[derive(Debug, Clone)]
pub struct Options {
    pub database: Database,
    pub store: Store,
    pub limits: Limits,
    pub statement_period_seconds: u64,
    pub open_buyer_signup: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            database: Database::Sqlite,
            store: Store::Local,
            limits: Limits::default(),
            statement_period_seconds: hallmark_market::config::DEFAULT_STATEMENT_PERIOD_SECONDS,
            open_buyer_signup: false,
        }
    }
}

/// A running test marketplace. Dropping it stops the server.
#[derive(Debug)]
pub struct Market {
    /// `http://127.0.0.1:PORT`, also its public URL (the sign-in domain).
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ShiftedClock,
    pub state: AppState,
    pub config: Config,
    pub data: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Market {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Market {
    /// SQLite and local files.
    pub async fn start() -> Market {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Market {
        let data = tempfile::tempdir().expect("temp dir");
        let database_url = match options.database {
            Database::Sqlite => None,
            Database::Postgres => Some(servers::postgres_database().await),
        };
        let (store_url, store_options) = match options.store {
            Store::Local => (None, Vec::new()),
            Store::S3 => {
                let (url, settings) = servers::s3_bucket();
                (Some(url), settings)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let config = Config {
            data_dir: data.path().to_owned(),
            database_url,
            store_url,
            store_options,
            public_url: base.clone(),
            creator_share: "0.8".parse().expect("share"),
            limits: options.limits,
            statement_period_seconds: options.statement_period_seconds,
            open_buyer_signup: options.open_buyer_signup,
        };
        let clock = ShiftedClock::default();
        let state = AppState::open(config.clone(), Arc::new(clock.clone()))
            .await
            .expect("open the marketplace");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(hallmark_market::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Market {
            base,
            http: reqwest::Client::new(),
            clock,
            state,
            config,
            data,
            stop: Some(stop),
        }
    }

    /// The test clock's now.
    pub fn clock_now(&self) -> time::OffsetDateTime {
        use hallmark_market::Clock as _;
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The marketplace's did:key as `GET /v1/marketplace` names it.
    pub fn did(&self) -> String {
        self.state.identity.public().to_string()
    }

    /// A fresh challenge's text.
    pub async fn challenge(&self) -> String {
        challenge_at(&self.http, &self.base).await
    }

    /// Signs `key` in over a fresh challenge: the bearer token.
    pub async fn sign_in(&self, key: &SigningIdentity) -> String {
        sign_in_at(&self.http, &self.base, key, &self.state.now()).await
    }

    /// Signs `key` in and registers it as `name`: its token and creator credential.
    pub async fn join(&self, key: &SigningIdentity, name: &str) -> (String, Value) {
        join_at(&self.http, &self.base, key, name, &self.state.now()).await
    }
}

/// A fresh challenge's text from the marketplace at `base`.
pub async fn challenge_at(http: &reqwest::Client, base: &str) -> String {
    let response = http
        .post(format!("{base}/v1/auth/challenges"))
        .send()
        .await
        .expect("challenge request");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("challenge json");
    body["challenge"].as_str().expect("challenge").to_owned()
}

/// Signs `key` in at the marketplace at `base` (also its domain) at `now`: the bearer token.
pub async fn sign_in_at(
    http: &reqwest::Client,
    base: &str,
    key: &SigningIdentity,
    now: &str,
) -> String {
    let challenge = challenge_at(http, base).await;
    let presentation = creator::present(key, &[], &challenge, base, now).expect("present");
    let response = http
        .post(format!("{base}/v1/auth/sessions"))
        .json(&presentation)
        .send()
        .await
        .expect("sign-in request");
    assert_eq!(
        response.status(),
        201,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let body: Value = response.json().await.expect("session json");
    body["token"].as_str().expect("token").to_owned()
}

/// Signs `key` in at `base` and registers it as `name`: its token and creator credential.
pub async fn join_at(
    http: &reqwest::Client,
    base: &str,
    key: &SigningIdentity,
    name: &str,
    now: &str,
) -> (String, Value) {
    let token = sign_in_at(http, base, key, now).await;
    let response = http
        .put(format!("{base}/v1/creators/me"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .expect("register request");
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let body: Value = response.json().await.expect("creator json");
    (token, body["credential"].clone())
}

/// A version a fresh creator published, with what was sealed for it.
pub struct Published {
    /// The version's id.
    pub version: String,
    /// The creator's session token (to withdraw it).
    pub creator_token: String,
    pub sealed: crate::publish::Sealed,
    /// The index's lines, parsed: each sample's shard and files with their data offsets.
    pub samples: Vec<hallmark_core::seal::IndexedSample>,
}

impl Market {
    /// Adds a buyer named `name` as the admin's command does: their API key.
    pub async fn buyer(&self, name: &str) -> String {
        hallmark_market::buyers::add(&self.state.db, name, self.state.now_unix())
            .await
            .expect("add a buyer")
            .api_key
    }

    /// A creator named `creator` joins and publishes the small dataset `dataset` 1.0.0 (a dozen
    /// files of 840 bytes in shards of about 4 KiB) at 0.002 EUR a sample.
    pub async fn publish_dataset(&self, creator: &str, dataset: &str) -> Published {
        let files: Vec<(String, Vec<u8>)> = (0..12)
            .map(|i| {
                (
                    format!("take{i:02}.txt"),
                    format!("{dataset} take {i:02}\n").repeat(60).into_bytes(),
                )
            })
            .collect();
        self.publish_files(creator, dataset, &files, 4 << 10).await
    }

    /// A creator named `creator` joins and publishes `files` as `dataset` 1.0.0 in shards of about
    /// `shard_size` bytes, at 0.002 EUR a sample.
    pub async fn publish_files(
        &self,
        creator: &str,
        dataset: &str,
        files: &[(String, Vec<u8>)],
        shard_size: u64,
    ) -> Published {
        use crate::publish;
        let who = publish::creator(self, creator).await;
        let sealed = publish::seal_files(
            &who.key,
            dataset,
            "1.0.0",
            "for buyers",
            &self.state.now(),
            files,
            shard_size,
        );
        publish::store_shards(self, &who.token, &sealed).await;
        let form = publish::Form::of(self, &who, &sealed).await;
        let (status, listed) = publish::publish(self, &who.token, &form).await;
        assert_eq!(status, 201, "{listed}");
        let samples = sealed
            .index
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("index line"))
            .collect();
        Published {
            version: listed["id"].as_str().expect("version id").to_owned(),
            creator_token: who.token,
            sealed,
            samples,
        }
    }

    /// Every receipt's body in the receipts table, in log order.
    pub async fn receipts(&self) -> Vec<Value> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM receipts ORDER BY log_index")
                .fetch_all(&self.state.db.pool)
                .await
                .expect("read receipts");
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).expect("receipt json"))
            .collect()
    }
}

/// An access charged straight through the meter (no download): samples `from..=to` of a made-up
/// shard of 64 samples of 1 KiB each (sample `i` at bytes `512 + 1536 i` onwards), with `token`.
pub fn test_access(
    creator: &str,
    buyer: &str,
    token: &str,
    (from, to): (usize, usize),
) -> hallmark_market::metering::Access {
    let spans = (0..64u64)
        .map(|i| (512 + 1536 * i, 512 + 1536 * i + 1024))
        .collect();
    let spans = hallmark_market::spans::ShardSpans::new(512 + 1536 * 64, spans).expect("spans");
    let (first, last) = spans.bytes_of(from, to);
    hallmark_market::metering::Access {
        token_id: token.into(),
        entitlement_id: format!("e_{buyer}"),
        buyer_id: buyer.into(),
        creator: creator.into(),
        dataset_id: "d_test".into(),
        version_id: "v_test".into(),
        shard: "bafkreitestshard".into(),
        requested: hallmark_core::earnings::ByteRange { first, last },
        samples: (from, to),
        spans: std::sync::Arc::new(spans),
        price: "0.0007".parse().expect("price"),
        currency: "USD".into(),
        share_rate: "0.8".parse().expect("rate"),
    }
}

/// The hashes of a consistency proof as `GET /v1/log/consistency` answers them (base64).
pub fn proof_hashes(proof: &Value) -> Vec<hallmark_core::tlog::Hash> {
    use base64::Engine as _;
    proof["hashes"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|h| {
            base64::engine::general_purpose::STANDARD
                .decode(h.as_str().expect("base64 text"))
                .expect("base64")
                .try_into()
                .expect("32 bytes")
        })
        .collect()
}
