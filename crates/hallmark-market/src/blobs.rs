//! Where shards and dataset files are stored: the `object_store` crate, local files by default
//! and any S3-compatible store (Cloudflare R2, AWS S3, MinIO) by `--store s3://bucket/prefix`,
//! configured by the usual AWS environment variables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;

/// The blob store of a marketplace.
#[derive(Debug, Clone)]
pub struct Blobs {
    /// Every read and write of a finished object goes through this.
    pub store: Arc<dyn ObjectStore>,
    /// Prepended to every object name (from `s3://bucket/prefix`).
    pub prefix: StorePath,
    pub kind: BlobKind,
}

/// What backs the store, for the parts `ObjectStore` does not cover (multipart ids kept across
/// restarts, renaming a finished local file into place).
#[derive(Debug, Clone)]
pub enum BlobKind {
    /// A folder on this machine.
    Local { root: PathBuf },
    /// An S3-compatible service.
    S3 { s3: Arc<AmazonS3>, url: String },
}

impl Blobs {
    /// Opens the store `url` names (`s3://bucket[/prefix]`, `file:///path` or a path), or
    /// `data_dir/blobs` when `None`.
    pub fn open(
        url: Option<&str>,
        data_dir: &Path,
        options: &[(String, String)],
    ) -> anyhow::Result<Blobs> {
        match url {
            None => Self::local(&data_dir.join("blobs")),
            Some(url) if url.starts_with("s3://") => {
                let rest = &url["s3://".len()..];
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    anyhow::bail!("--store {url}: name a bucket, as in s3://BUCKET/PREFIX");
                }
                let mut builder = AmazonS3Builder::new();
                for (name, value) in options {
                    if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                        builder = builder.with_config(key, value);
                    }
                }
                let s3 = builder
                    .with_bucket_name(bucket)
                    .build()
                    .with_context(|| {
                        format!(
                            "--store {url}: cannot configure S3; set AWS_ACCESS_KEY_ID, \
                             AWS_SECRET_ACCESS_KEY, AWS_REGION and, for R2 or MinIO, AWS_ENDPOINT_URL"
                        )
                    })?;
                let s3 = Arc::new(s3);
                Ok(Blobs {
                    store: s3.clone(),
                    prefix: StorePath::from(prefix.trim_matches('/')),
                    kind: BlobKind::S3 {
                        s3,
                        url: url.to_owned(),
                    },
                })
            }
            Some(url) if url.contains("://") && !url.starts_with("file://") => anyhow::bail!(
                "--store {url}: use s3://BUCKET/PREFIX for an S3-compatible store, or a local folder"
            ),
            Some(url) => Self::local(Path::new(url.trim_start_matches("file://"))),
        }
    }

    fn local(root: &Path) -> anyhow::Result<Blobs> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the blob folder {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot resolve the blob folder {}", root.display()))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .with_context(|| format!("cannot open the blob folder {}", root.display()))?;
        Ok(Blobs {
            store: Arc::new(store),
            prefix: StorePath::default(),
            kind: BlobKind::Local { root },
        })
    }

    /// The full object name of `name` (relative, `/`-separated) under the store's prefix.
    pub fn path(&self, name: &str) -> StorePath {
        self.prefix
            .parts()
            .chain(StorePath::from(name).parts())
            .collect()
    }

    /// Where the shard whose CID is `cid` is stored: `shards/<cid>.tar`. Only uploads write there,
    /// and only bytes whose SHA-256 and size matched the CID.
    pub fn shard(&self, cid: &str) -> StorePath {
        self.path(&format!("shards/{cid}.tar"))
    }

    /// The file an object is kept in, for a local store (so a finished upload can be renamed into
    /// place); `None` for S3.
    pub fn local_file(&self, location: &StorePath) -> Option<PathBuf> {
        match &self.kind {
            BlobKind::Local { root } => Some(
                location
                    .parts()
                    .fold(root.clone(), |path, part| path.join(part.as_ref())),
            ),
            BlobKind::S3 { .. } => None,
        }
    }

    /// The S3 client, for multipart uploads whose ids outlive this process; `None` for local files.
    pub fn multipart(&self) -> Option<&Arc<AmazonS3>> {
        match &self.kind {
            BlobKind::S3 { s3, .. } => Some(s3),
            BlobKind::Local { .. } => None,
        }
    }
}
