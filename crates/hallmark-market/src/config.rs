//! How a marketplace is set up: where its data lives, its public address, its creator share and
//! the limits it puts on each creator. `hallmark-market serve` fills it from flags and environment.

use std::path::PathBuf;

use rust_decimal::Decimal;

/// Limits per creator, so one account cannot fill the disk or the upload table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest shard one upload may declare, in bytes.
    pub max_shard_bytes: u64,
    /// How many unfinished uploads a creator may have at once.
    pub max_open_uploads: u32,
    /// How many bytes a creator's unfinished uploads may declare in total.
    pub max_pending_bytes: u64,
    /// How long an unfinished upload is kept after its last write, in seconds (tus expiration).
    pub upload_ttl_seconds: i64,
    /// How long a request body may send nothing before the request is ended (408), in seconds.
    pub body_idle_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_shard_bytes: 64 << 30,
            max_open_uploads: 64,
            max_pending_bytes: 256 << 30,
            upload_ttl_seconds: 7 * 24 * 3600,
            body_idle_seconds: 60,
        }
    }
}

/// A marketplace's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the key, the SQLite database and (by default) the blobs live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None` is SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// `s3://bucket/prefix` or a local folder; `None` is `data_dir/blobs`.
    pub store_url: Option<String>,
    /// S3 settings as `AWS_*` environment variable names and values (`AWS_ENDPOINT_URL`,
    /// `AWS_ACCESS_KEY_ID`, …): the command passes its environment's; tests pass their own.
    pub store_options: Vec<(String, String)>,
    /// The origin clients reach this marketplace at (`https://market.example`), no trailing slash.
    /// Sign-in presentations must name it as their domain.
    pub public_url: String,
    /// The creator's share of each sale, between 0 and 1 (e.g. `0.80`).
    pub creator_share: Decimal,
    pub limits: Limits,
    /// The length of a statement period in seconds, periods aligned to the Unix epoch (86,400:
    /// UTC days, the default).
    pub statement_period_seconds: u64,
    /// Lets anyone create a buyer account with `POST /v1/buyers` (demos, the simulator); when
    /// false, the admin adds buyers with `hallmark-market buyer add`.
    pub open_buyer_signup: bool,
}

/// The default statement period: a UTC day.
pub const DEFAULT_STATEMENT_PERIOD_SECONDS: u64 = 86_400;

/// Normalises a public URL to its origin (`scheme://host[:port]`), refusing anything else.
pub fn public_origin(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
        format!("--public-url {url:?}: expected http://HOST[:PORT] or https://HOST[:PORT]")
    })?;
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "--public-url {url:?}: the scheme must be http or https"
        ));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "--public-url {url:?}: give only the origin (scheme, host and port), no path, user or query"
        ));
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

/// Parses a creator share: a decimal between 0 and 1, or a percentage (`80%`).
pub fn parse_share(text: &str) -> Result<Decimal, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(percent) => (percent.trim(), Decimal::ONE_HUNDRED),
        None => (text.trim(), Decimal::ONE),
    };
    let value: Decimal = number
        .parse()
        .map_err(|_| format!("creator share {text:?}: expected a decimal such as 0.80 or 80%"))?;
    let share = value / scale;
    if share < Decimal::ZERO || share > Decimal::ONE {
        return Err(format!(
            "creator share {text:?}: must be between 0 and 1 (0% and 100%)"
        ));
    }
    Ok(share.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_is_its_origin() {
        assert_eq!(
            public_origin("https://Market.Example/").unwrap(),
            "https://market.example"
        );
        assert_eq!(
            public_origin("http://127.0.0.1:8787").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert!(public_origin("ftp://x").is_err());
        assert!(public_origin("https://x/path").is_err());
        assert!(public_origin("market.example").is_err());
    }

    #[test]
    fn a_share_is_an_exact_fraction() {
        assert_eq!(parse_share("80%").unwrap().to_string(), "0.8");
        assert_eq!(parse_share("0.725").unwrap().to_string(), "0.725");
        assert!(parse_share("1.5").is_err());
        assert!(parse_share("-1%").is_err());
        assert!(parse_share("lots").is_err());
    }
}
