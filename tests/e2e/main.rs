//! End-to-end tests: the real app, in the real webview, driven by tauri-driver under Xvfb.

// A test binary: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod accessibility;
mod earnings;
mod identity;
mod library;
mod navigation;
mod open_folder;
mod publish;
mod review;
mod seal;
mod settings;
mod terms;
