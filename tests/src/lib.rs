//! Harness for end-to-end tests: launches the built app under tauri-driver and opens a WebDriver session.
//!
//! Each [`App`] gets its own driver ports and its own empty XDG data, config and cache folders, so
//! tests never see a creator's real state or each other's. Waits are on conditions, never fixed sleeps.

pub mod market;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// How long a condition may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);
/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// The running app, driven over WebDriver.
#[derive(Debug)]
pub struct App {
    pub client: Client,
    driver: Driver,
    /// The app's XDG folders; removed when the test ends.
    pub home: tempfile::TempDir,
    /// The keyring service the app keeps its keys under (the CLI shares it through
    /// `HALLMARK_KEYRING_SERVICE`).
    pub keyring_service: String,
}

/// The target folder Cargo builds into (`…/target/debug`), found from the test binary's own path.
pub fn build_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/e2e-<hash> → target/debug
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("cannot find the build folder from the test binary's path")
}

/// The app binary under test: `$HALLMARK_APP`, or the one built next to this test.
pub fn app_binary() -> Result<PathBuf> {
    built_binary(
        "hallmark-app",
        "HALLMARK_APP",
        "npm --prefix ui run build && cargo build -p hallmark-app --features custom-protocol",
    )
}

/// The binary `name` under test: the path in the environment variable `env`, or the one built
/// next to this test (`build` is the command that builds it, for the error).
pub fn built_binary(name: &str, env: &str, build: &str) -> Result<PathBuf> {
    let path = match std::env::var_os(env) {
        Some(p) => PathBuf::from(p),
        None => build_dir()?.join(name),
    };
    if !path.is_file() {
        bail!(
            "the binary {} is missing; build it with `{build}` (scripts/test does this) or set {env}",
            path.display()
        );
    }
    Ok(path)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl App {
    /// Starts the app and passes its first-run screen ("Not now"), ready on the Datasets screen.
    pub async fn launch() -> Result<App> {
        let app = Self::launch_first_run().await?;
        let first = app
            .find("[data-testid=first-run-later], [data-testid=folder-path]")
            .await?;
        if first.attr("data-testid").await?.as_deref() == Some("first-run-later") {
            first.click().await?;
            app.find("[data-testid=folder-path]").await?;
        }
        Ok(app)
    }

    /// Starts tauri-driver, which starts WebKitWebDriver, which starts the app, with a keyring
    /// service of its own (so no key from another test or from the creator is visible).
    pub async fn launch_first_run() -> Result<App> {
        let home = tempfile::tempdir()?;
        let keyring_service = format!(
            "studio.hallmark.e2e.{}.{}",
            std::process::id(),
            free_port()?
        );
        Self::start(home, keyring_service, &[]).await
    }

    /// Starts the app with no reachable keyring (its D-Bus session address leads nowhere), as on a
    /// machine whose keyring is locked or whose unlock prompt was dismissed.
    pub async fn launch_without_keyring() -> Result<App> {
        let home = tempfile::tempdir()?;
        let keyring_service = format!(
            "studio.hallmark.e2e.{}.{}",
            std::process::id(),
            free_port()?
        );
        let nowhere = format!("unix:path={}", home.path().join("no-bus").display());
        Self::start(
            home,
            keyring_service,
            &[("DBUS_SESSION_BUS_ADDRESS", &nowhere)],
        )
        .await
    }

    /// Starts the app for the first time and creates the identity `name` on its first-run screen,
    /// ready on the Datasets screen.
    pub async fn launch_with_identity(name: &str) -> Result<App> {
        let app = Self::launch_first_run().await?;
        app.fill("[data-testid=first-run-name]", name).await?;
        app.click("[data-testid=first-run-create]").await?;
        app.click("[data-testid=first-run-done]").await?;
        app.find("[data-testid=folder-path]").await?;
        Ok(app)
    }

    /// Closes the app and starts it again with the same folders and keyring, as a creator who
    /// quits and comes back.
    pub async fn restart(mut self) -> Result<App> {
        let closed = self.client.clone().close().await;
        self.driver.stop();
        closed?;
        let App {
            home,
            keyring_service,
            ..
        } = self;
        Self::start(home, keyring_service, &[]).await
    }

    async fn start(
        home: tempfile::TempDir,
        keyring_service: String,
        env: &[(&str, &str)],
    ) -> Result<App> {
        if std::env::var_os("DISPLAY").is_none() {
            bail!(
                "no X display: run the end-to-end tests under Xvfb, as scripts/test does (xvfb-run -a …)"
            );
        }
        let app = app_binary()?;
        let port = free_port()?;
        let native_port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.path().join("tauri-driver.log"))?;
        let driver = Driver(Command::new("tauri-driver")
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("NO_AT_BRIDGE", "1")
            .env("GTK_A11Y", "none")
            .env("HALLMARK_KEYRING_SERVICE", &keyring_service)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start tauri-driver; install it with `cargo install tauri-driver --locked --version 2.1.0` (scripts/setup does this)")?);
        // If the session cannot open, dropping `driver` stops it.
        let client = connect(port, &app).await?;
        Ok(App {
            client,
            driver,
            home,
            keyring_service,
        })
    }

    /// Hallmark's data folder as the app sees it (shared with the CLI).
    pub fn data_dir(&self) -> PathBuf {
        self.home.path().join("data/studio.hallmark.desktop")
    }

    /// Finds one element by CSS selector, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("no element matches {css} within {WAIT:?}"))
    }

    /// Waits until the element at `css` has an attribute `name` that satisfies `ok`, and returns it.
    pub async fn wait_attr(
        &self,
        css: &str,
        name: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(Some(value)) = el.attr(name).await
            {
                if ok(&value) {
                    return Ok(value);
                }
                last = Some(value);
            }
            tokio::time::sleep(POLL).await;
        }
        bail!("{css} [{name}] did not reach the expected value within {WAIT:?}; last seen {last:?}")
    }

    /// Types `text` into the input at `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let input = self.find(css).await?;
        input.clear().await?;
        input.send_keys(text).await?;
        Ok(())
    }

    /// Opens a folder the way a creator types it: the path in the field, then Open.
    pub async fn open_folder(&self, path: &Path) -> Result<()> {
        self.fill("[data-testid=folder-path]", &path.to_string_lossy())
            .await?;
        self.click("[data-testid=open-folder]").await
    }

    /// Answers the seal form's question for each use of the work: pairs of (use, answer) as the
    /// form's test ids name them, such as `("aiTraining", "allowed")`.
    pub async fn choose_terms(&self, answers: &[(&str, &str)]) -> Result<()> {
        for (use_, answer) in answers {
            self.click(&format!("[data-testid=term-{use_}-{answer}]"))
                .await?;
        }
        Ok(())
    }

    /// The text of the element at `css`, waiting for it to appear.
    pub async fn text(&self, css: &str) -> Result<String> {
        Ok(self.find(css).await?.text().await?)
    }

    /// Waits until the text of the element at `css` satisfies `ok`, and returns it.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = el.text().await
            {
                if ok(&text) {
                    return Ok(text);
                }
                last = Some(text);
            }
            tokio::time::sleep(POLL).await;
        }
        bail!(
            "the text of {css} did not reach the expected value within {WAIT:?}; last seen {last:?}"
        )
    }

    /// Scrolls the element at `css` to the middle of the window (before a screenshot).
    pub async fn scroll_to(&self, css: &str) -> Result<()> {
        self.find(css).await?;
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
                vec![serde_json::json!(css)],
            )
            .await?;
        Ok(())
    }

    /// Whether the element at `css` is inside the window's visible area (not below the fold).
    pub async fn in_view(&self, css: &str) -> Result<bool> {
        self.find(css).await?;
        let seen = self
            .client
            .execute(
                "const r = document.querySelector(arguments[0]).getBoundingClientRect();
                 return r.top >= 0 && r.bottom <= window.innerHeight;",
                vec![serde_json::json!(css)],
            )
            .await?;
        Ok(seen.as_bool().unwrap_or(false))
    }

    /// Clicks the element at `css`.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.find(css).await?.click().await?;
        Ok(())
    }

    /// The WCAG 2 A and AA rules axe-core finds broken on the page as it is now: each rule's id,
    /// impact, help and up to five elements. axe-core is the UI's dev dependency
    /// (`ui/node_modules/axe-core`, installed by `npm ci`).
    pub async fn accessibility_violations(&self) -> Result<Vec<serde_json::Value>> {
        let axe =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).with_context(|| {
            format!(
                "cannot read {}; run `npm ci --prefix ui` (scripts/setup does)",
                axe.display()
            )
        })?;
        self.client
            .execute(&format!("{source}\nreturn typeof window.axe;"), vec![])
            .await
            .context("axe-core did not load in the page")?;
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then((r) => done(r.violations.map((v) => ({
                     id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + (n.failureSummary || '')),
                   }))))
                   .catch((e) => done([{ id: 'axe-failed', help: String(e) }]));",
                vec![],
            )
            .await?;
        Ok(found.as_array().cloned().unwrap_or_default())
    }

    /// Saves a PNG of the window as `<build dir>/e2e-screenshots/NAME.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        // WebKit can hand back the last painted frame; wait for images and two frames to be painted.
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 Promise.all([...document.images].map((img) => img.decode().catch(() => null)))
                   .then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));",
                vec![],
            )
            .await
            .context("the page did not settle for a screenshot")?;
        let png = self.client.screenshot().await?;
        let dir = build_dir()?.join("e2e-screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the session and stops the driver (SIGTERM, so it also stops WebKitWebDriver).
    pub async fn close(mut self) -> Result<()> {
        let closed = self.client.clone().close().await;
        self.driver.stop();
        closed?;
        Ok(())
    }
}

/// Terms that answer every use of the work, for tests about something else.
pub const SOME_TERMS: [(&str, &str); 4] = [
    ("aiTraining", "allowed"),
    ("aiGenerativeTraining", "not_allowed"),
    ("aiInference", "not_allowed"),
    ("dataMining", "allowed"),
];

/// The tauri-driver process; stopped with SIGTERM (never SIGKILL, which orphans WebKitWebDriver).
#[derive(Debug)]
struct Driver(Child);

impl Driver {
    fn stop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            if let Ok(pid) = i32::try_from(self.0.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let _ = self.0.wait();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits for the driver's port, then opens a session on the app.
async fn connect(port: u16, app: &Path) -> Result<Client> {
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("tauri-driver did not listen on port {port} within {WAIT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app }),
    );
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .with_context(|| format!("cannot open a WebDriver session on {}", app.display()))
}
