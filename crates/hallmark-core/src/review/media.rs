//! What one file's bytes say: its kind by name and by magic bytes, private metadata (EXIF/XMP in
//! images, people in audio tags, authors of office files and PDFs), whether it decodes, and the
//! facts the dataset's statistics are made of (dimensions, duration, text length).
//!
//! Every decoder gets bytes already read and bounded ([`super::MAX_KEPT_BYTES`]) and limits of its
//! own: images at most [`MAX_IMAGE_SIDE`] pixels a side and [`MAX_IMAGE_ALLOC`] bytes decoded,
//! office files' `docProps/core.xml` at most [`MAX_CORE_XML`], JSON at serde_json's depth limit.
//! PDF authors are found by a bounded scan of the bytes for the Info dictionary's `/Author` and
//! XMP's `dc:creator`/`pdf:Author` (no PDF parser: it would be a large dependency for one field;
//! an Info dictionary inside a compressed object stream is not seen).

use std::io::{Cursor, Read};

use super::personal;

/// The widest or tallest image decoded.
pub const MAX_IMAGE_SIDE: u32 = 20_000;
/// The most memory one image's decoding may take.
pub const MAX_IMAGE_ALLOC: u64 = 512 << 20;
/// The largest `docProps/core.xml` read from an office file.
pub const MAX_CORE_XML: u64 = 1 << 20;

/// The broad kind of a file, by its name's extension.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Audio,
    Text,
    Document,
    Other,
}

/// The kind of a file by its extension (lower-cased), and the extension.
pub fn kind_of(extension: &str) -> MediaKind {
    match extension {
        "jpg" | "jpeg" | "png" | "tif" | "tiff" | "heic" | "heif" | "webp" | "gif" | "bmp" => {
            MediaKind::Image
        }
        "mp3" | "flac" | "ogg" | "oga" | "opus" | "wav" | "m4a" | "aac" | "aif" | "aiff" | "wv"
        | "ape" | "mpc" => MediaKind::Audio,
        "txt" | "json" | "jsonl" | "csv" | "tsv" | "md" | "srt" | "vtt" => MediaKind::Text,
        "pdf" | "docx" | "xlsx" | "pptx" => MediaKind::Document,
        _ => MediaKind::Other,
    }
}

/// What the content's magic bytes may be for a file of this extension; `None` when any is fine.
fn expected_magic(extension: &str) -> Option<&'static [&'static str]> {
    Some(match extension {
        "jpg" | "jpeg" => &["jpg"],
        "png" => &["png"],
        "tif" | "tiff" => &["tif"],
        "heic" | "heif" => &["heif", "avif"],
        "webp" => &["webp"],
        "gif" => &["gif"],
        "bmp" => &["bmp"],
        "mp3" => &["mp3"],
        "flac" => &["flac"],
        "ogg" | "oga" | "opus" => &["ogg", "opus", "oga", "ogx"],
        "wav" => &["wav"],
        "m4a" | "aac" => &["m4a", "mp4", "aac", "m4v"],
        "aif" | "aiff" => &["aiff"],
        "pdf" => &["pdf"],
        "docx" | "xlsx" | "pptx" => &["docx", "xlsx", "pptx", "zip"],
        _ => return None,
    })
}

