//! Hallmark's pure core: the domain logic every shell (desktop app, CLI, reference server, tests) calls.
//!
//! This crate does **not** know about Tauri, HTTP, terminals or the OS keyring UI: it takes paths,
//! bytes, clocks and progress sinks as arguments and returns plain values. Shells adapt those to
//! their medium (IPC channels, progress bars, JSON over HTTP).
//!
//! Today it can summarise a folder a creator picks (how many files, how many bytes) with progress
//! and cancellation, and remember recently opened folders. Later issues add sealing, signing,
//! publishing and earnings here, in the same style.
//!
//! ```
//! use hallmark_core::{folder, progress::{CancelToken, NoProgress}};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("0001.jpg"), b"not really a jpeg")?;
//! let summary = folder::summarize(dir.path(), &Default::default(), &NoProgress, &CancelToken::new())?;
//! assert_eq!((summary.files, summary.bytes), (1, 17));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![recursion_limit = "256"]

pub mod bucket;
pub mod cache;
pub mod creator;
pub mod credential;
pub mod dataset;
pub mod datetime;
pub mod defaults;
pub mod did;
pub mod digest;
pub mod earnings;
pub mod error;
pub mod folder;
pub mod integrity;
pub mod json;
pub mod keys;
pub mod library;
pub mod manifest;
pub mod merkle;
pub mod progress;
pub mod publish;
pub mod recent;
pub mod review;
pub mod rotation;
pub mod scan;
pub mod seal;
pub mod shard;
pub mod tarstream;
pub mod tlog;
pub mod untrusted;
pub mod verify;

pub use error::{Error, ErrorKind, Result};
