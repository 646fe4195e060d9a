//! Where a mirror goes: an S3-compatible bucket named by `s3://BUCKET/PREFIX`, its endpoint, region and addressing, checked as untrusted input; and the credentials that sign requests to it.

use zeroize::Zeroizing;

/// The longest prefix accepted (S3 keys are at most 1,024 bytes; the object names need the rest).
pub const MAX_PREFIX_BYTES: usize = 512;

/// Why a bucket cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct BucketError {
    /// The input that is wrong, as the creator typed it.
    pub what: String,
    /// What is wrong and how to fix it.
    pub detail: String,
}

fn bad(what: &str, detail: impl Into<String>) -> BucketError {
    BucketError {
        what: crate::json::excerpt(what, 200),
        detail: detail.into(),
    }
}

/// An S3-compatible bucket and a prefix in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketTarget {
    pub bucket: String,
    /// Object names go under this, separated by `/`; empty for the bucket's root.
    pub prefix: String,
    /// The service's URL (`https://ACCOUNT.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`);
    /// none for AWS S3 itself.
    pub endpoint: Option<String>,
    /// `auto` for R2; AWS regions such as `eu-west-1`.
    pub region: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`.
    pub path_style: bool,
}

impl BucketTarget {
    /// Reads `s3://BUCKET[/PREFIX]` with the endpoint, region and addressing asked for. Without an
    /// endpoint the bucket is on AWS S3 (virtual-hosted, the region given or `us-east-1`); with
    /// one, the region defaults to `auto` and addressing to path-style, what R2 and MinIO expect.
    pub fn parse(
        url: &str,
        endpoint: Option<&str>,
        region: Option<&str>,
        path_style: Option<bool>,
    ) -> Result<BucketTarget, BucketError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            bad(
                url,
                "a mirror is named as s3://BUCKET/PREFIX (for example s3://my-datasets/photos)",
            )
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(url, bucket)?;
        let prefix = prefix.trim_end_matches('/');
        check_prefix(url, prefix)?;
        let endpoint = endpoint.map(check_endpoint).transpose()?;
        let region = match region {
            Some(region) => check_region(region)?,
            None if endpoint.is_some() => "auto".to_owned(),
            None => "us-east-1".to_owned(),
        };
        Ok(BucketTarget {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            path_style: path_style.unwrap_or(endpoint.is_some()),
            endpoint,
            region,
        })
    }

    /// `s3://BUCKET/PREFIX`, as the creator names it.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The bucket's identity, whatever the prefix: the name its credentials are kept under.
    pub fn bucket_id(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("s3://{} at {endpoint}", self.bucket),
            None => format!("s3://{} at AWS", self.bucket),
        }
    }

    /// The mirror's identity (bucket and prefix): the name its uploads are journaled under.
    pub fn id(&self) -> String {
        format!("{}/{}", self.bucket_id(), self.prefix)
    }

    /// The full object key of `name` (a file name of the dataset, such as `croissant.json`).
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

/// S3 bucket naming rules: 3 to 63 lowercase letters, digits, dots and hyphens, starting and
/// ending with a letter or digit.
fn check_bucket(url: &str, bucket: &str) -> Result<(), BucketError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(bad(
            url,
            format!(
                "{:?} is not a bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens",
                crate::json::excerpt(bucket, 80)
            ),
        ))
    }
}

fn check_prefix(url: &str, prefix: &str) -> Result<(), BucketError> {
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(bad(
            url,
            format!("the prefix is over {MAX_PREFIX_BYTES} bytes; use a shorter one"),
        ));
    }
    if prefix.is_empty() {
        return Ok(());
    }
    for segment in prefix.split('/') {
        let ok = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'=' | b'+' | b'@')
            });
        if !ok {
            return Err(bad(
                url,
                format!(
                    "the prefix part {:?} is not usable: use letters, digits and . _ - = + @ between single slashes",
                    crate::json::excerpt(segment, 80)
                ),
            ));
        }
    }
    Ok(())
}

