//! The tus 1.0.0 wire format the upload endpoints speak: protocol headers, `Upload-Metadata`,
//! `Upload-Checksum`, HTTP dates, and the shard CIDs uploads are named by.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hallmark_core::digest::Sha256Digest;

use crate::error::{ApiError, ApiResult};

/// The only protocol version spoken.
pub const VERSION: &str = "1.0.0";
/// The extensions `OPTIONS` advertises.
pub const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
/// The content type of every PATCH body (and of a POST that carries the first bytes).
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// The largest `Upload-Metadata` header accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 4096;

pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
pub const TUS_VERSION: HeaderName = HeaderName::from_static("tus-version");
pub const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
pub const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
pub const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");

/// Refuses a request that does not speak tus 1.0.0 (412 with `Tus-Version`), and marks every
/// response `Tus-Resumable: 1.0.0`. `OPTIONS` is answered whatever the client speaks.
pub async fn protocol(request: Request, next: Next) -> Response {
    let sent = request.headers().get(TUS_RESUMABLE).cloned();
    let speaks_tus = sent.as_ref().is_some_and(|v| v == VERSION);
    let mut response = if speaks_tus || request.method() == Method::OPTIONS {
        next.run(request).await
    } else {
        let sent = match &sent {
            Some(value) => format!("Tus-Resumable: {}", value.to_str().unwrap_or("(not text)")),
            None => "no Tus-Resumable header".to_owned(),
        };
        let mut refused = ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus_version",
            format!("this server speaks tus 1.0.0 only and the request sent {sent}; send Tus-Resumable: 1.0.0"),
        )
        .into_response();
        refused
            .headers_mut()
            .insert(TUS_VERSION, HeaderValue::from_static(VERSION));
        refused
    };
    response
        .headers_mut()
        .insert(TUS_RESUMABLE, HeaderValue::from_static(VERSION));
    response
}

/// A header as text, `None` when absent; 400 when it is not visible ASCII or sent more than once
/// (a repeated `Upload-Length` or `Upload-Offset` would leave the server and a proxy disagreeing).
pub fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> ApiResult<Option<&'a str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "repeated_header",
            format!("the {name} header is sent more than once; send it once"),
        ));
    }
    first
        .map(|value| {
            value.to_str().map(str::trim).map_err(|_| {
                ApiError::bad_request(
                    "bad_header",
                    format!("the {name} header is not plain ASCII text"),
                )
            })
        })
        .transpose()
}

/// A header holding a non-negative integer (`Upload-Length`, `Upload-Offset`), `None` when absent.
pub fn number(headers: &HeaderMap, name: &HeaderName) -> ApiResult<Option<u64>> {
    text(headers, name)?
        .map(|value| {
            value
                .parse::<u64>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .filter(|n| i64::try_from(*n).is_ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_header",
                        format!("the {name} header must be a whole number of bytes, not {value:?}"),
                    )
                })
        })
        .transpose()
}

/// Whether the request's body is tus upload data (`Content-Type: application/offset+octet-stream`).
pub fn carries_upload_data(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
pub fn metadata(text: &str) -> ApiResult<Vec<(String, Vec<u8>)>> {
    let bad = |why: String| {
        ApiError::bad_request(
            "bad_metadata",
            format!(
                "Upload-Metadata is not valid tus metadata: {why}; send comma-separated `key base64(value)` pairs, e.g. `cid YmFma3Jl…`"
            ),
        )
    };
    if text.len() > MAX_METADATA_BYTES {
        return Err(bad(format!(
            "it is {} bytes long, more than the {MAX_METADATA_BYTES} accepted",
            text.len()
        )));
    }
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default();
        if parts.next().is_some() {
            return Err(bad(format!(
                "the pair {pair:?} has more than a key and a value"
            )));
        }
        let value = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| bad(format!("the value of {key:?} is not base64")))?;
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(bad(format!("the key {key:?} appears twice")));
        }
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// The request's `Upload-Checksum` (`sha256 BASE64`) as a digest, `None` when absent.
pub fn checksum(headers: &HeaderMap) -> ApiResult<Option<[u8; 32]>> {
    let Some(value) = text(headers, &UPLOAD_CHECKSUM)? else {
        return Ok(None);
    };
    let (algorithm, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != "sha256" {
        return Err(ApiError::bad_request(
            "checksum_algorithm",
            format!(
                "Upload-Checksum uses {algorithm:?}; this server checks sha256 only (send `sha256 BASE64-DIGEST`)"
            ),
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_checksum",
                "Upload-Checksum's value is not the base64 of a 32-byte SHA-256 digest",
            )
        })
}

/// The SHA-256 a shard's CID names. Only the canonical form is accepted: CIDv1, raw codec,
/// sha2-256, lower-case base32 (`bafkrei…`, as `Sha256Digest::cid` writes it).
pub fn parse_cid(text: &str) -> Option<Sha256Digest> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    // 1 + 1 + 2 + 32 bytes in base32 is 58 characters, after the multibase prefix `b`.
    let body = text.strip_prefix('b').filter(|b| b.len() == 58)?;
    let mut bytes = Vec::with_capacity(36);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    // Version 1, codec raw (0x55), multihash sha2-256 (0x12) of 32 bytes.
    let digest = bytes.strip_prefix(&[0x01, 0x55, 0x12, 0x20])?;
    let digest = Sha256Digest(<[u8; 32]>::try_from(digest).ok()?);
    // Writing it back must give the same text: no stray bits, no other spelling of the same CID.
    (digest.cid() == text).then_some(digest)
}

