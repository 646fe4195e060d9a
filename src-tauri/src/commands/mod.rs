//! The app's IPC commands, one module per screen area. Each command calls one core function.

pub mod earnings;
pub mod folder;
pub mod identity;
pub mod publish;
pub mod review;
pub mod seal;
pub mod settings;

/// Seconds since the Unix epoch, for the app's own lists.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The current time as an RFC 3339 UTC date-time; the shell reads the clock, the core never does.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
