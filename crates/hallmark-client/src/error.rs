//! Why a call to a marketplace failed: a bad address, no answer, the server's own `{code, message}`,
//! an answer that cannot be read, or a marketplace that is not the one the creator joined.

use hallmark_core::creator::CredentialError;
use hallmark_core::integrity::ProofError;

/// What went wrong talking to a marketplace. Each message names the marketplace and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address typed is not an http(s) origin.
    #[error(
        "{url:?} is not a marketplace address: {problem} (for example https://market.example or http://127.0.0.1:8787)"
    )]
    BadUrl { url: String, problem: String },

    /// No HTTP answer at all: refused connection, DNS, TLS, timeout.
    #[error("cannot reach {url}: {detail}; is hallmark-market running at {origin}?")]
    Unreachable {
        origin: String,
        url: String,
        detail: String,
    },

    /// The marketplace answered with an error of its own.
    #[error("{origin} refused ({status} {code}): {message}")]
    Refused {
        origin: String,
        /// The HTTP status.
        status: u16,
        /// The server's stable code (`unauthorized`, `not_registered`, …).
        code: String,
        message: String,
    },

    /// An answer that is not what a Hallmark marketplace sends (wrong shape, too large, a redirect).
    #[error(
        "{url} answered {status} with something Hallmark cannot use: {detail}; is it a Hallmark marketplace?"
    )]
    BadResponse {
        url: String,
        status: u16,
        detail: String,
    },

    /// The marketplace at this origin has another key than the one pinned when the creator joined.
    #[error(
        "the marketplace's identity changed: {origin} is now {found}, but you joined {pinned}; \
         this is a different marketplace (or someone in between), so nothing was sent to it; \
         if its operator really replaced its key, join it again"
    )]
    IdentityChanged {
        origin: String,
        pinned: String,
        found: String,
    },

    /// The sign-in challenge is for another domain: signing it would let this server relay the
    /// presentation there and sign in as the creator.
    #[error(
        "{origin} asked for a sign-in to {domain}, not to itself; refused, as a relay to another \
         marketplace would do (if {domain} is the marketplace you mean, use that address, or ask \
         its operator to set --public-url {origin})"
    )]
    WrongDomain { origin: String, domain: String },

    /// A creator credential the marketplace sent does not check out.
    #[error("the creator credential from {origin} is refused: {source}")]
    Credential {
        origin: String,
        #[source]
        source: CredentialError,
    },

    /// A call that needs a session was made before signing in.
    #[error("not signed in to {origin}; sign in first")]
    NotSignedIn { origin: String },

    /// A local file to send cannot be read.
    #[error("cannot read {}: {detail}; check that the file is there and readable", path.display())]
    File {
        path: std::path::PathBuf,
        detail: String,
    },

    /// The presentation could not be signed (a `now` that is not RFC 3339, for example).
    #[error("cannot sign the sign-in presentation: {0}")]
    Sign(#[from] ProofError),
}

impl ClientError {
    /// Whether the caller gave something unusable (as opposed to a failure along the way).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ClientError::BadUrl { .. })
    }

    /// The server's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}