/// Unix seconds as an HTTP date (RFC 9110 IMF-fixdate), as `Upload-Expires` is written.
pub fn http_date(unix: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    let weekday = t.weekday().to_string();
    let month = t.month().to_string();
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        &weekday[..3],
        t.day(),
        &month[..3],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cid_names_exactly_one_digest() {
        let digest = Sha256Digest::of(b"hello world");
        let cid = digest.cid();
        assert_eq!(parse_cid(&cid), Some(digest));
        let empty = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        assert_eq!(parse_cid(empty), Some(Sha256Digest::of(b"")));
        // Upper case, other bases, other codecs, wrong lengths and stray final bits are refused.
        assert_eq!(parse_cid(&cid.to_uppercase()), None);
        assert_eq!(parse_cid(&cid[1..]), None);
        assert_eq!(parse_cid(&format!("{cid}a")), None);
        assert_eq!(parse_cid(&cid[..cid.len() - 1]), None);
        let last = cid.chars().last().unwrap();
        let changed_low_bits = format!(
            "{}{}",
            &cid[..cid.len() - 1],
            if last == 'a' { 'b' } else { 'a' }
        );
        assert_ne!(parse_cid(&changed_low_bits), Some(digest));
        // dag-pb (0x70) instead of raw.
        assert_eq!(
            parse_cid("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
            None
        );
        assert_eq!(parse_cid(""), None);
    }

    #[test]
    fn metadata_is_key_and_base64_value() {
        let parsed = metadata("cid YmFma3Jl, filename d29ybGQuanBn,empty").unwrap();
        assert_eq!(
            parsed,
            vec![
                ("cid".to_owned(), b"bafkre".to_vec()),
                ("filename".to_owned(), b"world.jpg".to_vec()),
                ("empty".to_owned(), Vec::new()),
            ]
        );
        assert!(metadata("cid not*base64").is_err());
        assert!(metadata("cid YQ==, cid YQ==").is_err());
        assert!(metadata(&"a".repeat(MAX_METADATA_BYTES + 1)).is_err());
    }

    #[test]
    fn expiry_dates_are_http_dates() {
        assert_eq!(http_date(1_403_712_000), "Wed, 25 Jun 2014 16:00:00 GMT");
    }

    #[test]
    fn checksums_are_sha256_in_base64() {
        let mut headers = HeaderMap::new();
        assert_eq!(checksum(&headers).unwrap(), None);
        let digest = Sha256Digest::of(b"chunk");
        let encoded = base64::engine::general_purpose::STANDARD.encode(digest.0);
        headers.insert(
            UPLOAD_CHECKSUM,
            HeaderValue::from_str(&format!("sha256 {encoded}")).unwrap(),
        );
        assert_eq!(checksum(&headers).unwrap(), Some(digest.0));
        headers.insert(UPLOAD_CHECKSUM, HeaderValue::from_static("md5 AAAA"));
        assert_eq!(checksum(&headers).unwrap_err().code, "checksum_algorithm");
        headers.append(UPLOAD_CHECKSUM, HeaderValue::from_static("md5 AAAA"));
        assert_eq!(checksum(&headers).unwrap_err().code, "repeated_header");
    }
}
