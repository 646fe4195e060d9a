//! The creator's terms for AI uses: chosen in the seal form, shown after sealing, and a reseal that
//! changes the dataset asks for a new signature in plain words.

use std::path::Path;

use hallmark_tests::App;

/// The uses in the order the form and the summary list them, with the answers this test gives.
const TERMS: [(&str, &str, &str); 4] = [
    ("aiTraining", "allowed", "AI training: Allowed"),
    (
        "aiGenerativeTraining",
        "not_allowed",
        "Generative AI training: Not allowed",
    ),
    (
        "aiInference",
        "constrained",
        "AI inference: Allowed with conditions",
    ),
    ("dataMining", "allowed", "Data mining: Allowed"),
];
const CONDITIONS: &str = "Credit me by name in the model card.";

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("croissant.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn terms_are_chosen_sealed_and_shown_and_a_changed_reseal_asks_to_sign_again() {
    let folder = tempfile::Builder::new()
        .prefix("sketches-")
        .tempdir()
        .unwrap();
    for i in 0..4 {
        std::fs::write(
            folder.path().join(format!("sketch{i}.txt")),
            format!("sketch {i}"),
        )
        .unwrap();
    }
    let root = folder.path().canonicalize().unwrap();
    let other = tempfile::Builder::new().prefix("other-").tempdir().unwrap();
    std::fs::write(other.path().join("note.txt"), "another folder").unwrap();

    let app = App::launch_first_run().await.unwrap();
    app.fill("[data-testid=first-run-name]", "Ana Example")
        .await
        .unwrap();
    app.click("[data-testid=first-run-create]").await.unwrap();
    let did = app
        .wait_attr("[data-testid=first-run-identity]", "data-did", |d| {
            !d.is_empty()
        })
        .await
        .unwrap();
    app.click("[data-testid=first-run-done]").await.unwrap();

    app.open_folder(&root).await.unwrap();
    app.fill("[data-testid=seal-creator]", "Ana Example")
        .await
        .unwrap();
    // Nothing is chosen for the creator: sealing is refused until every use has an answer.
    for (use_, _, _) in TERMS {
        let chosen = app
            .wait_attr(&format!("[data-testid=term-{use_}]"), "data-chosen", |_| {
                true
            })
            .await
            .unwrap();
        assert_eq!(chosen, "", "{use_} is answered before the creator chose");
    }
    app.click("[data-testid=seal-dataset]").await.unwrap();
    assert_eq!(
        app.text("[data-testid=seal-error]").await.unwrap(),
        "Before sealing, add your answer for each use of your work."
    );
    app.scroll_to("[data-testid=seal-terms]").await.unwrap();
    app.screenshot("terms-required").await.unwrap();

    let answers: Vec<(&str, &str)> = TERMS.iter().map(|(u, a, _)| (*u, *a)).collect();
    app.choose_terms(&answers[..3]).await.unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    app.wait_text("[data-testid=seal-error]", |t| {
        t == "Before sealing, add your answer for Data mining and your conditions."
    })
    .await
    .unwrap();
    app.choose_terms(&answers[3..]).await.unwrap();
    // "With conditions" asks for them.
    app.fill("[data-testid=seal-constraints]", CONDITIONS)
        .await
        .unwrap();
    // A license typo comes back in the core's words, with the fix.
    app.fill("[data-testid=seal-license]", "cc-by-4")
        .await
        .unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    let typo = app
        .wait_text("[data-testid=seal-error]", |t| t.contains("SPDX"))
        .await
        .unwrap();
    assert!(typo.contains("did you mean CC-BY-4.0?"), "{typo}");
    app.fill("[data-testid=seal-license]", "cc-by-4.0")
        .await
        .unwrap();
    app.scroll_to("[data-testid=seal-terms]").await.unwrap();
    app.screenshot("terms-chosen").await.unwrap();

    app.click("[data-testid=seal-dataset]").await.unwrap();
    let out = app
        .wait_attr("[data-testid=sealed-dataset]", "data-out", |v| {
            !v.is_empty()
        })
        .await
        .unwrap();
    let out = Path::new(&out);
    // The summary states the terms in words, as the manifest records them.
    let rows = app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=sealed-term]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    for (row, (use_, answer, words)) in rows.iter().zip(TERMS) {
        assert_eq!(row.attr("data-use").await.unwrap().as_deref(), Some(use_));
        assert_eq!(
            row.attr("data-permission").await.unwrap().as_deref(),
            Some(answer)
        );
        assert_eq!(row.text().await.unwrap(), words);
    }
    assert_eq!(
        app.text("[data-testid=sealed-constraints]").await.unwrap(),
        format!("Your conditions: {CONDITIONS}")
    );
    assert_eq!(
        app.text("[data-testid=sealed-license]").await.unwrap(),
        "CC-BY-4.0"
    );
    let consent = &manifest(out)["hallmark:consent"];
    assert_eq!(
        consent,
        &serde_json::json!({
            "aiTraining": "allowed", "aiGenerativeTraining": "notAllowed",
            "aiInference": "constrained", "dataMining": "allowed", "constraints": CONDITIONS
        })
    );
    app.wait_attr("[data-testid=signature]", "data-state", |v| v == "unsigned")
        .await
        .unwrap();
    app.scroll_to("[data-testid=sealed-terms]").await.unwrap();
    app.screenshot("terms-sealed").await.unwrap();

    app.click("[data-testid=sign-dataset]").await.unwrap();
    app.wait_attr("[data-testid=verdict]", "data-signed", |v| v == "true")
        .await
        .unwrap();
    assert!(out.join("credential.json").is_file());

    // A changed file, sealed again: the old signature is set aside and the page says so in words.
    std::fs::write(root.join("sketch2.txt"), "sketch 2, redrawn").unwrap();
    app.wait_attr("[data-testid=sealed-changes]", "data-total", |v| v == "1")
        .await
        .unwrap();
    app.click("[data-testid=seal-dataset]").await.unwrap();
    app.wait_attr("[data-testid=signature]", "data-state", |v| {
        v == "signed_for_earlier_seal"
    })
    .await
    .unwrap();
    // The words, with the Sign button right there.
    assert_eq!(
        app.text("[data-testid=signature] [data-testid=sign-again]")
            .await
            .unwrap(),
        "Signed for an earlier seal — sign again"
    );
    app.find("[data-testid=signature] [data-testid=sign-dataset]")
        .await
        .unwrap();
    assert!(!out.join("credential.json").exists());
    assert!(out.join(".hallmark/stale-credential.json").is_file());
    // Verifying says the same, once, and lists no digests.
    app.click("[data-testid=verify-dataset]").await.unwrap();
    app.wait_attr("[data-testid=signature]", "data-verdict", |v| {
        v == "signed_for_earlier_seal"
    })
    .await
    .unwrap();
    assert_eq!(
        app.text("[data-testid=sign-again]").await.unwrap(),
        "Signed for an earlier seal — sign again"
    );
    let verdicts = app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=verdict]"))
        .await
        .unwrap();
    assert!(
        verdicts.is_empty(),
        "the verdict repeats the notice or lists differences"
    );
    app.scroll_to("[data-testid=signature]").await.unwrap();
    app.screenshot("terms-sign-again").await.unwrap();

    app.click("[data-testid=sign-dataset]").await.unwrap();
    app.wait_attr("[data-testid=signature]", "data-state", |v| v == "signed")
        .await
        .unwrap();
    assert_eq!(
        app.text("[data-testid=verdict]").await.unwrap(),
        format!("Valid: signed by {did}, and every file matches what was signed.")
    );
    assert!(out.join("credential.json").is_file());
    assert!(!out.join(".hallmark/stale-credential.json").exists());
    app.scroll_to("[data-testid=signature]").await.unwrap();
    app.screenshot("terms-signed-again").await.unwrap();

    // Another folder starts with nothing chosen; coming back fills in what this one was sealed with.
    app.open_folder(other.path()).await.unwrap();
    app.wait_attr("[data-testid=term-aiInference]", "data-chosen", |v| {
        v.is_empty()
    })
    .await
    .unwrap();
    app.open_folder(&root).await.unwrap();
    app.find("[data-testid=seal-previous]").await.unwrap();
    for (use_, answer, _) in TERMS {
        app.wait_attr(&format!("[data-testid=term-{use_}]"), "data-chosen", |v| {
            v == answer
        })
        .await
        .unwrap();
    }
    let conditions = app
        .find("[data-testid=seal-constraints]")
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(conditions.as_deref(), Some(CONDITIONS));
    app.scroll_to("[data-testid=seal-previous]").await.unwrap();
    app.screenshot("terms-prefilled").await.unwrap();
    app.close().await.unwrap();
}
