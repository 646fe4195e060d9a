//! Untrusted input: every document Hallmark verifies (dataset credential, creator credential,
//! presentation), fed hostile bytes through the public API, as a marketplace or an auditor would.

// A test that cannot unwrap has failed: say so by panicking.
#![allow(clippy::unwrap_used)]

mod dataset_credential;
mod fuzz;
mod no_panic;
mod seeds;

use std::path::Path;

use hallmark_core::dataset;
use hallmark_core::manifest::{Consent, DatasetInfo, ResponsibleAi};
use hallmark_core::progress::{CancelToken, NoProgress};
use hallmark_core::seal::SealOptions;

/// A small sealed dataset in a temporary folder (the source folder is kept alive beside it).
#[derive(Debug)]
pub struct Sealed {
    pub _src: tempfile::TempDir,
    pub out: tempfile::TempDir,
}

pub fn sealed() -> Sealed {
    let src = tempfile::tempdir().unwrap();
    for i in 0..6 {
        std::fs::write(src.path().join(format!("{i:02}.txt")), format!("take {i}")).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let info = DatasetInfo {
        name: "takes".into(),
        description: "voice takes".into(),
        license: "CC-BY-4.0".into(),
        creator_name: "Ana".into(),
        creator_url: None,
        url: None,
        version: "1.0.0".into(),
        date_published: "2026-11-23".into(),
        keywords: vec![],
        consent: Consent::default(),
        rai: ResponsibleAi::default(),
    };
    dataset::seal_folder(
        src.path(),
        out.path(),
        &SealOptions::default(),
        &info,
        dataset::ResealPolicy::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    Sealed { _src: src, out }
}

/// Replaces `credential.json` in `out` with `bytes`.
pub fn write_credential(out: &Path, bytes: &[u8]) {
    std::fs::write(out.join(hallmark_core::credential::CREDENTIAL_FILE), bytes).unwrap();
}
