//! Shard access: `GET /v1/shards/{cid}` (and `HEAD`) with an access token, metered per sample.
//!
//! A request is charged for the samples whose data bytes it covers (spans.rs): a whole shard for
//! all of them, a range for those it overlaps by at least one byte, tar headers and padding alone
//! for none (free, no receipt). The bytes stream from the blob store; the last chunk is held back
//! until the meter has durably committed the receipt (metering.rs), so every access whose bytes
//! were delivered has a receipt. A response cut short (the client left) is charged afterwards for
//! the samples whose bytes it handed to the connection, so hanging up never takes a sample free
//! and a sample none of whose bytes were sent is not paid for. If charging fails, the body ends
//! with an error: the client sees a truncated response, never the last chunk unbilled.
//!
//! Ranges: one `bytes=` range per request (`a-b`, `a-`, `-n`); several ranges are 416 with a
//! message. A `Range` of another unit is ignored (RFC 9110 §14.2); a malformed `bytes=` range is
//! 400 rather than ignored, so a typo never turns into a whole-shard charge. `If-Range` with
//! another validator than the shard's ETag sends the whole shard. `If-None-Match` naming the
//! ETag is 304, free. `HEAD` is free.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use hallmark_core::earnings::ByteRange;
use object_store::{GetOptions, GetRange, GetResult, GetResultPayload};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::buyers;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::metering::{Access, Meter};
use crate::spans::ShardSpans;
use crate::tokens;

/// The header a request may add to name the buyer it acts for: a token of another buyer is refused.
pub const BUYER_KEY_HEADER: &str = "x-hallmark-buyer-key";
/// The response header with the number of samples the request is charged for.
pub const SAMPLES_HEADER: &str = "x-hallmark-samples";
/// The longest CID accepted in a path.
const MAX_CID_CHARS: usize = 128;
/// The longest `Range` header read.
const MAX_RANGE_CHARS: usize = 256;
const CACHE_CONTROL: &str = "private, max-age=31536000, immutable";
/// The most bytes read from a local shard file at once (one blocking task per read).
/// `object_store`'s own stream reads 8 KiB per blocking task: 1,024 thread hand-offs for an 8 MiB
/// shard, and three for a 4 KiB range (seek, read, end). This reads a range in one `pread` per
/// chunk, and a chunk at most is held in memory per response (two while the last waits).
pub const FILE_CHUNK_BYTES: u64 = 512 << 10;
const TAR: &str = "application/x-tar";

/// Routes under `/v1/shards`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_shard, head_shard))
}

/// What a checked request may read, and on which terms.
#[derive(Debug)]
struct Grant {
    claims: tokens::Claims,
    cid: String,
    size: u64,
    creator: String,
    index_sha256: String,
    price: String,
    currency: String,
    share_rate: String,
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    buyer_id: String,
    version_id: String,
    revoked_at: Option<i64>,
    price: String,
    currency: String,
    share_rate: String,
    disabled_at: Option<i64>,
    key_sha256: String,
    withdrawn_at: Option<i64>,
    index_sha256: String,
    creator: String,
    size: Option<i64>,
}

fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

