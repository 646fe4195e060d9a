//! C2SP tlog-tiles paths (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), both ways.

use std::fmt;

use super::{Result, TILE_WIDTH, TlogError, excerpt};

/// The path of the log's signed checkpoint.
pub const CHECKPOINT_PATH: &str = "checkpoint";

/// The deepest tile level C2SP allows.
const MAX_LEVEL: u8 = 63;

/// The longest well-formed path: `tile/entries/` and seven 3-digit groups of a `u64`, `.p/255`.
const MAX_PATH_CHARS: usize = 64;

/// One file of a log, by what it holds. Widths are 1..=256; 256 is a full tile (no `.p/` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogPath {
    /// The signed checkpoint (mutable).
    Checkpoint,
    /// The `index`-th hash tile at `level`, `width` hashes wide.
    Tile { level: u8, index: u64, width: u16 },
    /// The `index`-th entry bundle, `width` entries long.
    Entries { index: u64, width: u16 },
}

/// `N` in 3-digit groups, `x` before all but the last: 1234067 → `x001/x234/067`.
fn write_index(out: &mut String, index: u64) {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, group) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{group:03}/"));
        } else {
            out.push_str(&format!("{group:03}"));
        }
    }
}

fn write_width(out: &mut String, width: u16) {
    if width != TILE_WIDTH {
        out.push_str(&format!(".p/{width}"));
    }
}

/// The C2SP path of the hash tile at `level`, number `index`, `width` hashes wide (256 = full).
pub fn tile_path(level: u8, index: u64, width: u16) -> String {
    LogPath::Tile {
        level,
        index,
        width,
    }
    .to_string()
}

/// The C2SP path of entry bundle number `index`, `width` entries long (256 = full).
pub fn entries_path(index: u64, width: u16) -> String {
    LogPath::Entries { index, width }.to_string()
}

impl fmt::Display for LogPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        match *self {
            LogPath::Checkpoint => out.push_str(CHECKPOINT_PATH),
            LogPath::Tile {
                level,
                index,
                width,
            } => {
                out.push_str(&format!("tile/{level}/"));
                write_index(&mut out, index);
                write_width(&mut out, width);
            }
            LogPath::Entries { index, width } => {
                out.push_str("tile/entries/");
                write_index(&mut out, index);
                write_width(&mut out, width);
            }
        }
        f.write_str(&out)
    }
}

impl LogPath {
    /// Parses a path relative to the log's prefix, as a server receives it in a request. Accepts
    /// only the exact C2SP spelling (`checkpoint`, `tile/<L>/<N>[.p/<W>]`,
    /// `tile/entries/<N>[.p/<W>]`: level 0..=63 without leading zeros, 3-digit groups, width
    /// 1..=255 without leading zeros, no index beyond what a 2^64-entry tree has) and refuses
    /// anything else, such as `..`, `//`, a leading `/` or a query.
    pub fn parse(path: &str) -> Result<LogPath> {
        let bad = || TlogError::BadPath(excerpt(path));
        if path == CHECKPOINT_PATH {
            return Ok(LogPath::Checkpoint);
        }
        if path.len() > MAX_PATH_CHARS || !path.is_ascii() {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind, rest) = rest.split_once('/').ok_or_else(bad)?;
        let (digits, width) = match rest.split_once(".p/") {
            Some((digits, width)) => {
                let width: u16 = super::note::parse_decimal(width)
                    .and_then(|w| u16::try_from(w).ok())
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or_else(bad)?;
                (digits, width)
            }
            None => (rest, TILE_WIDTH),
        };
        let mut index: u64 = 0;
        let groups: Vec<&str> = digits.split('/').collect();
        for (i, group) in groups.iter().enumerate() {
            let group = if i + 1 < groups.len() {
                group.strip_prefix('x').ok_or_else(bad)?
            } else {
                group
            };
            if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let value: u64 = group.parse().map_err(|_| bad())?;
            index = index
                .checked_mul(1000)
                .and_then(|n| n.checked_add(value))
                .ok_or_else(bad)?;
        }
        let parsed = if kind == "entries" {
            LogPath::Entries { index, width }
        } else {
            let level = super::note::parse_decimal(kind)
                .and_then(|l| u8::try_from(l).ok())
                .filter(|l| *l <= MAX_LEVEL)
                .ok_or_else(bad)?;
            LogPath::Tile {
                level,
                index,
                width,
            }
        };
        // A tile's first entry, index × 256^(level+1), must be below 2^64.
        let level = match parsed {
            LogPath::Tile { level, .. } => u32::from(level),
            _ => 0,
        };
        let max_index = u64::MAX.checked_shr(8 * (level + 1)).unwrap_or(0);
        if index > max_index {
            return Err(bad());
        }
        // The exact spelling only (e.g. no `x000/` group before the last).
        if parsed.to_string() != path {
            return Err(bad());
        }
        Ok(parsed)
    }