/// Something wrong with one file, before it is made a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// GPS position in EXIF or XMP; the tags that hold it.
    Location(Vec<&'static str>),
    /// Camera or lens serial numbers; the tags.
    SerialNumbers(Vec<&'static str>),
    /// Names of people: owner, artist, author, performer; the tags.
    PeopleNames(Vec<&'static str>),
    /// A personal value in text.
    Personal(personal::Match),
    /// The content does not decode or parse; the decoder's words.
    Broken(String),
    /// The extension says one format, the content is another.
    WrongExtension { content: &'static str },
}

/// The facts of one file that statistics are made of.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u8>,
    /// Characters of a text file (UTF-8), or bytes where it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_chars: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_lines: Option<u64>,
}

/// What reading one file found.
#[derive(Debug, Default)]
pub struct Examined {
    pub issues: Vec<Issue>,
    pub facts: Facts,
    /// A 64-bit perceptual hash of an image that decoded.
    pub image_hash: Option<u64>,
}

/// Examines a file from its extension (lower case) and its bytes (`whole` when they are all of it).
/// `reopen` gives the file again for the audio reader when the bytes are not the whole file.
pub fn examine(
    extension: &str,
    bytes: &[u8],
    whole: bool,
    reopen: &dyn Fn() -> Option<std::fs::File>,
) -> Examined {
    let mut out = Examined::default();
    let sniffed = infer::get(bytes);
    if let (Some(expected), Some(found)) = (expected_magic(extension), sniffed)
        && !expected.contains(&found.extension())
    {
        out.issues.push(Issue::WrongExtension {
            content: found.extension(),
        });
    } else if expected_magic(extension).is_none()
        && kind_of(extension) == MediaKind::Text
        && let Some(found) = sniffed
        && matches!(
            found.matcher_type(),
            infer::MatcherType::Image
                | infer::MatcherType::Audio
                | infer::MatcherType::Video
                | infer::MatcherType::Archive
                | infer::MatcherType::App
        )
    {
        out.issues.push(Issue::WrongExtension {
            content: found.extension(),
        });
    }
    // Decode by what the content is where it is something else than the name says.
    let content_kind = match sniffed.map(|k| k.matcher_type()) {
        Some(infer::MatcherType::Image) => MediaKind::Image,
        Some(infer::MatcherType::Audio) => MediaKind::Audio,
        _ => kind_of(extension),
    };
    match content_kind {
        MediaKind::Image => image(extension, bytes, whole, &mut out),
        MediaKind::Audio => audio(bytes, whole, reopen, &mut out),
        MediaKind::Text => text(extension, bytes, whole, &mut out),
        MediaKind::Document if extension == "pdf" => pdf(bytes, &mut out),
        MediaKind::Document => office(bytes, whole, &mut out),
        MediaKind::Other => {}
    }
    out
}

fn image(extension: &str, bytes: &[u8], whole: bool, out: &mut Examined) {
    exif(bytes, out);
    xmp(bytes, out);
    if !whole {
        return;
    }
    let mut reader = match image::ImageReader::new(Cursor::new(bytes)).with_guessed_format() {
        Ok(reader) => reader,
        Err(e) => {
            out.issues.push(Issue::Broken(e.to_string()));
            return;
        }
    };
    if reader.format().is_none() {
        // HEIC and the like: no decoder here, and not knowing is not a fault of the file.
        if !matches!(extension, "heic" | "heif") {
            out.issues.push(Issue::Broken(
                "not an image format Hallmark can read".into(),
            ));
        }
        return;
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let is_jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    match reader.decode() {
        Ok(decoded) => {
            out.facts.width = Some(decoded.width());
            out.facts.height = Some(decoded.height());
            if is_jpeg && !jpeg_has_end(bytes) {
                // The JPEG decoder fills a cut-off scan with grey rather than failing.
                out.issues.push(Issue::Broken(
                    "the JPEG ends before its end-of-image marker (cut off)".into(),
                ));
            }
            let hasher = image_hasher::HasherConfig::new()
                .hash_size(8, 8)
                .hash_alg(image_hasher::HashAlg::DoubleGradient)
                .to_hasher();
            // The hash works on a few pixels: a box-filtered thumbnail first spares resizing the
            // whole picture with a slow filter (most of the time of a review of photos).
            let hash = hasher.hash_image(&decoded.thumbnail(64, 64));
            let mut word = [0u8; 8];
            for (slot, byte) in word.iter_mut().zip(hash.as_bytes()) {
                *slot = *byte;
            }
            out.image_hash = Some(u64::from_le_bytes(word));
        }
        Err(e) => out.issues.push(Issue::Broken(e.to_string())),
    }
}

/// Whether a JPEG has an end-of-image marker after its first scan. Inside entropy-coded data a
/// 0xFF byte is always followed by 0x00 or a restart marker, so `FF D9` there is the real end.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let Some(scan) = memchr::memmem::find(bytes, &[0xFF, 0xDA]) else {
        return false;
    };
    memchr::memmem::rfind(&bytes[scan..], &[0xFF, 0xD9]).is_some()
}

fn exif(bytes: &[u8], out: &mut Examined) {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return;
    };
    let mut location = Vec::new();
    let mut serials = Vec::new();
    let mut names = Vec::new();
    for field in exif.fields() {
        let empty = match &field.value {
            exif::Value::Ascii(parts) => parts
                .iter()
                .all(|p| p.iter().all(|b| *b == 0 || *b == b' ')),
            _ => false,
        };
        if empty {
            continue;
        }
        let list: &mut Vec<&'static str> = match field.tag {
            exif::Tag::GPSLatitude => {
                location.push("EXIF GPSLatitude");
                continue;
            }
            exif::Tag::GPSLongitude => {
                location.push("EXIF GPSLongitude");
                continue;
            }
            exif::Tag::BodySerialNumber => {
                serials.push("EXIF BodySerialNumber");
                continue;
            }
            exif::Tag::LensSerialNumber => &mut serials,
            exif::Tag::Artist => &mut names,
            exif::Tag::CameraOwnerName => &mut names,
            _ => continue,
        };
        list.push(match field.tag {
            exif::Tag::LensSerialNumber => "EXIF LensSerialNumber",
            exif::Tag::Artist => "EXIF Artist",
            _ => "EXIF CameraOwnerName",
        });
    }
    push_tags(out, location, serials, names);
}

