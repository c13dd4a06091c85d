//! The summary of a record: identity and stay, the latest GIR, the plan in force and the latest
//! notes, each filtered by what the reader may see; one recorded read.

use dui_domain::people::Role;
use serde_json::json;

use crate::assessments::grid;
use crate::residents::{admit, identity};

#[tokio::test]
async fn the_summary_shows_what_the_reader_may_see_and_is_recorded_once() {
    let app = dui_testkit::TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let other = app.tenant("Beta").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Sommaire", "Jeanne", "1933-05-06")})).await;
    let id = admitted.json["id"].as_str().unwrap().to_owned();
    let record = format!("/api/v1/residents/{id}");
    let summary = format!("{record}/summary");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let physician = app.user(&tenant, &[(Some(ehpad), Role::CoordinatingPhysician)]).await;

    // A new record: no GIR, no plan, no notes.
    let empty = app.get(&summary, &nurse.token).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json["resident"]["identity"]["birth_name"], "Sommaire");
    assert_eq!(empty.json["resident"]["current_stay"]["establishment_id"], json!(ehpad));
    assert!(empty.json["gir"].is_null() && empty.json["care_plan"].is_null());
    assert_eq!(empty.json["last_notes"], json!([]));

    // Notes in several scopes, one flagged in error; a draft and then a validated AGGIR.
    for (text, scope) in [("Première", "whole_team"), ("Médicale", "medical"), ("Erreur", "whole_team")] {
        let note = app.post(&format!("{record}/notes"), &nurse.token, json!({"text": text, "scope": scope})).await;
        assert_eq!(note.status, 201, "{}", note.text);
        if text == "Erreur" {
            let flagged = app
                .post(
                    &format!("{record}/notes/{}/entered-in-error", note.json["id"].as_str().unwrap()),
                    &nurse.token,
                    json!({"reason": "Mauvais résident"}),
                )
                .await;
            assert_eq!(flagged.status, 200, "{}", flagged.text);
        }
    }
    for (code, validate) in [("A", true), ("C", false)] {
        let assessment = app
            .post(
                &format!("{record}/assessments"),
                &nurse.token,
                json!({"instrument": "aggir", "assessed_on": "2026-11-02", "answers": grid(code)}),
            )
            .await;
        assert_eq!(assessment.status, 201, "{}", assessment.text);
        if validate {
            let one = format!("{record}/assessments/{}", assessment.json["id"].as_str().unwrap());
            let etag = assessment.header("etag").unwrap().to_owned();
            let done = app
                .request_with(
                    reqwest::Method::POST,
                    &format!("{one}/validate"),
                    Some(&physician.token),
                    None,
                    &[("If-Match", &etag)],
                )
                .await;
            assert_eq!(done.status, 200, "{}", done.text);
        }
    }

    let read = app.get(&format!("{summary}?notes=10"), &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let texts: Vec<&str> =
        read.json["last_notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Médicale", "Première"], "newest first, without the note entered in error");
    assert_eq!(read.json["gir"]["gir"], 6, "the validated grid (all A), not the draft: {}", read.text);

    // A social worker reads neither medical notes nor the care team's assessment.
    let social = app.get(&summary, &assistant.token).await;
    assert_eq!(social.status, 200, "{}", social.text);
    let texts: Vec<&str> =
        social.json["last_notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Première"]);
    assert!(social.json["gir"].is_null(), "{}", social.text);

    // A limit, its bound, and nobody else's record.
    let one = app.get(&format!("{summary}?notes=1"), &nurse.token).await;
    assert_eq!(one.json["last_notes"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&format!("{summary}?notes=21"), &nurse.token).await.problem(422)["errors"][0]["field"], "notes");
    app.get(&format!("{summary}?notes=x"), &nurse.token).await.problem(400);
    app.get(&summary, &other.admin.token).await.problem(404);
    let stranger = app.user(&tenant, &[(Some(tenant.establishments[1].id), Role::Nurse)]).await;
    app.get(&summary, &stranger.token).await.problem(404);

    // Each summary is one read of the record in the trail; the refusal is recorded too.
    let owner = app.db.connect(&app.db.owner_url).await;
    owner.execute("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
    let rows = owner
        .query(
            "SELECT outcome, count(*) FROM audit_events WHERE action = 'resident.summary' AND resident_id = $1::text::uuid \
             GROUP BY outcome ORDER BY outcome",
            &[&id],
        )
        .await
        .unwrap();
    let counts: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(counts, [("denied".to_owned(), 1), ("success".to_owned(), 4)]);
}
