//! Where creators' signing keys live, behind the core's `KeyStore`: the OS keyring, and age files.
//!
//! [`KeyringStore`] keeps each secret in the OS keyring (Secret Service on Linux, Keychain,
//! Windows Credential Manager) under the key's did, with a small public index entry listing the
//! keys. Changes to the index are serialised across processes by a lock file per service in the
//! user's data folder ([`default_lock_dir`]), and a key is listed before its secret is written, so
//! no secret is ever left unlisted. [`key_file`] writes and reads age files encrypted with a
//! passphrase (scrypt), the format of backups and of `--key-file` for machines without a keyring;
//! `rage` and `age` open them too. [`BucketKeyring`] keeps the credentials of S3-compatible buckets
//! creators mirror their datasets to, under a service of their own.

pub mod bucket_credentials;
pub mod key_file;
mod keyring_store;

pub use bucket_credentials::{BucketCredentials, BucketKeyring};
pub use keyring_store::{KeyringStore, default_lock_dir};
