//! Reproducible tar headers for WebDataset shards: USTAR, with PAX records where USTAR cannot say it.
//!
//! Every header field that could vary between machines is fixed (mode, owner, times, user names),
//! so the same files always give byte-identical shards and so the same CIDs. PAX records carry
//! paths that are long or not ASCII and sizes of 8 GiB or more.

use tar::{EntryType, Header};

/// Tar's block size.
pub const BLOCK: u64 = 512;
/// Modification time written into every header: 2000-01-01T00:00:00Z (a fixed time, so shards are
/// reproducible; not 0, which some tools flag as implausible).
pub const FIXED_MTIME: u64 = 946_684_800;
/// The two zero blocks that end an archive.
pub const END_OF_ARCHIVE: [u8; 1024] = [0; 1024];
/// Largest size the 11 octal digits of a USTAR header hold.
const USTAR_MAX_SIZE: u64 = 0o77777777777;
/// Name of PAX extended-header entries (the name Python's tarfile uses).
const PAX_NAME: &[u8] = b"././@PaxHeader";

/// The header block(s) that precede a regular file's data in a shard.
pub fn file_header(path: &[u8], size: u64) -> Vec<u8> {
    let mut pax = Vec::new();
    let mut header = fixed_header(EntryType::Regular, size);
    let ascii = path.is_ascii();
    let fits = ascii
        && std::str::from_utf8(path)
            .ok()
            .is_some_and(|p| header.set_path(p).is_ok());
    if !fits {
        if std::str::from_utf8(path).is_err() {
            pax_record(&mut pax, "hdrcharset", b"BINARY");
        }
        pax_record(&mut pax, "path", path);
        set_name_bytes(&mut header, &ascii_stand_in(path));
    }
    if size > USTAR_MAX_SIZE {
        pax_record(&mut pax, "size", size.to_string().as_bytes());
    }
    header.set_cksum();

    let mut out = Vec::with_capacity(BLOCK as usize * 3);
    if !pax.is_empty() {
        let mut pax_header = fixed_header(EntryType::XHeader, pax.len() as u64);
        set_name_bytes(&mut pax_header, PAX_NAME);
        pax_header.set_cksum();
        out.extend_from_slice(pax_header.as_bytes());
        let padded = padded_len(pax.len() as u64) as usize;
        pax.resize(padded, 0);
        out.extend_from_slice(&pax);
    }
    out.extend_from_slice(header.as_bytes());
    out
}

/// How many bytes of header precede a file's data: the length of [`file_header`], computed without
/// building it (sealing needs it for every file, reseals for nothing else).
pub fn header_len(path: &[u8], size: u64) -> u64 {
    let needs_path = !(path.is_ascii() && fits_ustar(path));
    let needs_size = size > USTAR_MAX_SIZE;
    if !needs_path && !needs_size {
        return BLOCK;
    }
    let mut pax = 0;
    if needs_path {
        if std::str::from_utf8(path).is_err() {
            pax += pax_record_len("hdrcharset", 6);
        }
        pax += pax_record_len("path", path.len());
    }
    if needs_size {
        pax += pax_record_len("size", size.to_string().len());
    }
    BLOCK + padded_len(pax as u64) + BLOCK
}

/// Whether USTAR's name (100 bytes) or prefix (155) and name fields hold `path`, split at a `/`,
/// as the tar crate's `set_path` does.
fn fits_ustar(path: &[u8]) -> bool {
    if path.len() <= 100 {
        return true;
    }
    if path.len() > 256 {
        return false;
    }
    // The tar crate splits at the first `/` that leaves a name of at most 100 bytes.
    path.iter()
        .enumerate()
        .any(|(i, &b)| b == b'/' && i <= 155 && path.len() - i - 1 <= 100)
}

/// The length of one PAX record with a key and a value of `value_len` bytes.
fn pax_record_len(key: &str, value_len: usize) -> usize {
    let body = key.len() + value_len + 3;
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    len
}

/// `len` rounded up to whole blocks.
pub fn padded_len(len: u64) -> u64 {
    len.div_ceil(BLOCK) * BLOCK
}

