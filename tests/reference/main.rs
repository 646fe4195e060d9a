//! Reference readers accept what Hallmark writes: GNU tar, Python `webdataset` and `mlcroissant`.
//!
//! Each test seals a real folder with the core, exports the shards, and hands them to the tools
//! buyers and auditors use. The Python tools come from the venv `scripts/setup` makes
//! (`$HALLMARK_PYTHON`).

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod credentials;
mod fixture;
mod readers;
mod review;
