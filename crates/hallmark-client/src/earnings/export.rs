//! Exports for accountants and auditors: a CSV of earnings per asset and period, and a folder of
//! the verified statements with their receipts and C2SP tlog-proof files.
//!
//! The CSV follows the shape of distributor statements (one row per asset per period); dates are
//! RFC 3339 in UTC (the header says so); every free-text cell that a spreadsheet would read as a
//! formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use hallmark_core::earnings::ReceiptStatus;
use hallmark_core::earnings::summary::{self, AssetRow};
use hallmark_core::earnings::verify::Verification;
use hallmark_core::tlog::{self, TlogProof};

use super::store::Stored;

/// The CSV's header.
pub const CSV_HEADER: [&str; 13] = [
    "period_start_utc",
    "period_end_utc",
    "dataset",
    "version",
    "shard",
    "accesses",
    "samples",
    "gross",
    "share",
    "currency",
    "statement_id",
    "payout_status",
    "payout_reference",
];

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("cannot write {}: {detail}; check that the folder exists and is writable", path.display())]
    Write { path: PathBuf, detail: String },
    #[error(
        "{} already exists and is not empty; name a new folder for the proofs",
        path.display()
    )]
    NotEmpty { path: PathBuf },
}

/// `text` made safe for a spreadsheet cell: a leading `=`, `+`, `-`, `@`, tab or CR (which
/// spreadsheets run as a formula) gets a `'` before it (OWASP's CSV injection advice).
pub fn guard_cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// The export's rows (see [`summary::asset_rows`]).
pub fn rows(stored: &Stored, verification: &Verification) -> Vec<AssetRow> {
    summary::asset_rows(verification, &stored.paid())
}