/// Checks the token (statelessly, then against this server's records in one query) and that
/// `cid` is a shard of the version it opens.
async fn authorize(state: &AppState, cid: &str, headers: &HeaderMap) -> ApiResult<Grant> {
    let token = crate::auth::bearer_credential(
        headers,
        tokens::PREFIX,
        tokens::MAX_TOKEN_CHARS,
        "send an access token as Authorization: Bearer hmt1.… (POST \
         /v1/buyer/entitlements/{id}/tokens issues one)",
        "the Authorization header is not an access token (Bearer hmt1.…); a buyer API key \
         is exchanged for one at POST /v1/buyer/entitlements/{id}/tokens",
    )?;
    let claims = tokens::verify(&state.identity.public(), token, state.now_unix())
        .map_err(|e| ApiError::unauthorized(format!("{e}; ask for a new access token")))?;
    if cid.is_empty()
        || cid.len() > MAX_CID_CHARS
        || !cid.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(forbidden(
            "not_in_version",
            "that is not a shard CID; the version's shards are listed at GET /v1/catalog/{version_id}",
        ));
    }
    let row: Option<GrantRow> = sqlx::query_as(
        "SELECT e.buyer_id, e.version_id, e.revoked_at, e.price, e.currency, e.share_rate, \
         b.disabled_at, b.key_sha256, v.withdrawn_at, v.index_sha256, d.creator, s.size \
         FROM entitlements e JOIN buyers b ON b.id = e.buyer_id \
         JOIN versions v ON v.id = e.version_id JOIN datasets d ON d.id = v.dataset_id \
         LEFT JOIN version_shards vs ON vs.version_id = e.version_id AND vs.cid = $2 \
         LEFT JOIN shards s ON s.cid = vs.cid \
         WHERE e.id = $1",
    )
    .bind(&claims.entitlement)
    .bind(cid)
    .fetch_optional(&state.db.pool)
    .await?;
    let row = row
        .filter(|r| r.buyer_id == claims.buyer && r.version_id == claims.version)
        .ok_or_else(|| {
            ApiError::unauthorized("the access token names no entitlement here; ask for a new one")
        })?;
    if let Some(at) = row.disabled_at {
        return Err(buyers::buyer_disabled(at));
    }
    if let Some(key) = headers.get(BUYER_KEY_HEADER) {
        let same = key
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| k.starts_with(buyers::KEY_PREFIX) && k.len() <= 128)
            .is_some_and(|k| buyers::key_digest(k) == row.key_sha256);
        if !same {
            return Err(forbidden(
                "token_of_another_buyer",
                "the access token was issued to another buyer than the X-Hallmark-Buyer-Key \
                 names; use a token from your own entitlement",
            ));
        }
    }
    if row.revoked_at.is_some() {
        return Err(forbidden(
            "entitlement_revoked",
            format!(
                "entitlement {} was revoked; its tokens open nothing. Take a new entitlement with \
                 POST /v1/buyer/entitlements",
                claims.entitlement
            ),
        ));
    }
    if row.withdrawn_at.is_some() {
        return Err(forbidden(
            "version_withdrawn",
            format!(
                "version {} was withdrawn by its creator; its shards are no longer served",
                claims.version
            ),
        ));
    }
    let size = row.size.ok_or_else(|| {
        forbidden(
            "not_in_version",
            format!(
                "shard {cid} is not a shard of version {}, the version your token opens; the \
                 version's shards are listed at GET /v1/catalog/{}",
                claims.version, claims.version
            ),
        )
    })?;
    Ok(Grant {
        claims,
        cid: cid.to_owned(),
        size: u64::try_from(size).unwrap_or_default(),
        creator: row.creator,
        index_sha256: row.index_sha256,
        price: row.price,
        currency: row.currency,
        share_rate: row.share_rate,
    })
}

/// Why a `Range` header cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// 400: not a byte range this server reads.
    Malformed,
    /// 416: more than one range.
    Several,
    /// 416: starts past the end (or the shard is empty).
    Unsatisfiable,
}

/// The one byte range (`first..=last`) `value` asks of a `size`-byte shard; `None` for the whole
/// shard (no header, or a unit other than bytes, which RFC 9110 says to ignore).
pub fn parse_range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, RangeError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.len() > MAX_RANGE_CHARS {
        return Err(RangeError::Malformed);
    }
    let (unit, set) = value.split_once('=').ok_or(RangeError::Malformed)?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ok(None);
    }
    let specs: Vec<&str> = set
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let spec = match specs.as_slice() {
        [] => return Err(RangeError::Malformed),
        [one] => *one,
        _ => return Err(RangeError::Several),
    };
    let (a, b) = spec.split_once('-').ok_or(RangeError::Malformed)?;
    // Digits beyond u64 mean "past any end" (RFC 9110: a last position past the end is the end).
    let number = |text: &str| -> Result<u64, RangeError> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
            return Err(RangeError::Malformed);
        }
        Ok(text.parse().unwrap_or(u64::MAX))
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, true) => Err(RangeError::Malformed),
        (true, false) => {
            let suffix = number(b)?;
            if suffix == 0 || size == 0 {
                return Err(RangeError::Unsatisfiable);
            }
            Ok(Some((size.saturating_sub(suffix), size - 1)))
        }
        (false, open) => {
            let first = number(a)?;
            let last = if open { u64::MAX } else { number(b)? };
            if last < first {
                return Err(RangeError::Malformed);
            }
            if first >= size {
                return Err(RangeError::Unsatisfiable);
            }
            Ok(Some((first, last.min(size - 1))))
        }
    }
}

fn etag(cid: &str) -> String {
    format!("\"{cid}\"")
}

