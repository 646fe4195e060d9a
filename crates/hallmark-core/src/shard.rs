//! Grouping files into WebDataset samples and samples into shards, with content-defined boundaries.
//!
//! A sample is the files that share a key: the path up to the first dot of the basename
//! (`a/b/0001.jpg` and `a/b/0001.json` → key `a/b/0001`). Files are ordered by (key, path), so a
//! sample's files are adjacent and a sample never spans two shards.
//!
//! Whether a shard ends after a sample is decided by that sample alone: a hash of its key and its
//! size in the tar stream, tested against the probability `sample bytes / target`. So the expected
//! shard size is the target, and adding, removing or changing one file can only change the shard
//! it lands in and, if it moves a boundary, the neighbour that boundary touched: at most two shards
//! change. A sample of at least the target size gets a shard of its own (a boundary on each side;
//! adding such a sample in the middle of a shard splits it in three).

use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::tarstream;

/// Domain separation for the boundary hash; change it only with a format version.
const BOUNDARY_DOMAIN: &[u8] = b"hallmark/shard-boundary/v1\0";

/// The sample key of a path: everything before the first dot of the basename.
///
/// A basename without a dot after its first character (`README`, `.notes`) is a key of its own with
/// no field; WebDataset readers skip such files, and the seal summary says so.
pub fn sample_key(path: &[u8]) -> &[u8] {
    let base_start = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    match path[base_start..].iter().skip(1).position(|&b| b == b'.') {
        Some(dot) => &path[..base_start + 1 + dot],
        None => path,
    }
}

/// Whether a WebDataset reader sees this path as part of a sample (it has a key and a field).
pub fn has_field(path: &[u8]) -> bool {
    sample_key(path).len() < path.len()
}

/// The bytes a file takes in a shard: its header(s) and its data padded to whole blocks.
pub fn entry_len(path: &[u8], size: u64) -> u64 {
    tarstream::header_len(path, size) + tarstream::padded_len(size)
}

/// One shard of the plan: a run of consecutive samples and of files (indexes into the ordered list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    pub files: Range<usize>,
    pub samples: u64,
    /// The shard's exact length in bytes, end-of-archive blocks included.
    pub len: u64,
}

/// Splits files, already ordered by (key, path), into shards of about `target` bytes;
/// `entry` gives a file's path bytes and size.
pub fn plan<T>(files: &[T], entry: impl Fn(&T) -> (&[u8], u64), target: u64) -> Vec<ShardPlan> {
    let target = target.max(1);
    let end = tarstream::END_OF_ARCHIVE.len() as u64;
    let mut shards = Vec::new();
    let mut current = ShardPlan {
        files: 0..0,
        samples: 0,
        len: end,
    };
    let mut i = 0;
    while i < files.len() {
        let key = sample_key(entry(&files[i]).0);
        let mut j = i;
        let mut sample_len = 0;
        while j < files.len() {
            let (path, size) = entry(&files[j]);
            if sample_key(path) != key {
                break;
            }
            sample_len += entry_len(path, size);
            j += 1;
        }
        let large = sample_len >= target;
        if large && current.samples > 0 {
            shards.push(current.clone());
            current = ShardPlan {
                files: i..i,
                samples: 0,
                len: end,
            };
        }
        current.files.end = j;
        current.samples += 1;
        current.len += sample_len;
        if large || ends_shard(key, sample_len, target) {
            shards.push(current.clone());
            current = ShardPlan {
                files: j..j,
                samples: 0,
                len: end,
            };
        }
        i = j;
    }
    if current.samples > 0 {
        shards.push(current);
    }
    shards
}