/// Writes the CSV of `rows` to `out`; payout references come from `stored`.
pub fn write_csv(stored: &Stored, rows: &[AssetRow], out: impl Write) -> csv::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for row in rows {
        let reference = row
            .statement
            .as_ref()
            .and_then(|id| stored.payouts.get(id))
            .and_then(|p| p.reference.clone())
            .unwrap_or_default();
        writer.write_record([
            row.period_start.clone(),
            row.period_end.clone(),
            guard_cell(&row.dataset),
            guard_cell(&row.version),
            guard_cell(&row.shard),
            row.accesses.to_string(),
            row.samples.to_string(),
            row.gross.to_string(),
            row.share.to_string(),
            guard_cell(&row.currency),
            guard_cell(row.statement.as_deref().unwrap_or("")),
            row.payout_status.clone(),
            guard_cell(&reference),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes the CSV to `path` (through a temporary file renamed into place).
pub fn csv_file(stored: &Stored, rows: &[AssetRow], path: &Path) -> Result<(), ExportError> {
    let fail = |detail: String| ExportError::Write {
        path: path.to_path_buf(),
        detail,
    };
    let mut bytes = Vec::new();
    write_csv(stored, rows, &mut bytes).map_err(|e| fail(e.to_string()))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail("not a file name".into()))?;
    hallmark_core::dataset::write_atomic(dir, name, &bytes).map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// What [`proofs`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofExport {
    pub folder: PathBuf,
    pub statements: u64,
    pub receipts: u64,
    pub proofs: u64,
}

/// Writes into the new or empty folder `dir`, for every statement that verified without a
/// finding: `statements/<sequence>-<id>.json` (its exact bytes), and for each receipt it counts
/// `receipts/<index>.json` (the exact bytes whose SHA-256 is the log entry) and
/// `proofs/<index>.tlog-proof` (c2sp.org/tlog-proof@v1 against the statement's checkpoint).
/// The names are derived from numbers and checked ids, never copied from the marketplace.
pub fn proofs(
    stored: &Stored,
    verification: &Verification,
    dir: &Path,
) -> Result<ProofExport, ExportError> {
    let fail = |path: &Path, e: &dyn std::fmt::Display| ExportError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ExportError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    for sub in ["statements", "receipts", "proofs"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|e| fail(&path, &e))?;
    }
    let clean: BTreeSet<&str> = verification
        .statements
        .iter()
        .filter(|s| s.findings == 0)
        .map(|s| s.id.as_str())
        .collect();
    let bytes_of: BTreeMap<&str, &[u8]> = stored
        .statements
        .iter()
        .map(|s| (s.id.as_str(), s.bytes.as_slice()))
        .collect();
    let receipts: BTreeMap<u64, &[u8]> = stored
        .receipts
        .iter()
        .map(|r| (r.index, &r.bytes[..]))
        .collect();
    let mut export = ProofExport {
        folder: dir.to_path_buf(),
        ..ProofExport::default()
    };
    let mut checkpoints = BTreeMap::new();
    for outcome in &verification.statements {
        let id = outcome.id.as_str();
        if !clean.contains(id) || !super::id_ok(id) {
            continue;
        }
        let Some(bytes) = bytes_of.get(id) else {
            continue;
        };
        let path = dir
            .join("statements")
            .join(format!("{:06}-{id}.json", outcome.sequence));
        std::fs::write(&path, bytes).map_err(|e| fail(&path, &e))?;
        export.statements += 1;
        // The statement's checkpoint note, verbatim, from its claims.
        let note = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| {
                v["credentialSubject"]["checkpoint"]
                    .as_str()
                    .map(str::to_owned)
            });
        if let Some(note) = note {
            checkpoints.insert(id, note);
        }
    }
    for outcome in verification.with_status(ReceiptStatus::Statemented) {
        let Some(id) = outcome.statement.as_deref() else {
            continue;
        };
        let (Some(note), Some(bytes)) = (checkpoints.get(id), receipts.get(&outcome.index)) else {
            continue;
        };
        let Some(size) = note.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) else {
            continue;
        };
        let Some(root) = note.lines().nth(2).and_then(decode_root) else {
            continue;
        };
        let Ok(hashes) = tlog::prove_inclusion(&stored.tiles, size, &root, outcome.index) else {
            continue;
        };
        let proof = TlogProof {
            extra: None,
            index: outcome.index,
            hashes,
            checkpoint: note.clone(),
        };
        let receipt_path = dir.join("receipts").join(format!("{}.json", outcome.index));
        std::fs::write(&receipt_path, bytes).map_err(|e| fail(&receipt_path, &e))?;
        let proof_path = dir
            .join("proofs")
            .join(format!("{}.tlog-proof", outcome.index));
        std::fs::write(&proof_path, proof.to_text()).map_err(|e| fail(&proof_path, &e))?;
        export.receipts += 1;
        export.proofs += 1;
    }
    Ok(export)
}

fn decode_root(line: &str) -> Option<tlog::Hash> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_guarded() {
        for text in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard_cell(text), format!("'{text}"));
        }
        for text in ["v_0123", "bafkrei", "", "a=b"] {
            assert_eq!(guard_cell(text), text);
        }
    }

    #[test]
    fn the_csv_has_one_row_per_asset_and_quotes_by_rfc_4180() {
        let stored = Stored::default();
        let row = AssetRow {
            period_start: "2026-11-23T00:00:00Z".into(),
            period_end: "2026-11-24T00:00:00Z".into(),
            dataset: "=cmd|' /C calc'!A0".into(),
            version: "v_1".into(),
            shard: "bafk,with\"quote".into(),
            accesses: 3,
            samples: 7,
            gross: "0.0049".parse().expect("decimal"),
            share: "0.00392".parse().expect("decimal"),
            currency: "USD".into(),
            statement: Some("s_1".into()),
            payout_status: "pending".into(),
        };
        let mut out = Vec::new();
        write_csv(&stored, &[row], &mut out).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        assert_eq!(
            lines[1],
            "2026-11-23T00:00:00Z,2026-11-24T00:00:00Z,'=cmd|' /C calc'!A0,v_1,\"bafk,with\"\"quote\",3,7,0.0049,0.00392,USD,s_1,pending,"
        );
    }
}