/// True when `If-None-Match` names the shard's ETag (or `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn common_headers(response: &mut Response, cid: &str) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag(cid)) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
}

/// What a checked request will be sent.
#[derive(Debug)]
enum Plan {
    NotModified,
    Bytes {
        /// `Some` for a 206.
        range: Option<(u64, u64)>,
        samples: u64,
        spans: Arc<ShardSpans>,
    },
}

async fn plan(state: &AppState, grant: &Grant, headers: &HeaderMap) -> ApiResult<Plan> {
    let tag = etag(&grant.cid);
    if not_modified(headers, &tag) {
        return Ok(Plan::NotModified);
    }
    let if_range_differs = headers
        .get(header::IF_RANGE)
        .is_some_and(|v| v.to_str().ok().map(str::trim) != Some(tag.as_str()));
    let range_header = if if_range_differs {
        None
    } else {
        match headers.get(header::RANGE) {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| bad_range())?),
        }
    };
    let range = match parse_range(range_header, grant.size) {
        Ok(range) => range,
        Err(RangeError::Malformed) => return Err(bad_range()),
        Err(RangeError::Several) => {
            return Err(unsatisfiable(
                grant.size,
                "one_range_only",
                "this marketplace serves one byte range per request (each request is metered on \
                 its own); ask for each range in a request of its own",
            ));
        }
        Err(RangeError::Unsatisfiable) => {
            return Err(unsatisfiable(
                grant.size,
                "range_not_satisfiable",
                format!(
                    "the range starts past the end of the shard ({} bytes); ask for bytes 0 to {}",
                    grant.size,
                    grant.size.saturating_sub(1)
                ),
            ));
        }
    };
    let spans = state
        .spans
        .shard(
            state,
            &grant.claims.version,
            &grant.index_sha256,
            &grant.cid,
        )
        .await?;
    let samples = match range.or_else(|| (grant.size > 0).then(|| (0, grant.size - 1))) {
        Some((first, last)) => spans.covered(first, last),
        None => 0,
    };
    Ok(Plan::Bytes {
        range,
        samples,
        spans,
    })
}

fn bad_range() -> ApiError {
    ApiError::bad_request(
        "bad_range",
        "the Range header is not one byte range; send bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX",
    )
}

fn unsatisfiable(size: u64, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, code, message)
        .with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
}

/// Headers and status of a bytes response (GET or HEAD).
fn bytes_response(grant: &Grant, range: Option<(u64, u64)>, samples: u64, body: Body) -> Response {
    let (status, length) = match range {
        Some((first, last)) => (StatusCode::PARTIAL_CONTENT, last - first + 1),
        None => (StatusCode::OK, grant.size),
    };
    let mut response = (status, body).into_response();
    common_headers(&mut response, &grant.cid);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAR));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(SAMPLES_HEADER, HeaderValue::from(samples));
    if let Some((first, last)) = range
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {first}-{last}/{}", grant.size))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

fn not_modified_response(cid: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    common_headers(&mut response, cid);
    response
}

/// A shard's bytes (the whole shard or one range), metered: the samples the bytes cover are
/// charged once the rest is delivered, and the last chunk is sent only when the receipt is durable.
#[utoipa::path(get, path = "/v1/shards/{cid}", tag = "access",
    security(("bearer" = [])),
    params(
        ("cid" = String, Path, description = "The shard's CID, as the version's detail lists it"),
        ("Range" = Option<String>, Header, description = "One range: bytes=FIRST-LAST, bytes=FIRST- or bytes=-SUFFIX"),
        ("If-None-Match" = Option<String>, Header, description = "The shard's ETag: 304, not charged"),
        ("X-Hallmark-Buyer-Key" = Option<String>, Header, description = "Your API key: refuses a token of another buyer"),
    ),
    responses(
        (status = 200, description = "The whole shard; X-Hallmark-Samples says how many samples are charged", content_type = "application/x-tar", body = Vec<u8>),
        (status = 206, description = "One range, with Content-Range; charged for the samples whose data it overlaps", content_type = "application/x-tar", body = Vec<u8>),
        (status = 304, description = "If-None-Match named the ETag: nothing sent, nothing charged"),
        (status = 400, description = "A malformed bytes range", body = ErrorBody),
        (status = 401, description = "No access token, or one forged, expired or unknown", body = ErrorBody),
        (status = 403, description = "Not a shard of the token's version; the entitlement revoked, the version withdrawn, the buyer disabled, or the token another buyer's", body = ErrorBody),
        (status = 416, description = "Past the end (Content-Range: bytes */SIZE), or more than one range", body = ErrorBody),
    ))]