/// Zero bytes that follow `size` bytes of data to fill its last block.
pub fn padding(size: u64) -> usize {
    (padded_len(size) - size) as usize
}

fn fixed_header(kind: EntryType, size: u64) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(FIXED_MTIME);
    h.set_size(size);
    // Empty user and group names: no trace of who sealed it on which machine.
    if let Some(ustar) = h.as_ustar_mut() {
        ustar.uname = [0; 32];
        ustar.gname = [0; 32];
    }
    h
}

/// Writes raw bytes into the USTAR name field (at most 100), for names only PAX-aware readers use.
fn set_name_bytes(header: &mut Header, name: &[u8]) {
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    let n = name.len().min(field.len());
    field[..n].copy_from_slice(&name[..n]);
}

/// An ASCII stand-in for a path that needs PAX: the tail of the path (the end of a name tells most),
/// with other bytes replaced by `_`.
fn ascii_stand_in(path: &[u8]) -> Vec<u8> {
    let tail = &path[path.len().saturating_sub(100)..];
    tail.iter()
        .map(|&b| if b.is_ascii() && b != 0 { b } else { b'_' })
        .collect()
}

/// Appends one PAX record: `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn archive(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, data) in entries {
            out.extend(file_header(path, data.len() as u64));
            out.extend_from_slice(data);
            out.extend(std::iter::repeat_n(0, padding(data.len() as u64)));
        }
        out.extend_from_slice(&END_OF_ARCHIVE);
        out
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        let mut out = Vec::new();
        pax_record(&mut out, "path", b"abc");
        assert_eq!(out, b"12 path=abc\n");
        let mut out = Vec::new();
        let long = vec![b'x'; 95];
        pax_record(&mut out, "path", &long);
        assert_eq!(out.len(), 105);
        assert!(out.starts_with(b"105 path="));
    }

    #[test]
    fn short_long_and_non_ascii_names_read_back_exactly() {
        let long = format!("{}/0001.jpg", "deep/".repeat(60));
        let entries: Vec<(&[u8], &[u8])> = vec![
            (b"a/0001.jpg", b"jpeg bytes"),
            (long.as_bytes(), b"long"),
            ("fotos/café/ü.txt".as_bytes(), b"utf8"),
            (b"empty.txt", b""),
        ];
        let bytes = archive(&entries);
        let mut reader = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in reader.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path_bytes().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(entry.header().mtime().unwrap(), FIXED_MTIME);
            assert_eq!(entry.header().mode().unwrap(), 0o644);
            seen.push((path, data));
        }
        let expected: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .map(|(p, d)| (p.to_vec(), d.to_vec()))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn computed_header_lengths_match_built_headers_for_every_kind_of_path() {
        let mut paths: Vec<Vec<u8>> = vec![
            b"a.jpg".to_vec(),
            "é.jpg".as_bytes().to_vec(),
            b"caf\xe9.txt".to_vec(),
        ];
        for n in [99, 100, 101, 154, 155, 156, 200, 255, 256, 257, 300] {
            paths.push(vec![b'x'; n]);
            let mut split = vec![b'd'; n.saturating_sub(60)];
            split.push(b'/');
            split.extend(vec![b'f'; 59]);
            paths.push(split);
            let mut late = vec![b'd'; 20];
            late.push(b'/');
            late.extend(vec![b'f'; n.saturating_sub(21)]);
            paths.push(late);
        }
        for path in &paths {
            for size in [0, 1, USTAR_MAX_SIZE, USTAR_MAX_SIZE + 1] {
                assert_eq!(
                    header_len(path, size),
                    file_header(path, size).len() as u64,
                    "{} bytes of path, size {size}",
                    path.len()
                );
            }
        }
    }

    #[test]
    fn header_lengths_match_the_headers() {
        assert_eq!(header_len(b"a.jpg", 10), 512);
        assert_eq!(header_len("é.jpg".as_bytes(), 10), 1536);
        assert_eq!(header_len(b"big.bin", 9 << 30), 1536);
        let h = file_header(b"big.bin", 9 << 30);
        assert!(h[512..1024].starts_with(b"19 size=9663676416\n"));
    }
}
