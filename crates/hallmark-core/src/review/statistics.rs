//! The dataset's statistics: per media kind, how many files and bytes, image dimensions, audio
//! duration, sample rates and channels, text lengths. Shown by `hallmark review` and written into
//! the manifest as the documented extension property `hallmark:statistics` (Croissant 1.1 has no
//! property for dataset statistics).

use std::collections::BTreeSet;

use super::ReviewedFile;
use super::media::MediaKind;

/// Statistics of a set of files.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub files: u64,
    pub bytes: u64,
    /// Files whose content a review measured (the rest are counted, not measured).
    pub reviewed_files: u64,
    /// One entry per media kind present, in kind order.
    pub media: Vec<MediaStatistics>,
}

/// Statistics of one media kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaStatistics {
    pub kind: MediaKind,
    pub files: u64,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageStatistics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioStatistics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextStatistics>,
}

/// Image dimensions in pixels, over the images that decoded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatistics {
    pub measured: u64,
    pub min_width: u32,
    pub max_width: u32,
    pub min_height: u32,
    pub max_height: u32,
    pub total_pixels: u64,
}

/// Audio durations (milliseconds), sample rates (Hz) and channel counts, over the files that parsed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioStatistics {
    pub measured: u64,
    pub total_duration_ms: u64,
    pub min_duration_ms: u64,
    pub max_duration_ms: u64,
    pub sample_rates: Vec<u32>,
    pub channels: Vec<u8>,
}

/// Text lengths in characters and lines.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextStatistics {
    pub measured: u64,
    pub total_chars: u64,
    pub min_chars: u64,
    pub max_chars: u64,
    pub total_lines: u64,
}

impl Statistics {
    /// Statistics of reviewed files.
    pub fn of<'a>(files: impl Iterator<Item = &'a ReviewedFile>) -> Self {
        let mut stats = Statistics::default();
        for file in files {
            stats.add(file.kind, file.size, Some(&file.facts));
        }
        stats
    }

    /// Adds one file; `facts` is `None` for a file counted but not reviewed.
    pub fn add(&mut self, kind: MediaKind, size: u64, facts: Option<&super::Facts>) {
        self.files += 1;
        self.bytes += size;
        self.reviewed_files += u64::from(facts.is_some());
        let at = match self.media.binary_search_by(|m| m.kind.cmp(&kind)) {
            Ok(at) => at,
            Err(at) => {
                self.media.insert(
                    at,
                    MediaStatistics {
                        kind,
                        files: 0,
                        bytes: 0,
                        image: None,
                        audio: None,
                        text: None,
                    },
                );
                at
            }
        };
        let media = &mut self.media[at];
        media.files += 1;
        media.bytes += size;
        let Some(facts) = facts else {
            return;
        };
        if let (Some(w), Some(h)) = (facts.width, facts.height) {
            let image = media.image.get_or_insert(ImageStatistics {
                measured: 0,
                min_width: u32::MAX,
                max_width: 0,
                min_height: u32::MAX,
                max_height: 0,
                total_pixels: 0,
            });
            image.measured += 1;
            image.min_width = image.min_width.min(w);
            image.max_width = image.max_width.max(w);
            image.min_height = image.min_height.min(h);
            image.max_height = image.max_height.max(h);
            image.total_pixels += u64::from(w) * u64::from(h);
        }
        if let Some(ms) = facts.duration_ms {
            let audio = media.audio.get_or_insert(AudioStatistics {
                measured: 0,
                total_duration_ms: 0,
                min_duration_ms: u64::MAX,
                max_duration_ms: 0,
                sample_rates: Vec::new(),
                channels: Vec::new(),
            });
            audio.measured += 1;
            audio.total_duration_ms += ms;
            audio.min_duration_ms = audio.min_duration_ms.min(ms);
            audio.max_duration_ms = audio.max_duration_ms.max(ms);
            if let Some(rate) = facts.sample_rate {
                let mut rates: BTreeSet<u32> = audio.sample_rates.iter().copied().collect();
                rates.insert(rate);
                audio.sample_rates = rates.into_iter().collect();
            }
            if let Some(channels) = facts.channels {
                let mut all: BTreeSet<u8> = audio.channels.iter().copied().collect();
                all.insert(channels);
                audio.channels = all.into_iter().collect();
            }
        }
        if let Some(chars) = facts.text_chars {
            let text = media.text.get_or_insert(TextStatistics {
                measured: 0,
                total_chars: 0,
                min_chars: u64::MAX,
                max_chars: 0,
                total_lines: 0,
            });
            text.measured += 1;
            text.total_chars += chars;
            text.min_chars = text.min_chars.min(chars);
            text.max_chars = text.max_chars.max(chars);
            text.total_lines += facts.text_lines.unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::Facts;

    fn file(kind: MediaKind, size: u64, facts: Facts) -> ReviewedFile {
        ReviewedFile {
            path: String::new(),
            sha256: String::new(),
            size,
            kind,
            facts,
        }
    }

    #[test]
    fn counts_sizes_and_ranges_per_kind() {
        let files = [
            file(
                MediaKind::Image,
                100,
                Facts {
                    width: Some(640),
                    height: Some(480),
                    ..Facts::default()
                },
            ),
            file(
                MediaKind::Image,
                50,
                Facts {
                    width: Some(32),
                    height: Some(900),
                    ..Facts::default()
                },
            ),
            file(MediaKind::Image, 7, Facts::default()),
            file(
                MediaKind::Audio,
                1000,
                Facts {
                    duration_ms: Some(1500),
                    sample_rate: Some(44_100),
                    channels: Some(2),
                    ..Facts::default()
                },
            ),
            file(
                MediaKind::Audio,
                10,
                Facts {
                    duration_ms: Some(500),
                    sample_rate: Some(48_000),
                    channels: Some(2),
                    ..Facts::default()
                },
            ),
            file(
                MediaKind::Text,
                12,
                Facts {
                    text_chars: Some(11),
                    text_lines: Some(2),
                    ..Facts::default()
                },
            ),
        ];
        let stats = Statistics::of(files.iter());
        assert_eq!(
            (stats.files, stats.bytes, stats.reviewed_files),
            (6, 1179, 6)
        );
        let image = &stats.media[0];
        assert_eq!(
            (image.kind, image.files, image.bytes),
            (MediaKind::Image, 3, 157)
        );
        let dims = image
            .image
            .as_ref()
            .unwrap_or_else(|| panic!("no image statistics"));
        assert_eq!(
            (
                dims.measured,
                dims.min_width,
                dims.max_width,
                dims.min_height,
                dims.max_height
            ),
            (2, 32, 640, 480, 900)
        );
        let audio = stats.media[1]
            .audio
            .as_ref()
            .unwrap_or_else(|| panic!("no audio statistics"));
        assert_eq!(
            (
                audio.total_duration_ms,
                audio.min_duration_ms,
                audio.max_duration_ms
            ),
            (2000, 500, 1500)
        );
        assert_eq!(audio.sample_rates, vec![44_100, 48_000]);
        assert_eq!(audio.channels, vec![2]);
        let text = stats.media[2]
            .text
            .as_ref()
            .unwrap_or_else(|| panic!("no text statistics"));
        assert_eq!((text.total_chars, text.total_lines), (11, 2));
    }
}