async fn get_shard(
    State(state): State<AppState>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let grant = authorize(&state, &cid, &headers).await?;
    let (range, samples, spans) = match plan(&state, &grant, &headers).await? {
        Plan::NotModified => return Ok(not_modified_response(&grant.cid)),
        Plan::Bytes {
            range,
            samples,
            spans,
        } => (range, samples, spans),
    };
    let body = if grant.size == 0 {
        Body::empty()
    } else {
        let (first, last) = range.unwrap_or((0, grant.size - 1));
        let options = GetOptions {
            range: Some(GetRange::Bounded(first..last + 1)),
            ..GetOptions::default()
        };
        let found = state
            .blobs
            .store
            .get_opts(&state.blobs.shard(&grant.cid), options)
            .await
            .map_err(|e| ApiError::internal("reading a shard", e))?;
        let charge = match spans.sample_range(first, last) {
            None => None,
            Some(covered) => {
                let (price, share_rate) = buyers::terms(&grant.price, &grant.share_rate)?;
                Some(Access {
                    token_id: grant.claims.token_id.clone(),
                    entitlement_id: grant.claims.entitlement.clone(),
                    buyer_id: grant.claims.buyer.clone(),
                    creator: grant.creator.clone(),
                    dataset_id: grant.claims.dataset.clone(),
                    version_id: grant.claims.version.clone(),
                    shard: grant.cid.clone(),
                    requested: ByteRange { first, last },
                    samples: covered,
                    spans: spans.clone(),
                    price,
                    currency: grant.currency.clone(),
                    share_rate,
                })
            }
        };
        Body::from_stream(metered(
            shard_stream(found),
            last - first + 1,
            charge.map(|access| Charge {
                meter: state.meter.clone(),
                access,
            }),
        ))
    };
    Ok(bytes_response(&grant, range, samples, body))
}

/// What a GET would send, without the bytes: free.
#[utoipa::path(head, path = "/v1/shards/{cid}", tag = "access",
    security(("bearer" = [])),
    params(
        ("cid" = String, Path, description = "The shard's CID"),
        ("Range" = Option<String>, Header, description = "One range, as for GET"),
    ),
    responses(
        (status = 200, description = "The headers a GET would send; never charged"),
        (status = 206, description = "The headers a GET of that range would send; never charged"),
        (status = 304, description = "If-None-Match named the ETag"),
        (status = 401, description = "No access token, or one forged, expired or unknown"),
        (status = 403, description = "Not a shard of the token's version, or access refused"),
        (status = 416, description = "Past the end, or more than one range"),
    ))]
async fn head_shard(
    State(state): State<AppState>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let grant = authorize(&state, &cid, &headers).await?;
    match plan(&state, &grant, &headers).await? {
        Plan::NotModified => Ok(not_modified_response(&grant.cid)),
        Plan::Bytes { range, samples, .. } => {
            Ok(bytes_response(&grant, range, samples, Body::empty()))
        }
    }
}

/// The bytes of `found`: read from a local file in chunks of [`FILE_CHUNK_BYTES`] with `pread`,
/// or as the store streams them (S3).
fn shard_stream(found: GetResult) -> BoxStream<'static, object_store::Result<Bytes>> {
    let range = found.range.clone();
    match found.payload {
        GetResultPayload::Stream(stream) => stream,
        GetResultPayload::File(file, path) => {
            let file = std::sync::Arc::new(file);
            futures_util::stream::try_unfold(range.start, move |at| {
                let (file, path) = (file.clone(), path.clone());
                let end = range.end;
                async move {
                    if at >= end {
                        return Ok(None);
                    }
                    let length = (end - at).min(FILE_CHUNK_BYTES);
                    let chunk = tokio::task::spawn_blocking(move || {
                        use std::os::unix::fs::FileExt as _;
                        let mut buffer = vec![0; usize::try_from(length).unwrap_or(0)];
                        file.read_exact_at(&mut buffer, at)
                            .map(|()| Bytes::from(buffer))
                            .map_err(|e| object_store::Error::Generic {
                                store: "LocalFileSystem",
                                source: format!("reading {}: {e}", path.display()).into(),
                            })
                    })
                    .await
                    .map_err(|e| object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: Box::new(e),
                    })??;
                    Ok(Some((chunk, at + length)))
                }
            })
            .boxed()
        }
    }
}

