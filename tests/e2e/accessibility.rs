//! Every screen, in the light and the dark theme, passes axe-core's WCAG 2.1 A and AA rules
//! (contrast included), with a folder opened, reviewed and sealed so the screens show their real
//! content; each is saved as a screenshot in both themes.

use hallmark_tests::{App, SOME_TERMS};

#[tokio::test]
async fn every_screen_passes_the_accessibility_rules_in_both_themes() {
    let folder = tempfile::Builder::new()
        .prefix("studio-")
        .tempdir()
        .unwrap();
    for i in 0..4 {
        std::fs::write(
            folder.path().join(format!("note{i}.txt")),
            format!("note {i}"),
        )
        .unwrap();
    }
    std::fs::write(folder.path().join("copy.txt"), "note 0").unwrap();
    let root = folder.path().canonicalize().unwrap();

    let app = App::launch_with_identity("Ana Example").await.unwrap();
    app.open_folder(&root).await.unwrap();
    app.click("[data-testid=review-folder]").await.unwrap();
    app.wait_attr("[data-testid=review-summary]", "data-total", |t| {
        !t.is_empty()
    })
    .await
    .unwrap();
    app.choose_terms(&SOME_TERMS).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    app.find("[data-testid=sealed-dataset]").await.unwrap();

    let mut failures = Vec::new();
    for theme in ["light", "dark"] {
        app.click("[data-testid=nav-settings]").await.unwrap();
        app.click(&format!("[data-testid=theme-{theme}]"))
            .await
            .unwrap();
        app.wait_attr("html", "data-theme", |t| t == theme)
            .await
            .unwrap();
        for page in ["datasets", "publish", "earnings", "settings"] {
            app.click(&format!("[data-testid=nav-{page}]"))
                .await
                .unwrap();
            app.wait_attr(&format!("[data-testid=nav-{page}]"), "aria-current", |v| {
                v == "page"
            })
            .await
            .unwrap();
            app.screenshot(&format!("{page}-{theme}")).await.unwrap();
            for violation in app.accessibility_violations().await.unwrap() {
                failures.push(format!("{page} ({theme}): {violation}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "accessibility violations:\n{}",
        failures.join("\n")
    );
    app.close().await.unwrap();
}
