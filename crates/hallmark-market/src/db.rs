//! The marketplace's metadata database: SQLite in the data folder by default (WAL), PostgreSQL by
//! URL, through sqlx's `Any` driver so that one schema and one set of queries serve both.
//!
//! Queries use `$1, $2, …` placeholders (both backends accept them) and portable types only:
//! `TEXT` and `BIGINT`; times are Unix seconds, digests lowercase hex.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which database the metadata lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The metadata database, migrated.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// The SQLite database file in a data folder.
pub const SQLITE_FILE: &str = "market.db";

/// Every byte of a path but letters, digits and `/._-` is percent-encoded in a SQLite URL.
const PATH_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'.')
    .remove(b'_')
    .remove(b'-');

/// The default database URL for `data_dir`: SQLite in it, created when missing.
pub fn default_url(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(SQLITE_FILE);
    let text = path.to_str().ok_or_else(|| {
        anyhow::anyhow!(
            "the data folder {} is not valid UTF-8, which SQLite URLs need; pass --data with another folder",
            data_dir.display()
        )
    })?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        percent_encoding::utf8_percent_encode(text, PATH_ESCAPES)
    ))
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies every migration.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!(
                "--database {}: use sqlite://PATH or postgres://USER@HOST/NAME",
                redact(url)
            );
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("--database {}: {e}", redact(url)))?;
        let pool = AnyPoolOptions::new()
            // SQLite allows one writer at a time: a small pool with a busy timeout serialises them.
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL syncs the WAL at every commit: a receipt is on disk before its
                        // response completes (the meter commits many receipts per sync).
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database {}: {e}", redact(url)))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("cannot migrate the database {}: {e}", redact(url)))?;
        Ok(Db { pool, backend })
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}://{}:***{}",
                    &url[..scheme],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://market:s3cret@db.example/market"),
            "postgres://market:***@db.example/market"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }

    #[tokio::test]
    async fn a_data_folder_may_have_spaces_and_url_characters_in_its_name() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("my market #1?x=y&z%20");
        std::fs::create_dir(&dir).unwrap();
        let db = Db::connect(&default_url(&dir).unwrap()).await.unwrap();
        assert_eq!(db.backend, Backend::Sqlite);
        assert!(dir.join(SQLITE_FILE).is_file());
    }
}
