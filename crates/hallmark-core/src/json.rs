//! Placeholder for strict JSON parsing of untrusted documents (replaced by the verification work).

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

/// Parses `bytes` as JSON if it is at most `max_bytes` long.
pub fn from_slice(bytes: &[u8], max_bytes: usize) -> Result<serde_json::Value, JsonError> {
    if bytes.len() > max_bytes {
        return Err(JsonError(format!("it is more than {max_bytes} bytes")));
    }
    serde_json::from_slice(bytes).map_err(|e| JsonError(e.to_string()))
}