/// The largest XMP packet looked into.
const MAX_XMP: usize = 1 << 20;

fn xmp(bytes: &[u8], out: &mut Examined) {
    let Some(start) = memchr::memmem::find(bytes, b"<x:xmpmeta") else {
        return;
    };
    let rest = &bytes[start..bytes.len().min(start + MAX_XMP)];
    let packet = match memchr::memmem::find(rest, b"</x:xmpmeta>") {
        Some(end) => &rest[..end],
        None => rest,
    };
    let has = |tag: &[u8]| memchr::memmem::find(packet, tag).is_some();
    let mut location = Vec::new();
    let mut serials = Vec::new();
    let mut names = Vec::new();
    if has(b"exif:GPSLatitude") {
        location.push("XMP exif:GPSLatitude");
    }
    if has(b"exif:GPSLongitude") {
        location.push("XMP exif:GPSLongitude");
    }
    for (tag, name) in [
        (&b"aux:SerialNumber"[..], "XMP aux:SerialNumber"),
        (b"aux:LensSerialNumber", "XMP aux:LensSerialNumber"),
        (b"exifEX:BodySerialNumber", "XMP exifEX:BodySerialNumber"),
        (b"exifEX:LensSerialNumber", "XMP exifEX:LensSerialNumber"),
    ] {
        if has(tag) {
            serials.push(name);
        }
    }
    for (tag, name) in [
        (&b"<dc:creator"[..], "XMP dc:creator"),
        (b"tiff:Artist", "XMP tiff:Artist"),
        (b"exifEX:CameraOwnerName", "XMP exifEX:CameraOwnerName"),
        (b"aux:OwnerName", "XMP aux:OwnerName"),
        (b"pdf:Author", "XMP pdf:Author"),
    ] {
        if has(tag) {
            names.push(name);
        }
    }
    push_tags(out, location, serials, names);
}