    /// Whether the file's content never changes: full tiles and full entry bundles. A partial
    /// tile is replaced by wider ones and may be deleted; the checkpoint changes with every append.
    pub fn is_immutable(&self) -> bool {
        match self {
            LogPath::Checkpoint => false,
            LogPath::Tile { width, .. } | LogPath::Entries { width, .. } => *width == TILE_WIDTH,
        }
    }

    /// The HTTP `Cache-Control` value to serve the file with: `public, max-age=31536000,
    /// immutable` for full tiles and bundles, `no-cache` for partial ones and the checkpoint.
    pub fn cache_control(&self) -> &'static str {
        if self.is_immutable() {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }
    }

    /// The HTTP `Content-Type` C2SP names for the file.
    pub fn content_type(&self) -> &'static str {
        match self {
            LogPath::Checkpoint => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_written_in_three_digit_groups() {
        assert_eq!(tile_path(0, 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(2, 0, 1), "tile/2/000.p/1");
        assert_eq!(tile_path(1, 999, 255), "tile/1/999.p/255");
        assert_eq!(tile_path(1, 1000, 256), "tile/1/x001/000");
        assert_eq!(entries_path(1234067, 7), "tile/entries/x001/x234/067.p/7");
        assert_eq!(entries_path(5, 256), "tile/entries/005");
        assert_eq!(
            entries_path(u64::MAX >> 8, 256),
            "tile/entries/x072/x057/x594/x037/x927/935"
        );
    }

    #[test]
    fn well_formed_paths_parse_back() {
        for path in [
            LogPath::Checkpoint,
            LogPath::Tile {
                level: 0,
                index: 1234067,
                width: 256,
            },
            LogPath::Tile {
                level: 63,
                index: 0,
                width: 3,
            },
            LogPath::Entries {
                index: 1234067,
                width: 255,
            },
            LogPath::Entries {
                index: u64::MAX >> 8,
                width: 1,
            },
            LogPath::Tile {
                level: 1,
                index: u64::MAX >> 16,
                width: 256,
            },
        ] {
            assert_eq!(LogPath::parse(&path.to_string()).expect("parses"), path);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for path in [
            "",
            "/checkpoint",
            "checkpoint/",
            "tile",
            "tile/0",
            "tile/0/",
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/x1/001",
            "tile/0/001/002",
            "tile/0/x001",
            "tile/00/001",
            "tile/64/000",
            "tile/-1/000",
            "tile/8/0/000",
            "tile/data/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/0/000.p/1/",
            "tile/0/../000",
            "tile//000",
            "tile/entries/x072/x057/x594/x037/x927/936",
            "tile/1/x281/x474/x976/x710/656",
            "tile/7/001",
            "tile/entries/000?x=1",
            "tile/entries/٠٠٠",
        ] {
            assert!(LogPath::parse(path).is_err(), "accepted {path:?}");
        }
    }

    #[test]
    fn only_full_tiles_are_cached_forever() {
        let full = LogPath::parse("tile/0/x001/x234/067").expect("parses");
        let partial = LogPath::parse("tile/entries/000.p/9").expect("parses");
        assert!(full.cache_control().contains("immutable"));
        assert_eq!(partial.cache_control(), "no-cache");
        assert_eq!(LogPath::Checkpoint.cache_control(), "no-cache");
        assert_eq!(
            LogPath::Checkpoint.content_type(),
            "text/plain; charset=utf-8"
        );
    }
}