/// The state of a metered body.
struct Metered {
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    /// The chunk read but not yet sent: the last one waits for the receipt.
    held: Option<Bytes>,
    /// Bytes still expected from the store.
    remaining: u64,
    /// Bytes handed to the connection so far.
    sent: u64,
    charge: Option<Charge>,
    done: bool,
}

/// What a metered body charges.
struct Charge {
    meter: Meter,
    access: Access,
}

/// How often a late charge (of a response cut short) is tried before it is given up, logged.
const LATE_CHARGE_TRIES: u32 = 5;

impl Drop for Metered {
    /// A response cut short (the client left, the store or the final charge failed) is charged for
    /// the samples whose bytes it handed to the connection: the meter bills them after the fact,
    /// so leaving early never takes a sample free. Samples the token paid for already (the
    /// completed charge raced with this one, a retry) are not billed again.
    fn drop(&mut self) {
        let Some(Charge { meter, mut access }) = self.charge.take() else {
            return;
        };
        if self.sent == 0 {
            return;
        }
        let last = access.requested.first + self.sent - 1;
        let Some(sent) = access.spans.sample_range(access.requested.first, last) else {
            return;
        };
        access.samples = sent;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                for attempt in 1..=LATE_CHARGE_TRIES {
                    // A failure is logged by ApiError::internal; try again a little later.
                    if meter.charge(access.clone()).await.is_ok() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1 << attempt)).await;
                }
            });
        }
    }
}

/// `inner`'s bytes (exactly `length` of them), holding back the last chunk until `charge` (if
/// any) is committed; ends with an error instead when the store or the meter fails.
fn metered(
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    length: u64,
    charge: Option<Charge>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let start = Metered {
        inner,
        held: None,
        remaining: length,
        sent: 0,
        charge,
        done: false,
    };
    futures_util::stream::unfold(start, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            match s.inner.next().await {
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => {
                    if chunk.len() as u64 > s.remaining {
                        s.done = true;
                        let e =
                            ApiError::internal("reading a shard", "the store sent too many bytes");
                        return Some((Err(std::io::Error::other(e)), s));
                    }
                    s.remaining -= chunk.len() as u64;
                    if let Some(previous) = s.held.replace(chunk) {
                        s.sent += previous.len() as u64;
                        return Some((Ok(previous), s));
                    }
                }
                Some(Err(e)) => {
                    s.done = true;
                    let e = ApiError::internal("reading a shard", e);
                    return Some((Err(std::io::Error::other(e)), s));
                }
                None => {
                    s.done = true;
                    if s.remaining != 0 {
                        let e =
                            ApiError::internal("reading a shard", "the store sent too few bytes");
                        return Some((Err(std::io::Error::other(e)), s));
                    }
                    // The charge stays in `s` while it is made: if it fails, or the client leaves
                    // meanwhile, `Drop` charges what was sent (each sample once per token).
                    if let Some(charge) = &s.charge {
                        let (meter, access) = (charge.meter.clone(), charge.access.clone());
                        if let Err(e) = meter.charge(access).await {
                            return Some((Err(std::io::Error::other(e)), s));
                        }
                    }
                    s.charge = None;
                    return s.held.take().map(|last| (Ok(last), s));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_range_is_read() {
        let r = |v: &str| parse_range(Some(v), 1000);
        assert_eq!(parse_range(None, 1000), Ok(None));
        assert_eq!(r("bytes=0-99"), Ok(Some((0, 99))));
        assert_eq!(r("bytes=900-"), Ok(Some((900, 999))));
        assert_eq!(r("bytes=-100"), Ok(Some((900, 999))));
        assert_eq!(r("bytes=-5000"), Ok(Some((0, 999))));
        assert_eq!(r("bytes=990-5000"), Ok(Some((990, 999))));
        assert_eq!(r("Bytes = 1-2"), Ok(Some((1, 2))));
        assert_eq!(r("items=0-1"), Ok(None), "another unit is ignored");
        assert_eq!(r("bytes=1000-"), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=-0"), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=0-1,5-6"), Err(RangeError::Several));
        for bad in [
            "bytes=",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "0-1",
            "bytes=1",
        ] {
            assert_eq!(r(bad), Err(RangeError::Malformed), "{bad}");
        }
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            Err(RangeError::Unsatisfiable)
        );
    }
}