/// The boundary test: true with probability `sample_len / target`, decided by the sample alone.
fn ends_shard(key: &[u8], sample_len: u64, target: u64) -> bool {
    let mut h = Sha256::new();
    h.update(BOUNDARY_DOMAIN);
    h.update(key);
    h.update([0]);
    h.update(sample_len.to_be_bytes());
    let digest: [u8; 32] = h.finalize().into();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let draw = u64::from_be_bytes(first);
    // draw / 2^64 < sample_len / target, in integers.
    u128::from(draw) * u128::from(target) < u128::from(sample_len) << 64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_the_path_up_to_the_first_dot_of_the_basename() {
        assert_eq!(sample_key(b"a/b/0001.jpg"), b"a/b/0001");
        assert_eq!(sample_key(b"a/b/0001.seg.json"), b"a/b/0001");
        assert_eq!(sample_key(b"a.d/b/0001.jpg"), b"a.d/b/0001");
        assert_eq!(sample_key(b"README"), b"README");
        assert_eq!(sample_key(b"x/.notes"), b"x/.notes");
        assert!(has_field(b"a/1.jpg") && !has_field(b"README") && !has_field(b"x/.notes"));
    }

    fn corpus(n: usize) -> Vec<(Vec<u8>, u64)> {
        let mut files: Vec<(Vec<u8>, u64)> = (0..n)
            .flat_map(|i| {
                let size = 3_000 + (i as u64 * 7919) % 40_000;
                [
                    (format!("s/{i:05}.jpg").into_bytes(), size),
                    (format!("s/{i:05}.json").into_bytes(), 80),
                ]
            })
            .collect();
        files.sort_by(|a, b| order_key(&a.0).cmp(&order_key(&b.0)));
        files
    }

    /// Sealing order (as `seal` sorts): by sample key, then by path.
    fn order_key(path: &[u8]) -> (&[u8], &[u8]) {
        (sample_key(path), path)
    }

    fn entry(f: &(Vec<u8>, u64)) -> (&[u8], u64) {
        (&f.0, f.1)
    }

    fn shard_ids(files: &[(Vec<u8>, u64)], target: u64) -> HashSet<Vec<(Vec<u8>, u64)>> {
        plan(files, entry, target)
            .into_iter()
            .map(|s| files[s.files].to_vec())
            .collect()
    }

    #[test]
    fn shards_cover_every_file_once_keep_samples_whole_and_average_the_target() {
        let files = corpus(2_000);
        let target = 1 << 20;
        let shards = plan(&files, entry, target);
        let mut next = 0;
        for s in &shards {
            assert_eq!(s.files.start, next);
            next = s.files.end;
            let first = &files[s.files.start].0;
            assert!(
                s.files.start == 0 || sample_key(&files[s.files.start - 1].0) != sample_key(first)
            );
            let len: u64 = files[s.files.clone()]
                .iter()
                .map(|(p, n)| entry_len(p, *n))
                .sum::<u64>()
                + 1024;
            assert_eq!(s.len, len);
        }
        assert_eq!(next, files.len());
        let total: u64 = shards.iter().map(|s| s.len).sum();
        let mean = total / shards.len() as u64;
        assert!(
            mean > target / 2 && mean < target * 2,
            "mean shard {mean} for target {target}"
        );
    }

    #[test]
    fn one_changed_file_changes_at_most_two_shards() {
        let files = corpus(3_000);
        let target = 512 << 10;
        let before = shard_ids(&files, target);
        for victim in [0, 1, 777, 2_999 * 2] {
            // Changed size (a different file in the same place).
            let mut changed = files.clone();
            changed[victim].1 += 12_345;
            assert!(
                shard_ids(&changed, target).difference(&before).count() <= 2,
                "changed {victim}"
            );
            // Removed.
            let mut removed = files.clone();
            removed.remove(victim);
            assert!(
                shard_ids(&removed, target).difference(&before).count() <= 2,
                "removed {victim}"
            );
        }
        // Added: a new sample in the middle.
        let mut added = files.clone();
        added.push((b"s/01500x.jpg".to_vec(), 9_000));
        added.sort_by(|a, b| order_key(&a.0).cmp(&order_key(&b.0)));
        assert!(shard_ids(&added, target).difference(&before).count() <= 2);
    }

    #[test]
    fn a_sample_larger_than_the_target_gets_a_shard_of_its_own() {
        let mut files = corpus(50);
        files.push((b"s/00010.wav".to_vec(), 5 << 20));
        files.sort_by(|a, b| order_key(&a.0).cmp(&order_key(&b.0)));
        let shards = plan(&files, entry, 1 << 20);
        let own: Vec<_> = shards
            .iter()
            .filter(|s| {
                files[s.files.clone()]
                    .iter()
                    .any(|(p, _)| p == b"s/00010.wav")
            })
            .collect();
        assert_eq!(own.len(), 1);
        let members: Vec<_> = files[own[0].files.clone()]
            .iter()
            .map(|(p, _)| p.clone())
            .collect();
        assert!(
            members.iter().all(|p| sample_key(p) == b"s/00010"),
            "{members:?}"
        );
    }
}
