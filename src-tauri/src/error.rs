//! The one error shape that crosses IPC: `{ code, message }`, with a small closed set of codes.
//!
//! The UI branches on `code` only (never on message text) and shows `message` to the creator.

use serde::Serialize;
use ts_rs::TS;

/// What kind of failure, for the UI to branch on. Add a code only when the UI needs to tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The named file or folder does not exist.
    NotFound,
    /// The input has the wrong shape (a file where a folder is needed, an empty path, …).
    InvalidInput,
    /// The OS refused access.
    PermissionDenied,
    /// The creator cancelled the job.
    Cancelled,
    /// The source changed while or since it was read; sealing again fixes it.
    Changed,
    /// A file Hallmark keeps is damaged.
    Damaged,
    /// Reading or writing failed.
    Io,
    /// No OS keyring is reachable; the UI offers a key file instead.
    NoKeyring,
    /// The marketplace cannot be reached; what is stored is shown, marked offline.
    Offline,
    /// The marketplace's key is not the one pinned when the creator joined: nothing was sent.
    MarketplaceChanged,
    /// The marketplace refused or answered what Hallmark cannot use.
    Refused,
    /// A bug in Hallmark.
    Internal,
}

/// An error as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct IpcError {
    pub code: ErrorCode,
    /// A sentence for the creator that names the thing and the fix.
    pub message: String,
}

impl IpcError {
    /// A failure that is Hallmark's fault, not the creator's.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: format!("internal error: {err}; please report it"),
        }
    }
}

impl From<hallmark_core::Error> for IpcError {
    fn from(err: hallmark_core::Error) -> Self {
        use hallmark_core::ErrorKind as K;
        let code = match err.kind() {
            K::NotFound => ErrorCode::NotFound,
            K::InvalidInput => ErrorCode::InvalidInput,
            K::PermissionDenied => ErrorCode::PermissionDenied,
            K::Cancelled => ErrorCode::Cancelled,
            K::Damaged => ErrorCode::Damaged,
            K::Changed => ErrorCode::Changed,
            K::Io => ErrorCode::Io,
            _ => ErrorCode::Internal,
        };
        Self {
            code,
            message: err.to_string(),
        }
    }
}

impl From<hallmark_core::keys::KeyError> for IpcError {
    fn from(err: hallmark_core::keys::KeyError) -> Self {
        use hallmark_core::keys::KeyError as K;
        // The core's messages name CLI commands; the app says what to do on its screens.
        let (code, message) = match &err {
            K::NoKeyring { detail } => (
                ErrorCode::NoKeyring,
                format!(
                    "Hallmark cannot open your keyring ({detail}). If it is locked, unlock it (your \
                     system may ask for your login password), then try again."
                ),
            ),
            K::NotFound { did } => (
                ErrorCode::NotFound,
                format!(
                    "There is no identity {did} in your keyring. Restore it from its backup in Settings."
                ),
            ),
            K::NoKeys => (
                ErrorCode::NotFound,
                "There is no identity yet. Create one in Settings.".to_owned(),
            ),
            K::WhichKey { count } => (
                ErrorCode::InvalidInput,
                format!("There are {count} identities in your keyring; choose the one to use."),
            ),
            K::WrongPassphrase { .. }
            | K::NotABackup { .. }
            | K::PassphraseTooShort
            | K::EmptyPassphrase { .. } => (ErrorCode::InvalidInput, err.to_string()),
            // Another Hallmark held the keyring for a minute: worth trying again, like an I/O failure.
            K::Locked { .. } => (ErrorCode::Io, err.to_string()),
            _ => (ErrorCode::Internal, err.to_string()),
        };
        Self { code, message }
    }
}

impl From<hallmark_client::ClientError> for IpcError {
    fn from(err: hallmark_client::ClientError) -> Self {
        use hallmark_client::ClientError as C;
        let code = match &err {
            C::Unreachable { .. } => ErrorCode::Offline,
            C::IdentityChanged { .. } => ErrorCode::MarketplaceChanged,
            C::BadUrl { .. } => ErrorCode::InvalidInput,
            C::File { .. } => ErrorCode::Io,
            _ => ErrorCode::Refused,
        };
        Self {
            code,
            message: err.to_string(),
        }
    }
}

impl From<hallmark_client::earnings::EarningsError> for IpcError {
    fn from(err: hallmark_client::earnings::EarningsError) -> Self {
        use hallmark_client::earnings::EarningsError as E;
        match err {
            E::Client(e) => e.into(),
            E::OtherMarketplace { .. } => Self {
                code: ErrorCode::MarketplaceChanged,
                message: err.to_string(),
            },
            E::Store(_) => Self {
                code: ErrorCode::Damaged,
                message: err.to_string(),
            },
            _ => Self {
                code: ErrorCode::Refused,
                message: err.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_code_and_message() {
        let err = IpcError::from(hallmark_core::Error::NotAFolder {
            path: "/w/photo.jpg".into(),
        });
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({
                "code": "invalid_input",
                "message": "not a folder: /w/photo.jpg; pick the folder that holds your work, not a single file"
            })
        );
        let cancelled = IpcError::from(hallmark_core::Error::Cancelled);
        assert_eq!(
            serde_json::to_value(&cancelled).unwrap()["code"],
            "cancelled"
        );
    }
}