fn check_endpoint(endpoint: &str) -> Result<String, BucketError> {
    let trimmed = endpoint.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| {
            bad(
                endpoint,
                "an endpoint is the service's address, such as https://ACCOUNT.r2.cloudflarestorage.com or http://127.0.0.1:9000",
            )
        })?;
    let ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !ok {
        return Err(bad(
            endpoint,
            "give only the scheme and host (and port) of the service, with no path, user or query",
        ));
    }
    Ok(trimmed.to_owned())
}

fn check_region(region: &str) -> Result<String, BucketError> {
    let ok = (1..=64).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(region.to_owned())
    } else {
        Err(bad(
            region,
            "a region is a name such as auto (R2), us-east-1 or eu-west-3",
        ))
    }
}

/// The credentials that sign requests to a bucket. The secret parts are wiped from memory when
/// dropped and never printed.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for BucketCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"…")
            .field("session_token", &self.session_token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl BucketCredentials {
    /// The usual AWS environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), read through `var`; none unless both the id and the secret are set.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Option<BucketCredentials> {
        let id = var("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty())?;
        let secret = Zeroizing::new(var("AWS_SECRET_ACCESS_KEY").filter(|v| !v.is_empty())?);
        Some(BucketCredentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: var("AWS_SESSION_TOKEN")
                .filter(|v| !v.is_empty())
                .map(Zeroizing::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r2_and_minio_get_path_style_and_auto_aws_gets_virtual_hosted() {
        let r2 = BucketTarget::parse(
            "s3://my-datasets/photos/2026/",
            Some("https://acc.r2.cloudflarestorage.com/"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(r2.bucket, "my-datasets");
        assert_eq!(r2.prefix, "photos/2026");
        assert_eq!(r2.region, "auto");
        assert!(r2.path_style);
        assert_eq!(
            r2.endpoint.as_deref(),
            Some("https://acc.r2.cloudflarestorage.com")
        );
        assert_eq!(r2.key("croissant.json"), "photos/2026/croissant.json");
        assert_eq!(r2.url(), "s3://my-datasets/photos/2026");

        let aws = BucketTarget::parse("s3://my-datasets", None, Some("eu-west-3"), None).unwrap();
        assert!(!aws.path_style);
        assert_eq!(aws.key("a.tar"), "a.tar");
        assert_eq!(aws.region, "eu-west-3");
        assert_ne!(aws.bucket_id(), r2.bucket_id());
    }

    #[test]
    fn bad_names_are_refused_with_what_to_do() {
        for (url, hint) in [
            ("my-datasets/photos", "s3://BUCKET/PREFIX"),
            ("s3://My_Bucket/x", "bucket name"),
            ("s3://ab", "bucket name"),
            ("s3://bucket/../etc", "prefix part"),
            ("s3://bucket/a//b", "prefix part"),
            ("s3://bucket/a b", "prefix part"),
        ] {
            let e = BucketTarget::parse(url, None, None, None).unwrap_err();
            assert!(e.to_string().contains(hint), "{url}: {e}");
        }
        let e = BucketTarget::parse("s3://bucket", Some("ftp://x"), None, None).unwrap_err();
        assert!(e.to_string().contains("endpoint"), "{e}");
        let e = BucketTarget::parse("s3://bucket", Some("https://u@host/path"), None, None)
            .unwrap_err();
        assert!(e.to_string().contains("no path, user or query"), "{e}");
        let e = BucketTarget::parse("s3://bucket", None, Some("EU West"), None).unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
    }

    #[test]
    fn credentials_come_from_the_aws_variables_and_never_print_the_secret() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("wJalrXUtnFEMI".to_owned()),
            _ => None,
        };
        let credentials = BucketCredentials::from_env(env).unwrap();
        assert_eq!(credentials.access_key_id, "AKIDEXAMPLE");
        assert!(credentials.session_token.is_none());
        assert!(!format!("{credentials:?}").contains("wJalr"));
        assert!(
            BucketCredentials::from_env(
                |name| (name == "AWS_ACCESS_KEY_ID").then(|| "AKID".to_owned())
            )
            .is_none()
        );
    }
}
