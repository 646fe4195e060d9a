//! Entry bundles (c2sp.org/tlog-tiles): up to 256 entries, each after its big-endian `u16` length.

use super::{MAX_ENTRY_BYTES, Result, TILE_WIDTH, TlogError};

/// The bytes of an entry bundle holding `entries`, in order. Refuses more than 256 entries and
/// any entry longer than 65,535 bytes.
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(TlogError::MalformedBundle {
            path: "(new bundle)".into(),
            reason: format!("{} entries, more than {TILE_WIDTH}", entries.len()),
        });
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| 2 + e.as_ref().len()).sum());
    for (i, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let length = u16::try_from(entry.len()).map_err(|_| TlogError::EntryTooLarge {
            index: i as u64,
            length: entry.len(),
            max: MAX_ENTRY_BYTES,
        })?;
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// The entries of an entry bundle that must hold exactly `count` (1..=256) entries. Refuses
/// a truncated entry, fewer or more entries, and trailing bytes. `path` names the bundle in errors.
pub fn decode_bundle(bytes: &[u8], count: u16, path: &str) -> Result<Vec<Vec<u8>>> {
    let bad = |reason: String| TlogError::MalformedBundle {
        path: path.to_owned(),
        reason,
    };
    if count == 0 || count > TILE_WIDTH {
        return Err(bad(format!(
            "{count} entries asked for, not 1 to {TILE_WIDTH}"
        )));
    }
    let max = usize::from(count) * (2 + MAX_ENTRY_BYTES);
    if bytes.len() > max {
        return Err(bad(format!(
            "{} bytes, more than {count} entries can take",
            bytes.len()
        )));
    }
    let mut entries = Vec::with_capacity(usize::from(count));
    let mut rest = bytes;
    while entries.len() < usize::from(count) {
        let [hi, lo, tail @ ..] = rest else {
            return Err(bad(format!(
                "it ends after {} entries, {count} expected",
                entries.len()
            )));
        };
        let length = usize::from(u16::from_be_bytes([*hi, *lo]));
        if tail.len() < length {
            return Err(bad(format!(
                "entry {} is cut short ({} of {length} bytes)",
                entries.len(),
                tail.len()
            )));
        }
        entries.push(tail[..length].to_vec());
        rest = &tail[length..];
    }
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} bytes follow the {count} entries",
            rest.len()
        )));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_length_prefixed_big_endian() {
        let bytes = encode_bundle(&[&b"ab"[..], b"", &[7u8; 300]]).expect("encodes");
        assert_eq!(&bytes[..6], &[0, 2, b'a', b'b', 0, 0]);
        assert_eq!(&bytes[6..8], &[0x01, 0x2c]);
        assert_eq!(bytes.len(), 8 + 300);
        let back = decode_bundle(&bytes, 3, "b").expect("decodes");
        assert_eq!(back, vec![b"ab".to_vec(), vec![], vec![7u8; 300]]);
    }

    #[test]
    fn the_longest_entry_fits_and_a_longer_one_is_refused() {
        let longest = vec![1u8; MAX_ENTRY_BYTES];
        let bytes = encode_bundle(&[&longest]).expect("encodes");
        assert_eq!(&bytes[..2], &[0xff, 0xff]);
        assert_eq!(decode_bundle(&bytes, 1, "b").expect("decodes")[0], longest);
        assert!(matches!(
            encode_bundle(&[vec![1u8; MAX_ENTRY_BYTES + 1]]),
            Err(TlogError::EntryTooLarge { .. })
        ));
        assert!(encode_bundle(&vec![b"x"; 257]).is_err());
    }

    #[test]
    fn malformed_bundles_are_refused() {
        let bytes = encode_bundle(&[b"ab", b"cd"]).expect("encodes");
        assert!(decode_bundle(&bytes, 3, "b").is_err());
        assert!(decode_bundle(&bytes, 1, "b").is_err());
        assert!(decode_bundle(&bytes[..5], 2, "b").is_err());
        assert!(decode_bundle(&bytes, 0, "b").is_err());
        assert!(decode_bundle(&bytes, 257, "b").is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_bundle(&long, 2, "b").is_err());
        assert!(decode_bundle(&[0], 1, "b").is_err());
    }
}
