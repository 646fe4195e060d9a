//! `hallmark market …`: join a marketplace (pin its key, sign in, register, keep the creator
//! credential), show what is known about it, and print session tokens for scripts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use hallmark_client::publishing::{self, PublishError};
use hallmark_client::{ClientError, Creator, MarketClient, Origin, Session};
use hallmark_core::creator::VerificationLevel;

use crate::BadInput;
use crate::keys;
use hallmark_client::joined::{self, Joined, JoinedStore};

#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// Join a marketplace: pin its did:key, sign in with your key, register NAME and keep the
    /// creator credential it issues. Joining again re-registers (a new name) and pins afresh.
    Join {
        /// The marketplace's address: its origin, such as https://market.example.
        url: String,
        /// The name buyers see.
        #[arg(long)]
        name: String,
        /// Your did:key (needed only when the keyring holds several).
        #[arg(long)]
        key: Option<String>,
    },
    /// A joined marketplace: its pinned did:key, your name and level, your credential and
    /// session. Refreshes the credential when the marketplace answers; offline, shows what is kept.
    Status {
        /// The marketplace (needed only when you joined several).
        url: Option<String>,
    },
    /// Print a session token and nothing else, for scripts:
    /// curl -H "Authorization: Bearer $(hallmark market token)" URL/v1/creators/me
    Token {
        /// The marketplace (needed only when you joined several).
        url: Option<String>,
    },
}

