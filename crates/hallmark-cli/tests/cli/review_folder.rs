//! A creator's folder with everything a review must flag, made from real encoders: a JPEG with GPS
//! and a serial number in its EXIF, an MP3 with an artist tag, personal data in text, a cut-off
//! JPEG, a PNG named `.jpg`, identical files and near-identical images. Shared with the
//! reference tests (`tests/reference`), which include this file.

use std::io::Cursor;
use std::path::Path;

/// The personal values written into `notes/contacts.txt`, which no output may show whole.
pub const EMAIL: &str = "jane.doe@example.org";
pub const PHONE: &str = "+44 20 7946 0958";
pub const CARD: &str = "4111 1111 1111 1111";
/// Fails the Luhn check: must not be reported at all.
pub const NOT_A_CARD: &str = "4111 1111 1111 1112";

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

/// Pictures different enough that no two are near-identical.
fn picture(pattern: u32, shift: u8) -> image::RgbImage {
    image::RgbImage::from_fn(96, 64, |x, y| {
        let v = match pattern {
            0 => (x * 255 / 96) as u8,
            1 => {
                if (x / 12 + y / 12) % 2 == 0 {
                    230
                } else {
                    20
                }
            }
            2 => {
                let (dx, dy) = (x as i32 - 48, y as i32 - 32);
                if dx * dx + dy * dy < 400 { 240 } else { 30 }
            }
            3 => (y * 255 / 64) as u8,
            _ => {
                if x % 24 < 12 {
                    200
                } else {
                    60
                }
            }
        };
        let v = v.saturating_add(shift);
        image::Rgb([v, v / 2 + 40, 255 - v])
    })
}

/// A JPEG with an APP1 EXIF segment holding a GPS position and the camera's serial number.
fn jpeg_with_gps() -> Vec<u8> {
    use exif::experimental::Writer;
    use exif::{Field, In, Rational, Tag, Value};
    let degrees = |d, m, s| {
        Value::Rational(vec![
            Rational::from((d, 1)),
            Rational::from((m, 1)),
            Rational::from((s, 1)),
        ])
    };
    let fields = [
        Field {
            tag: Tag::GPSLatitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"N".to_vec()]),
        },
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: degrees(48, 51, 30),
        },
        Field {
            tag: Tag::GPSLongitudeRef,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"E".to_vec()]),
        },
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: degrees(2, 17, 40),
        },
        Field {
            tag: Tag::BodySerialNumber,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![b"SN-0042-7731".to_vec()]),
        },
    ];
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let tiff = tiff.into_inner();
    let jpeg = encode(&picture(2, 0), image::ImageFormat::Jpeg);
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&u16::try_from(2 + 6 + tiff.len()).unwrap().to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// An MP3: an ID3v2.3 tag naming the artist, then one second of MPEG-1 Layer III frames
/// (128 kbit/s, 44.1 kHz, stereo; silent).
pub fn mp3_with_artist(artist: &str) -> Vec<u8> {
    let mut frame = vec![0u8];
    frame.extend_from_slice(artist.as_bytes());
    let mut tag_body = b"TPE1".to_vec();
    tag_body.extend_from_slice(&u32::try_from(frame.len()).unwrap().to_be_bytes());
    tag_body.extend_from_slice(&[0, 0]);
    tag_body.extend_from_slice(&frame);
    let size = u32::try_from(tag_body.len()).unwrap();
    let syncsafe = [
        ((size >> 21) & 0x7F) as u8,
        ((size >> 14) & 0x7F) as u8,
        ((size >> 7) & 0x7F) as u8,
        (size & 0x7F) as u8,
    ];
    let mut out = b"ID3\x03\x00\x00".to_vec();
    out.extend_from_slice(&syncsafe);
    out.extend_from_slice(&tag_body);
    for _ in 0..38 {
        let mut mpeg = vec![0u8; 417];
        mpeg[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        out.extend_from_slice(&mpeg);
    }
    out
}

/// Writes the folder into `root`.
pub fn flagged_folder(root: &Path) {
    write(root, "photos/home.jpg", &jpeg_with_gps());
    let cut = encode(&picture(1, 0), image::ImageFormat::Jpeg);
    write(root, "photos/cut.jpg", &cut[..cut.len() / 2]);
    write(
        root,
        "photos/really-png.jpg",
        &encode(&picture(3, 0), image::ImageFormat::Png),
    );
    write(
        root,
        "photos/beach.png",
        &encode(&picture(4, 0), image::ImageFormat::Png),
    );
    write(
        root,
        "photos/beach-edit.png",
        &encode(&picture(4, 3), image::ImageFormat::Png),
    );
    write(
        root,
        "photos/street.png",
        &encode(&picture(0, 0), image::ImageFormat::Png),
    );
    write(root, "audio/song.mp3", &mp3_with_artist("Jane Doe"));
    write(
        root,
        "notes/contacts.txt",
        format!(
            "Write to {EMAIL} about the shoot\nor call {PHONE} before noon\n\
             paid with {CARD} (refunded)\nreference {NOT_A_CARD}, not a card\n"
        )
        .as_bytes(),
    );
    write(
        root,
        "notes/readme.txt",
        b"Photos of the coast, autumn 2026.\n",
    );
    write(
        root,
        "notes/readme-copy.txt",
        b"Photos of the coast, autumn 2026.\n",
    );
    write(root, "notes/shots.json", br#"{"shots": [1, 2, 3]}"#);
}
