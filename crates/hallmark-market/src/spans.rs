//! Sample spans: where each sample's data lies in its shard, read from the version's published
//! index, so a byte range can be priced by the samples whose bytes it covers.
//!
//! A sample's span runs from its first file's data offset to the end of its last file's data
//! (tar headers and padding between samples belong to no sample). Spans are loaded lazily, one
//! version at a time, by streaming the index line by line (each line bounded), checked (every file
//! inside its shard, spans in order and not overlapping, every shard of the version with samples),
//! and kept in memory within a bound on the number of spans (least recently used versions go
//! first). A lookup is two binary searches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt as _;
use hallmark_core::seal::IndexedSample;
use tokio::sync::OnceCell;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// The most spans kept in memory across versions (16 bytes each). One version larger than this
/// is still loaded; it is then the only one kept.
pub const MAX_CACHED_SPANS: usize = 2_000_000;
/// The most versions kept in memory (loaded or being loaded).
pub const MAX_CACHED_VERSIONS: usize = 512;
/// The longest index line read, in bytes (as the core bounds index lines).
pub const MAX_INDEX_LINE_BYTES: usize = 16 << 20;

/// The samples of one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardSpans {
    /// The shard's size in bytes.
    pub size: u64,
    /// How many samples the shard holds.
    pub samples: u64,
    /// `[start, end)` of each sample's data, sorted, not overlapping (a sample of empty files: the
    /// last byte of its header).
    spans: Vec<(u64, u64)>,
}

impl ShardSpans {
    /// The spans of a shard of `size` bytes whose samples' data lie at `spans` (`[start, end)`,
    /// sorted, not overlapping, inside the shard); `None` when they are not.
    pub fn new(size: u64, spans: Vec<(u64, u64)>) -> Option<ShardSpans> {
        let ordered = spans.iter().all(|&(start, end)| start < end && end <= size)
            && spans.windows(2).all(|w| w[0].1 <= w[1].0);
        ordered.then_some(ShardSpans {
            size,
            samples: spans.len() as u64,
            spans,
        })
    }

    /// How many samples the bytes `first..=last` cover (overlap by at least one byte).
    pub fn covered(&self, first: u64, last: u64) -> u64 {
        self.sample_range(first, last)
            .map_or(0, |(from, to)| (to - from + 1) as u64)
    }

    /// The samples the bytes `first..=last` cover, as indexes `from..=to` in shard order; `None`
    /// when they cover none (tar headers and padding alone). The whole shard covers every sample.
    pub fn sample_range(&self, first: u64, last: u64) -> Option<(usize, usize)> {
        // Ends are sorted too (spans do not overlap): the first span ending after `first`...
        let from = self.spans.partition_point(|&(_, end)| end <= first);
        // ...up to the first span starting after `last`.
        let to = self.spans.partition_point(|&(start, _)| start <= last);
        (to > from).then(|| (from, to - 1))
    }

    /// The bytes of samples `from..=to`: from the first one's data to the last one's end.
    pub fn bytes_of(&self, from: usize, to: usize) -> (u64, u64) {
        (self.spans[from].0, self.spans[to].1 - 1)
    }
}

/// Every shard's spans of one version, by CID.
#[derive(Debug, Default)]
pub struct VersionSpans {
    shards: HashMap<String, Arc<ShardSpans>>,
    weight: usize,
}

#[derive(Debug)]
struct Slot {
    cell: Arc<OnceCell<Arc<VersionSpans>>>,
    used: u64,
    /// Spans counted in the cache's total (0 until loaded).
    weight: usize,
}

#[derive(Debug, Default)]
struct Slots {
    by_version: HashMap<String, Slot>,
    total: usize,
    tick: u64,
}

/// The bounded in-memory cache of spans, per version.
#[derive(Debug, Default)]
pub struct SpanCache {
    slots: Mutex<Slots>,
}

impl SpanCache {
    fn slot(&self, version_id: &str) -> Arc<OnceCell<Arc<VersionSpans>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.tick += 1;
        let tick = slots.tick;
        if !slots.by_version.contains_key(version_id) {
            while slots.by_version.len() >= MAX_CACHED_VERSIONS {
                if !evict_one(&mut slots, version_id) {
                    break;
                }
            }
        }
        let slot = slots
            .by_version
            .entry(version_id.to_owned())
            .or_insert_with(|| Slot {
                cell: Arc::new(OnceCell::new()),
                used: tick,
                weight: 0,
            });
        slot.used = tick;
        slot.cell.clone()
    }

    fn loaded(&self, version_id: &str, weight: usize) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let Some(slot) = slots.by_version.get_mut(version_id) else {
            return;
        };
        if slot.weight != 0 {
            return;
        }
        slot.weight = weight.max(1);
        slots.total += weight.max(1);
        while slots.total > MAX_CACHED_SPANS {
            if !evict_one(&mut slots, version_id) {
                break;
            }
        }
    }

    /// The spans of shard `cid` of version `version_id`, whose index is the blob
    /// `datasets/<index_sha256>.jsonl`; loaded from it on first use.
    pub async fn shard(
        &self,
        state: &AppState,
        version_id: &str,
        index_sha256: &str,
        cid: &str,
    ) -> ApiResult<Arc<ShardSpans>> {
        let cell = self.slot(version_id);
        let mut fresh = false;
        let version = cell
            .get_or_try_init(|| async {
                fresh = true;
                load(state, version_id, index_sha256).await.map(Arc::new)
            })
            .await?
            .clone();
        if fresh {
            self.loaded(version_id, version.weight);
        }
        version.shards.get(cid).cloned().ok_or_else(|| {
            ApiError::internal(
                "pricing a shard",
                format!("shard {cid} of version {version_id} has no spans"),
            )
        })
    }
}