pub fn run(command: &MarketCommand, json: bool) -> anyhow::Result<()> {
    let store = JoinedStore::new(&keys::data_dir()?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the network runtime")?;
    match command {
        MarketCommand::Join { url, name, key } => {
            runtime.block_on(join(&store, url, name, key.as_deref(), json))
        }
        MarketCommand::Status { url } => {
            let joined = which(&store, url.as_deref(), "hallmark market status URL")?;
            runtime.block_on(status(&store, &joined, json))
        }
        MarketCommand::Token { url } => {
            let joined = which(&store, url.as_deref(), "hallmark market token URL")?;
            runtime.block_on(token(&store, &joined, json))
        }
    }
}

/// A URL the creator typed, as an origin; a bad one is bad input.
pub(crate) fn origin(url: &str) -> anyhow::Result<Origin> {
    Origin::parse(url).map_err(|e| BadInput(e.to_string()).into())
}

/// The marketplace `url` names, or the only one joined; `usage` shows how this command names one
/// (with `URL` in it).
pub(crate) fn which(store: &JoinedStore, url: Option<&str>, usage: &str) -> anyhow::Result<Joined> {
    if let Some(url) = url {
        let origin = origin(url)?;
        return store.load(&origin)?.ok_or_else(|| {
            BadInput(format!(
                "you have not joined {origin}; join it with: hallmark market join {origin} --name NAME"
            ))
            .into()
        });
    }
    let mut all = store.all()?;
    match all.len() {
        0 => Err(BadInput(
            "you have not joined a marketplace; join one with: hallmark market join URL --name NAME"
                .into(),
        )
        .into()),
        1 => Ok(all.remove(0)),
        count => Err(BadInput(format!(
            "you joined {count} marketplaces ({}); name one: {usage}",
            all.iter()
                .map(|j| j.origin.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}

/// A client's error as the CLI reports it: a bad address is bad input, the rest failures.
pub(crate) fn failed(error: ClientError) -> anyhow::Error {
    if error.is_bad_input() {
        BadInput(error.to_string()).into()
    } else {
        error.into()
    }
}

/// Checks the credential (again) and keeps it on the shelf in place of the ones it supersedes.
pub(crate) fn keep(creator: &Creator, client: &MarketClient, now: &str) -> anyhow::Result<()> {
    Ok(publishing::keep_credential(
        &keys::credential_shelf()?,
        creator,
        client,
        now,
    )?)
}

async fn join(
    store: &JoinedStore,
    url: &str,
    name: &str,
    key: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let origin = origin(url)?;
    let (record, key) = keys::choose(key, "hallmark market join URL --name NAME --key DID")?;
    let earlier = store.load(&origin).ok().flatten();
    let now = keys::now();
    let joined = publishing::join(store, &keys::credential_shelf()?, &origin, &key, name, &now)
        .await
        .map_err(|e| match e {
            PublishError::Client(e) => failed(e),
            other => other.into(),
        })?;
    debug_assert_eq!(joined.creator, record.did);

    let mut out = std::io::stdout().lock();
    if !json {
        if let Some(earlier) = earlier.filter(|e| e.marketplace != joined.marketplace) {
            writeln!(
                out,
                "note: the marketplace's key changed from {} to {}; the new one is pinned",
                earlier.marketplace, joined.marketplace
            )?;
        }
        writeln!(out, "joined {} as {}", joined.origin, joined.name)?;
    }
    Standing::now(store, &joined, &now, None)?.print(&mut out, json)
}

/// A client of `joined`'s marketplace, pinned to the key recorded when the creator joined.
pub(crate) fn pinned_client(joined: &Joined) -> anyhow::Result<MarketClient> {
    Ok(MarketClient::new(&joined.origin)
        .map_err(failed)?
        .pinned_to(joined.marketplace_did()?))
}

/// Signs `client` in with the creator's key from the keyring, and stores the session.
pub(crate) async fn sign_in(
    store: &JoinedStore,
    client: &mut MarketClient,
    joined: &Joined,
    now: &str,
) -> anyhow::Result<Session> {
    let (_, key) = keys::choose(
        Some(&joined.creator),
        "hallmark market join URL --name NAME",
    )?;
    let session = client.sign_in(&key, now).await.map_err(failed)?;
    store.save_session(client.origin(), &session)?;
    Ok(session)
}

/// Fetches the creator's current credential from the marketplace and keeps it, with the stored
/// session or a new one (also when the marketplace no longer knows the stored one).
async fn refresh(store: &JoinedStore, joined: &Joined, now: &str) -> anyhow::Result<()> {
    let origin = Origin::parse(&joined.origin)?;
    let mut client = pinned_client(joined)?;
    let stored = store
        .session(&origin, &joined.creator)
        .filter(|s| joined::valid_for(s, now, 0));
    let mut creator = None;
    if let Some(session) = stored {
        client = client.with_session(session);
        creator = match client.creator(now).await {
            Err(ClientError::Refused { status: 401, .. }) => None,
            other => Some(other.map_err(failed)?),
        };
    }
    let creator = match creator {
        Some(creator) => creator,
        None => {
            sign_in(store, &mut client, joined, now).await?;
            client.creator(now).await.map_err(failed)?
        }
    };
    keep(&creator, &client, now)
}

async fn status(store: &JoinedStore, joined: &Joined, json: bool) -> anyhow::Result<()> {
    let now = keys::now();
    // Offline is a state to report, not a failure: what is stored still answers.
    let offline = match refresh(store, joined, &now).await {
        Ok(()) => None,
        Err(e) => match e.downcast::<ClientError>() {
            Ok(unreachable @ ClientError::Unreachable { .. }) => Some(unreachable.to_string()),
            Ok(other) => return Err(other.into()),
            Err(other) => return Err(other),
        },
    };
    Standing::now(store, joined, &now, offline)?.print(&mut std::io::stdout().lock(), json)
}

/// Where the creator stands with a marketplace, from what is stored: what `join` and `status` print.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Standing<'a> {
    origin: &'a str,
    /// The pinned did:key.
    marketplace: &'a str,
    creator: &'a str,
    /// As the valid credential states it, else as registered.
    name: String,
    joined_at: &'a str,
    /// The credential's level while it is valid.
    level: Option<VerificationLevel>,
    credential: Option<CredentialState>,
    session: Option<SessionState>,
    online: bool,
    /// Why the marketplace could not be asked, when it could not.
    offline: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CredentialState {
    valid: bool,
    valid_until: Option<String>,
    problem: Option<String>,
    file: PathBuf,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionState {
    valid: bool,
    expires_at: String,
}

impl<'a> Standing<'a> {
    /// The standing at `now` from the kept credential and the stored session.
    fn now(
        store: &JoinedStore,
        joined: &'a Joined,
        now: &str,
        offline: Option<String>,
    ) -> anyhow::Result<Standing<'a>> {
        let kept = keys::credential_shelf()?
            .list(now)?
            .into_iter()
            .filter(|k| k.marketplace == joined.marketplace && k.holder == joined.creator)
            // The valid one that lasts longest, else the latest to expire.
            .max_by_key(|k| (k.problem.is_none(), k.valid_until.clone()));
        let session = match store.session(&Origin::parse(&joined.origin)?, &joined.creator) {
            Some(s) => Some(SessionState {
                valid: joined::valid_for(&s, now, 0),
                expires_at: s.expires_at,
            }),
            None => None,
        };
        let name = match &kept {
            Some(k) if k.problem.is_none() => k.name.clone(),
            _ => joined.name.clone(),
        };
        Ok(Standing {
            origin: &joined.origin,
            marketplace: &joined.marketplace,
            creator: &joined.creator,
            name,
            joined_at: &joined.joined_at,
            level: kept.as_ref().and_then(|k| k.level),
            credential: kept.map(|k| CredentialState {
                valid: k.problem.is_none(),
                valid_until: k.valid_until,
                problem: k.problem,
                file: k.file,
            }),
            session,
            online: offline.is_none(),
            offline,
        })
    }

    fn print(&self, out: &mut impl Write, json: bool) -> anyhow::Result<()> {
        if json {
            writeln!(out, "{}", serde_json::to_string(self)?)?;
            return Ok(());
        }
        writeln!(out, "{}", self.origin)?;
        writeln!(
            out,
            "  marketplace: {} (pinned {})",
            self.marketplace, self.joined_at
        )?;
        let level = self
            .level
            .map_or_else(|| "no valid credential".to_owned(), |l| l.to_string());
        writeln!(
            out,
            "  you:         {} ({}), {level}",
            self.name, self.creator
        )?;
        let credential = match &self.credential {
            None => "none kept; run hallmark market join again".to_owned(),
            Some(CredentialState {
                problem: Some(problem),
                ..
            }) => format!("INVALID: {problem}"),
            Some(c) => format!(
                "valid until {} (kept in {})",
                c.valid_until.as_deref().unwrap_or("no end date"),
                c.file.display()
            ),
        };
        writeln!(out, "  credential:  {credential}")?;
        let session = match &self.session {
            None => "none; hallmark market token signs in".to_owned(),
            Some(s) if s.valid => format!("valid until {}", s.expires_at),
            Some(s) => format!(
                "expired at {}; hallmark market token signs in",
                s.expires_at
            ),
        };
        writeln!(out, "  session:     {session}")?;
        match &self.offline {
            None => writeln!(out, "  checked with the marketplace just now")?,
            Some(why) => writeln!(out, "  offline, showing what is stored: {why}")?,
        }
        Ok(())
    }
}

/// A session with `joined`'s marketplace for `client`: the stored one while it stays valid for a
/// while, else a new sign-in. The marketplace must first prove it is the one joined.
pub(crate) async fn session(
    store: &JoinedStore,
    client: &mut MarketClient,
    joined: &Joined,
    now: &str,
) -> anyhow::Result<Session> {
    let origin = Origin::parse(&joined.origin)?;
    client.marketplace().await.map_err(failed)?;
    let stored = store
        .session(&origin, &joined.creator)
        .filter(|s| joined::valid_for(s, now, joined::TOKEN_MARGIN_SECONDS));
    match stored {
        Some(session) => Ok(session),
        None => sign_in(store, client, joined, now).await,
    }
}

async fn token(store: &JoinedStore, joined: &Joined, json: bool) -> anyhow::Result<()> {
    let now = keys::now();
    let mut client = pinned_client(joined)?;
    // Even a stored token is handed out only after the marketplace proves it is the one joined.
    let session = session(store, &mut client, joined, &now).await?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "token": session.token, "expiresAt": session.expires_at })
        )?;
    } else {
        writeln!(out, "{}", session.token)?;
    }
    Ok(())
}