fn push_tags(
    out: &mut Examined,
    location: Vec<&'static str>,
    serials: Vec<&'static str>,
    names: Vec<&'static str>,
) {
    for (tags, issue) in [
        (location, Issue::Location as fn(Vec<&'static str>) -> Issue),
        (serials, Issue::SerialNumbers),
        (names, Issue::PeopleNames),
    ] {
        if tags.is_empty() {
            continue;
        }
        // One finding per kind per file: merge with what EXIF already found.
        let existing = out
            .issues
            .iter_mut()
            .find_map(|i| match (i, &issue(Vec::new())) {
                (Issue::Location(t), Issue::Location(_))
                | (Issue::SerialNumbers(t), Issue::SerialNumbers(_))
                | (Issue::PeopleNames(t), Issue::PeopleNames(_)) => Some(t),
                _ => None,
            });
        match existing {
            Some(list) => list.extend(tags),
            None => out.issues.push(issue(tags)),
        }
    }
}

/// Audio tags that name people.
const PEOPLE_KEYS: &[(lofty::tag::ItemKey, &str)] = {
    use lofty::tag::ItemKey::*;
    &[
        (TrackArtist, "artist"),
        (AlbumArtist, "album artist"),
        (OriginalArtist, "original artist"),
        (Composer, "composer"),
        (Lyricist, "lyricist"),
        (Writer, "writer"),
        (Conductor, "conductor"),
        (Performer, "performer"),
        (Arranger, "arranger"),
        (Producer, "producer"),
        (Engineer, "engineer"),
        (Remixer, "remixer"),
        (MixDj, "DJ mixer"),
        (MixEngineer, "mix engineer"),
        (Director, "director"),
        (EncodedBy, "encoded by"),
    ]
};

fn audio(
    bytes: &[u8],
    whole: bool,
    reopen: &dyn Fn() -> Option<std::fs::File>,
    out: &mut Examined,
) {
    use lofty::prelude::*;
    let options = lofty::config::ParseOptions::new().read_cover_art(false);
    let parsed = if whole {
        lofty::probe::Probe::new(Cursor::new(bytes))
            .options(options)
            .guess_file_type()
            .map_err(lofty::error::FileParseError::from)
            .and_then(|p| p.read())
    } else {
        // Too big to keep in memory: the reader seeks to the headers and tags it needs.
        match reopen() {
            Some(file) => lofty::probe::Probe::new(std::io::BufReader::new(file))
                .options(options)
                .guess_file_type()
                .map_err(lofty::error::FileParseError::from)
                .and_then(|p| p.read()),
            None => return,
        }
    };
    let tagged = match parsed {
        Ok(tagged) => tagged,
        Err(e) => {
            out.issues.push(Issue::Broken(e.to_string()));
            return;
        }
    };
    let properties = tagged.properties();
    out.facts.duration_ms = u64::try_from(properties.duration().as_millis()).ok();
    out.facts.sample_rate = properties.sample_rate();
    out.facts.channels = properties.channels();
    let mut names = Vec::new();
    for tag in tagged.tags() {
        for (key, words) in PEOPLE_KEYS {
            if tag.get_string(*key).is_some_and(|v| !v.trim().is_empty()) && !names.contains(words)
            {
                names.push(*words);
            }
        }
    }
    if !names.is_empty() {
        out.issues.push(Issue::PeopleNames(names));
    }
}

fn text(extension: &str, bytes: &[u8], whole: bool, out: &mut Examined) {
    out.facts.text_lines = Some(
        memchr::memchr_iter(b'\n', bytes).count() as u64
            + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n")),
    );
    out.facts.text_chars = Some(match std::str::from_utf8(bytes) {
        Ok(text) => text.chars().count() as u64,
        Err(_) => bytes.len() as u64,
    });
    if whole {
        match extension {
            "json" => {
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                    out.issues
                        .push(Issue::Broken(format!("not valid JSON: {e}")));
                }
            }
            "jsonl" => {
                for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                        out.issues.push(Issue::Broken(format!(
                            "line {} is not valid JSON: {e}",
                            i + 1
                        )));
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    for found in personal::find(bytes) {
        out.issues.push(Issue::Personal(found));
    }
}

fn office(bytes: &[u8], whole: bool, out: &mut Examined) {
    if !whole {
        return;
    }
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(e) => {
            out.issues
                .push(Issue::Broken(format!("not a readable office file: {e}")));
            return;
        }
    };
    let Ok(core) = archive.by_name("docProps/core.xml") else {
        return;
    };
    let mut xml = Vec::new();
    if core.take(MAX_CORE_XML).read_to_end(&mut xml).is_err() {
        out.issues
            .push(Issue::Broken("its docProps/core.xml cannot be read".into()));
        return;
    }
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let mut names = Vec::new();
    let mut inside: Option<&'static str> = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e)) => {
                inside = match e.name().as_ref() {
                    b"dc:creator" => Some("author (dc:creator)"),
                    b"cp:lastModifiedBy" => Some("last modified by (cp:lastModifiedBy)"),
                    _ => None,
                };
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                if let Some(name) = inside
                    && !t.iter().all(u8::is_ascii_whitespace)
                    && !names.contains(&name)
                {
                    names.push(name);
                }
            }
            Ok(quick_xml::events::Event::End(_)) => inside = None,
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    if !names.is_empty() {
        out.issues.push(Issue::PeopleNames(names));
    }
}

fn pdf(bytes: &[u8], out: &mut Examined) {
    let mut names = Vec::new();
    // `/Author (` or `/Author <` with something before the closing bracket.
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&bytes[at..], b"/Author") {
        let after = &bytes[at + i + 7..];
        let after = after.trim_ascii_start();
        let filled = match after.first() {
            Some(b'(') => after.get(1).is_some_and(|b| *b != b')'),
            Some(b'<') => after.get(1).is_some_and(|b| *b != b'>'),
            _ => false,
        };
        if filled {
            names.push("PDF Info /Author");
            break;
        }
        at += i + 7;
    }
    if !names.is_empty() {
        out.issues.push(Issue::PeopleNames(names));
    }
    xmp(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Option<std::fs::File> {
        None
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        });
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        bytes
    }

    #[test]
    fn a_png_named_jpg_is_a_wrong_extension_and_still_measured() {
        let found = examine("jpg", &png(30, 20), true, &none);
        assert_eq!(found.issues, vec![Issue::WrongExtension { content: "png" }]);
        assert_eq!(
            (found.facts.width, found.facts.height),
            (Some(30), Some(20))
        );
        assert!(found.image_hash.is_some());
    }

    #[test]
    fn exif_in_a_png_gives_location_serial_and_owner_findings() {
        use exif::experimental::Writer;
        use exif::{Field, In, Rational, Tag, Value};
        let rational = |n| Value::Rational(vec![Rational::from((n, 1)); 3]);
        let ascii = |t: &str| Value::Ascii(vec![t.as_bytes().to_vec()]);
        let fields = [
            (Tag::GPSLatitude, rational(45)),
            (Tag::GPSLongitude, rational(7)),
            (Tag::LensSerialNumber, ascii("L-981")),
            (Tag::CameraOwnerName, ascii("Ana Example")),
            (Tag::Make, ascii("Camera Maker")),
        ]
        .map(|(tag, value)| Field {
            tag,
            ifd_num: In::PRIMARY,
            value,
        });
        let mut writer = Writer::new();
        for field in &fields {
            writer.push_field(field);
        }
        let mut tiff = Cursor::new(Vec::new());
        writer
            .write(&mut tiff, false)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bytes = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut bytes);
        image::ImageEncoder::set_exif_metadata(&mut encoder, tiff.into_inner())
            .unwrap_or_else(|e| panic!("{e}"));
        let img = image::RgbImage::new(4, 4);
        image::ImageEncoder::write_image(encoder, &img, 4, 4, image::ExtendedColorType::Rgb8)
            .unwrap_or_else(|e| panic!("{e}"));
        let found = examine("png", &bytes, true, &none);
        assert_eq!(
            found.issues,
            vec![
                Issue::Location(vec!["EXIF GPSLatitude", "EXIF GPSLongitude"]),
                Issue::SerialNumbers(vec!["EXIF LensSerialNumber"]),
                Issue::PeopleNames(vec!["EXIF CameraOwnerName"]),
            ]
        );
    }

    /// A mono 8 kHz PCM WAV of `samples` silent samples with a RIFF INFO list (`IART`, the artist).
    fn wav(samples: u32, artist: Option<&str>) -> Vec<u8> {
        let mut info = Vec::new();
        if let Some(artist) = artist {
            let text = format!("{artist}\0");
            info.extend_from_slice(b"INFOIART");
            info.extend_from_slice(&(text.len() as u32).to_le_bytes());
            info.extend_from_slice(text.as_bytes());
        }
        let data = samples * 2;
        let mut out = b"RIFF".to_vec();
        let list = if info.is_empty() {
            0
        } else {
            8 + info.len() as u32
        };
        out.extend_from_slice(&(4 + 24 + 8 + data + list).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        for (value, width) in [(1u32, 2), (1, 2), (8000, 4), (16_000, 4), (2, 2), (16, 2)] {
            out.extend_from_slice(&value.to_le_bytes()[..width]);
        }
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data.to_le_bytes());
        out.resize(out.len() + data as usize, 0);
        if !info.is_empty() {
            out.extend_from_slice(b"LIST");
            out.extend_from_slice(&(info.len() as u32).to_le_bytes());
            out.extend_from_slice(&info);
        }
        out
    }

    #[test]
    fn audio_tags_naming_people_and_properties_are_read() {
        let found = examine("wav", &wav(16_000, Some("Ana Example")), true, &none);
        assert_eq!(found.issues, vec![Issue::PeopleNames(vec!["artist"])]);
        assert_eq!(found.facts.duration_ms, Some(2000));
        assert_eq!(found.facts.sample_rate, Some(8000));
        assert_eq!(found.facts.channels, Some(1));
        let untagged = examine("wav", &wav(800, None), true, &none);
        assert!(untagged.issues.is_empty(), "{:?}", untagged.issues);
        let cut = wav(800, None);
        let broken = examine("wav", &cut[..20], true, &none);
        assert!(
            matches!(broken.issues.as_slice(), [Issue::Broken(_)]),
            "{:?}",
            broken.issues
        );
    }

    #[test]
    fn a_cut_off_png_is_broken() {
        let bytes = png(64, 64);
        let found = examine("png", &bytes[..bytes.len() / 2], true, &none);
        assert!(
            found.issues.iter().any(|i| matches!(i, Issue::Broken(_))),
            "{:?}",
            found.issues
        );
    }

    #[test]
    fn json_that_does_not_parse_is_broken_and_text_is_counted() {
        let found = examine("json", b"{\"a\": [1, 2}\n", true, &none);
        assert!(
            matches!(found.issues.as_slice(), [Issue::Broken(m)] if m.contains("not valid JSON"))
        );
        let found = examine("txt", "héllo\nworld".as_bytes(), true, &none);
        assert!(found.issues.is_empty());
        assert_eq!(found.facts.text_chars, Some(11));
        assert_eq!(found.facts.text_lines, Some(2));
    }

    #[test]
    fn office_authors_are_found_in_core_xml() {
        let mut bytes = Vec::new();
        {
            let mut zip = zip::ZipWriter::new(Cursor::new(&mut bytes));
            zip.start_file(
                "docProps/core.xml",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            std::io::Write::write_all(
                &mut zip,
                br#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="x" xmlns:dc="y"><dc:creator>Jane Doe</dc:creator><cp:lastModifiedBy></cp:lastModifiedBy></cp:coreProperties>"#,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            zip.finish().unwrap_or_else(|e| panic!("{e}"));
        }
        let found = examine("docx", &bytes, true, &none);
        assert_eq!(
            found.issues,
            vec![Issue::PeopleNames(vec!["author (dc:creator)"])]
        );
        let found = examine("docx", b"PK\x03\x04 broken", true, &none);
        assert!(
            matches!(found.issues.as_slice(), [Issue::Broken(_)]),
            "{:?}",
            found.issues
        );
    }

    #[test]
    fn pdf_author_is_found_and_an_empty_one_is_not() {
        let found = examine(
            "pdf",
            b"%PDF-1.4\n1 0 obj << /Author (Jane Doe) >> endobj",
            true,
            &none,
        );
        assert_eq!(
            found.issues,
            vec![Issue::PeopleNames(vec!["PDF Info /Author"])]
        );
        let found = examine(
            "pdf",
            b"%PDF-1.4\n1 0 obj << /Author () >> endobj",
            true,
            &none,
        );
        assert!(found.issues.is_empty());
    }

    #[test]
    fn xmp_gps_and_creator_are_found() {
        let mut bytes = png(8, 8);
        bytes.extend_from_slice(
            b"<x:xmpmeta><rdf:Description exif:GPSLatitude=\"48,51.0N\"><dc:creator>J</dc:creator></rdf:Description></x:xmpmeta>",
        );
        let found = examine("png", &bytes, true, &none);
        assert!(
            found
                .issues
                .contains(&Issue::Location(vec!["XMP exif:GPSLatitude"]))
        );
        assert!(
            found
                .issues
                .contains(&Issue::PeopleNames(vec!["XMP dc:creator"]))
        );
    }
}
