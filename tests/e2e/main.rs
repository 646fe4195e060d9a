//! End-to-end tests: the real app, in the real webview, driven by tauri-driver under Xvfb.

mod navigation;
mod open_folder;
