//! The app's IPC commands, one module per screen area. Each command calls one core function.

pub mod folder;
pub mod identity;
pub mod seal;
