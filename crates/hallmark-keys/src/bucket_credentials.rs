//! S3-compatible bucket credentials (access key id, secret, optional session token) kept in the OS keyring, one entry per endpoint and bucket.

pub use hallmark_core::bucket::BucketCredentials;
use hallmark_core::keys::KeyError;
use zeroize::Zeroizing;

/// The keyring service bucket credentials live under (apart from signing keys).
pub const SERVICE: &str = "studio.hallmark.buckets";

/// The longest secret accepted from the keyring (an entry is untrusted: another program could
/// have written it).
const MAX_ENTRY_BYTES: usize = 16 * 1024;

/// Bucket credentials in the OS keyring, each entry named by the bucket's identity (its endpoint
/// and bucket name, as the client's mirror target writes it).
#[derive(Debug, Clone)]
pub struct BucketKeyring {
    service: String,
}

impl Default for BucketKeyring {
    fn default() -> Self {
        Self::new()
    }
}

impl BucketKeyring {
    /// The store the app and the CLI share.
    pub fn new() -> Self {
        Self::with_service(SERVICE)
    }

    /// A store under another service name (tests use their own).
    pub fn with_service(service: &str) -> Self {
        BucketKeyring {
            service: service.to_owned(),
        }
    }

    fn entry(&self, bucket: &str) -> Result<keyring::Entry, KeyError> {
        keyring::Entry::new(&self.service, bucket).map_err(crate::keyring_store::to_key_error)
    }

    /// Keeps `credentials` for `bucket`, replacing any kept before.
    pub fn save(&self, bucket: &str, credentials: &BucketCredentials) -> Result<(), KeyError> {
        let json =
            Zeroizing::new(
                serde_json::to_string(credentials).map_err(|e| KeyError::Keyring {
                    detail: e.to_string(),
                })?,
            );
        self.entry(bucket)?
            .set_password(&json)
            .map_err(crate::keyring_store::to_key_error)
    }

    /// The credentials kept for `bucket`, if any.
    pub fn load(&self, bucket: &str) -> Result<Option<BucketCredentials>, KeyError> {
        let secret = match self.entry(bucket)?.get_password() {
            Ok(secret) => Zeroizing::new(secret),
            Err(keyring::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(crate::keyring_store::to_key_error(e)),
        };
        if secret.len() > MAX_ENTRY_BYTES {
            return Err(KeyError::Keyring {
                detail: format!(
                    "the keyring entry for {bucket} is over {MAX_ENTRY_BYTES} bytes; set the credentials again with hallmark mirror --set-credentials"
                ),
            });
        }
        serde_json::from_str(&secret).map(Some).map_err(|_| KeyError::Keyring {
            detail: format!(
                "the keyring entry for {bucket} is not bucket credentials; set them again with hallmark mirror --set-credentials"
            ),
        })
    }

    /// Forgets the credentials for `bucket`; true if there were some.
    pub fn delete(&self, bucket: &str) -> Result<bool, KeyError> {
        match self.entry(bucket)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(crate::keyring_store::to_key_error(e)),
        }
    }
}