/// Removes the least recently used version other than `keep`; false when there is none.
fn evict_one(slots: &mut Slots, keep: &str) -> bool {
    let victim = slots
        .by_version
        .iter()
        .filter(|(version, _)| version.as_str() != keep)
        .min_by_key(|(_, slot)| slot.used)
        .map(|(version, _)| version.clone());
    match victim.and_then(|v| slots.by_version.remove(&v)) {
        Some(slot) => {
            slots.total -= slot.weight;
            true
        }
        None => false,
    }
}

fn damaged(version_id: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::internal(
        "reading a version's index",
        format!("the index of version {version_id} is unusable: {why}"),
    )
}

/// Reads and checks the spans of every shard of `version_id` from its index blob.
async fn load(state: &AppState, version_id: &str, index_sha256: &str) -> ApiResult<VersionSpans> {
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT vs.cid, s.size FROM version_shards vs JOIN shards s ON s.cid = vs.cid \
         WHERE vs.version_id = $1",
    )
    .bind(version_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut shards: HashMap<String, ShardSpans> = sizes
        .into_iter()
        .map(|(cid, size)| {
            let size = u64::try_from(size).unwrap_or_default();
            (
                cid,
                ShardSpans {
                    size,
                    ..ShardSpans::default()
                },
            )
        })
        .collect();
    let found = state
        .blobs
        .store
        .get(
            &state
                .blobs
                .path(&crate::catalog::index_object(index_sha256)),
        )
        .await
        .map_err(|e| ApiError::internal("reading a version's index", e))?;
    let reader = tokio_util::io::StreamReader::new(
        found
            .into_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other)),
    );
    let mut lines = tokio_util::codec::FramedRead::new(
        reader,
        tokio_util::codec::LinesCodec::new_with_max_length(MAX_INDEX_LINE_BYTES),
    );
    let mut line_number = 0u64;
    while let Some(line) = lines.next().await {
        line_number += 1;
        let line = line.map_err(|e| damaged(version_id, format!("line {line_number}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let sample: IndexedSample = serde_json::from_str(&line)
            .map_err(|e| damaged(version_id, format!("line {line_number}: {e}")))?;
        // The index names a shard by its file name, `<cid>.tar`.
        let cid = sample.shard.strip_suffix(".tar").unwrap_or(&sample.shard);
        let shard = shards.get_mut(cid).ok_or_else(|| {
            damaged(
                version_id,
                format!(
                    "line {line_number} names shard {} the version does not list",
                    sample.shard
                ),
            )
        })?;
        let mut start = None;
        let mut end = shard.spans.last().map_or(0, |&(_, end)| end);
        for file in &sample.files {
            let file_end = file
                .offset
                .checked_add(file.size)
                .filter(|&e| e <= shard.size && file.offset >= end)
                .ok_or_else(|| {
                    damaged(
                        version_id,
                        format!(
                            "line {line_number}: {} lies outside shard {} ({} bytes) or overlaps \
                             the data before it",
                            file.path, sample.shard, shard.size
                        ),
                    )
                })?;
            start.get_or_insert(file.offset);
            end = file_end;
        }
        let Some(start) = start else {
            return Err(damaged(
                version_id,
                format!("line {line_number} has no files"),
            ));
        };
        if end > start {
            shard.spans.push((start, end));
        } else if start > 0 && shard.spans.last().is_none_or(|&(_, e)| e < start) {
            // A sample of empty files is covered by the last byte of its tar header, so a range
            // over its place in the shard pays for it as the whole shard does.
            shard.spans.push((start - 1, start));
        }
        shard.samples += 1;
    }
    let mut weight = 0;
    let mut checked = HashMap::with_capacity(shards.len());
    for (cid, spans) in shards {
        if spans.samples == 0 {
            return Err(damaged(
                version_id,
                format!("shard {cid} has no samples in it"),
            ));
        }
        weight += spans.spans.len();
        checked.insert(cid, Arc::new(spans));
    }
    Ok(VersionSpans {
        shards: checked,
        weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_covers_the_samples_it_overlaps() {
        // Three samples: data at 512..612, 1124..1200 and 1712..1800 in a 2048-byte shard.
        let spans = ShardSpans {
            size: 2048,
            samples: 3,
            spans: vec![(512, 612), (1124, 1200), (1712, 1800)],
        };
        assert_eq!(spans.covered(0, 2047), 3);
        assert_eq!(spans.covered(0, 5000), 3);
        assert_eq!(spans.covered(0, 511), 0, "a header only");
        assert_eq!(spans.covered(612, 1123), 0, "padding and a header");
        assert_eq!(spans.covered(511, 512), 1);
        assert_eq!(spans.covered(611, 611), 1);
        assert_eq!(spans.covered(512, 611), 1);
        assert_eq!(spans.covered(600, 1124), 2);
        assert_eq!(spans.covered(1, 2047), 3);
        assert_eq!(spans.covered(1800, 2047), 0);
        assert_eq!(spans.covered(1799, 1799), 1);
    }
}
