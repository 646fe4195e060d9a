//! The app shell: every area of the studio is one click away and says what it is for.

use hallmark_tests::App;

#[tokio::test]
async fn the_navigation_reaches_every_area() {
    let app = App::launch().await.unwrap();
    for (id, title) in [
        ("publish", "Publish"),
        ("earnings", "Earnings"),
        ("settings", "Settings"),
        ("datasets", "Datasets"),
    ] {
        app.click(&format!("[data-testid=nav-{id}]")).await.unwrap();
        let current = app
            .wait_attr(&format!("[data-testid=nav-{id}]"), "aria-current", |v| {
                v == "page"
            })
            .await
            .unwrap();
        assert_eq!(current, "page");
        let heading = app.find("main h1").await.unwrap().text().await.unwrap();
        assert_eq!(heading, title);
    }
    app.close().await.unwrap();
}
