//! The projet personnalisé: versions and their lifecycle, reviews, validation by the person,
//! and the due-for-review list.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

fn content(expectations: &str) -> Value {
    json!({
        "expectations": expectations,
        "needs": [{"domain": "autonomy", "text": "Aide pour la toilette"}],
        "objectives": [
            {"domain": "autonomy", "text": "Faire seule la toilette du haut", "target_date": "2027-06-01", "status": "planned"},
            {"domain": "social_life", "text": "Participer à l'atelier jardin", "status": "in_progress"}
        ],
        "actions": [{"what": "Toilette accompagnée", "who": {"role": "care_assistant"}, "frequency": "chaque matin",
                     "schedule": {"kind": "daily", "times": ["08:00"]}}]
    })
}

async fn send_if(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    etag: &str,
    body: Option<Value>,
) -> TestResponse {
    app.request_with(method, path, Some(token), body, &[("If-Match", etag)]).await
}

fn etag(response: &TestResponse) -> String {
    response.header("etag").unwrap_or_else(|| panic!("no ETag: {}", response.text)).to_owned()
}

/// Records that the person validated the plan version at `version` (signed, today as the
/// establishment counts days), and returns the version's new ETag, to activate it with.
pub async fn validated(app: &TestApp, version: &str, token: &str) -> String {
    let today = app.local_today().await;
    let mut last = None;
    // The establishment's day is Paris's, or UTC's in tests that move it.
    for on in [today, chrono::Utc::now().date_naive()] {
        let body = json!({"by": "person", "name": "La personne", "on": on, "method": "signature"});
        let answer = app.post(&format!("{version}/validation"), token, body).await;
        if answer.status == 200 {
            return etag(&answer);
        }
        last = Some(answer.text);
    }
    panic!("the validation was refused: {last:?}");
}

#[tokio::test]
async fn a_plan_is_versioned_reviewed_validated_and_closed() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Projet", "Louise", "1934-07-14")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let plan = format!("{record}/care-plan");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;

    // Care assistants contribute but do not draw the plan up; links must hold.
    app.post(&plan, &assistant.token, json!({"content": content("Rester autonome")})).await.problem(403);
    let mut broken = content("Rester autonome");
    broken["actions"][0]["objective_id"] = json!(uuid::Uuid::now_v7());
    let refused = app.post(&plan, &nurse.token, json!({"content": broken})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "actions[0].objective_id");

    let first = app.post(&plan, &nurse.token, json!({"content": content("Rester autonome")})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!((first.json["version"].as_i64(), first.json["status"].as_str()), (Some(1), Some("draft")));
    let objective = first.json["content"]["objectives"][0]["id"].as_str().unwrap().to_owned();
    assert!(first.json["content"]["actions"][0]["id"].is_string());
    app.post(&plan, &nurse.token, json!({"content": content("Un autre")})).await.problem(409);
    let v1 = format!("{plan}/versions/{}", first.json["id"].as_str().unwrap());

    // The draft changes, then is activated: due for review in twelve months.
    let read = app.get(&v1, &nurse.token).await;
    let mut changed_content = read.json["content"].clone();
    changed_content["expectations"] = json!("Rester autonome et voir ses petits-enfants");
    let changed =
        send_if(&app, Method::PUT, &v1, &nurse.token, &etag(&read), Some(json!({"content": changed_content}))).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["content"]["objectives"][0]["id"], objective.as_str(), "ids stay");
    // Not in force before the person (or their representative) validated it.
    let unvalidated = send_if(&app, Method::POST, &format!("{v1}/activate"), &nurse.token, &etag(&changed), None).await;
    assert!(unvalidated.problem(409)["detail"].as_str().unwrap().contains("not validated"), "{}", unvalidated.text);
    let tag = validated(&app, &v1, &nurse.token).await;
    // A validation lapses when the draft's content changes afterwards: they validated another text.
    let mut other = changed.json["content"].clone();
    other["expectations"] = json!("Rester autonome");
    let rewritten = send_if(&app, Method::PUT, &v1, &nurse.token, &tag, Some(json!({"content": other}))).await;
    assert_eq!(rewritten.status, 200, "{}", rewritten.text);
    assert!(rewritten.json["validation"].is_null(), "{}", rewritten.text);
    send_if(&app, Method::POST, &format!("{v1}/activate"), &nurse.token, &etag(&rewritten), None).await.problem(409);
    // Unchanged content keeps it.
    let tag = validated(&app, &v1, &nurse.token).await;
    let read_again = app.get(&v1, &nurse.token).await;
    let same = send_if(
        &app,
        Method::PUT,
        &v1,
        &nurse.token,
        &tag,
        Some(json!({"content": read_again.json["content"], "review_due_on": null})),
    )
    .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert!(same.json["validation"].is_object(), "{}", same.text);
    let changed = same;
    send_if(&app, Method::POST, &format!("{v1}/activate"), &nurse.token, &etag(&read), None).await.problem(412);
    let active = send_if(&app, Method::POST, &format!("{v1}/activate"), &nurse.token, &etag(&changed), None).await;
    assert_eq!(active.status, 200, "{}", active.text);
    assert_eq!(active.json["status"], "active");
    let due = chrono::Utc::now().date_naive().checked_add_months(chrono::Months::new(12)).unwrap();
    assert_eq!(active.json["review_due_on"], due.to_string());
    // In force, it does not change any more.
    send_if(&app, Method::PUT, &v1, &nurse.token, &etag(&active), Some(json!({"content": content("x")})))
        .await
        .problem(409);

    // The person validates it (here, her legal representative): not before it was written.
    // Today as the establishment counts days (Paris).
    let today = app.local_today().await;
    let before = json!({"by": "legal_representative", "name": "Paul Projet", "on": today - chrono::Days::new(2),
                        "method": "signature"});
    let refused = app.post(&format!("{v1}/validation"), &nurse.token, before).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "on", "{}", refused.text);
    let validation = json!({"by": "legal_representative", "name": "Paul Projet", "on": today, "method": "signature"});
    let signed = app.post(&format!("{v1}/validation"), &nurse.token, validation).await;
    assert_eq!(signed.status, 200, "{}", signed.text);
    assert_eq!(signed.json["validation"]["name"], "Paul Projet");

    // A review makes version 2, a draft with the review; objectives take the review's outcomes.
    let review = json!({"version_id": first.json["id"], "review": {"date": "2026-11-25",
        "participants": ["Louise Projet", "Paul Projet (fils)", "IDE référente"],
        "outcomes": [{"objective_id": objective, "status": "achieved", "comment": "Toilette du haut seule"}],
        "summary": "Objectif atteint"}});
    let second = app.post(&format!("{plan}/reviews"), &nurse.token, review.clone()).await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!((second.json["version"].as_i64(), second.json["status"].as_str()), (Some(2), Some("draft")));
    assert_eq!(second.json["content"]["objectives"][0]["status"], "achieved");
    assert_eq!(second.json["content"]["review"]["summary"], "Objectif atteint");
    assert!(second.json["validation"].is_null(), "a new version is validated anew");
    app.post(&format!("{plan}/reviews"), &nurse.token, review).await.problem(409);
    let v2 = format!("{plan}/versions/{}", second.json["id"].as_str().unwrap());
    let tag = validated(&app, &v2, &nurse.token).await;
    let activated = send_if(&app, Method::POST, &format!("{v2}/activate"), &nurse.token, &tag, None).await;
    assert_eq!(activated.status, 200, "{}", activated.text);

    // Every version stays readable; the one in force is obvious.
    let versions = app.get(&plan, &assistant.token).await;
    let summary: Vec<(i64, &str)> = versions
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(summary, [(2, "active"), (1, "superseded")]);
    assert_eq!(versions.json[1]["content"]["expectations"], "Rester autonome", "as last changed");
    assert!(versions.json[1]["ended_at"].is_string());

    // A version as a PDF for the family.
    let pdf = app.get(&format!("{v2}/pdf"), &nurse.token).await;
    assert_eq!(pdf.status, 200, "{}", pdf.text);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert!(pdf.bytes.starts_with(b"%PDF-") && pdf.bytes.trim_ascii_end().ends_with(b"%%EOF"));
    let text = poppler("pdftotext", &["{pdf}", "-"], &pdf.bytes);
    for wanted in ["Attentes de la personne", "Rester autonome", "IDE référente"] {
        assert!(text.contains(wanted), "{wanted:?} is not in the document:\n{text}");
    }

    // A note reports on an objective of the plan in force; an unknown objective is refused.
    let linked = app
        .post(
            &format!("{record}/notes"),
            &assistant.token,
            json!({"text": "Toilette du haut seule ce matin", "objective_id": objective}),
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.text);
    assert_eq!(linked.json["objective_id"], objective.as_str());
    let unknown = app
        .post(&format!("{record}/notes"), &assistant.token, json!({"text": "x", "objective_id": uuid::Uuid::now_v7()}))
        .await;
    assert_eq!(unknown.problem(422)["errors"][0]["field"], "objective_id");

    // The timeline merges the admission, the versions and the notes, newest first.
    write_note(&app, &record, &assistant.token).await;
    let timeline = app.get(&format!("{record}/timeline"), &nurse.token).await;
    assert_eq!(timeline.status, 200, "{}", timeline.text);
    let kinds: Vec<&str> = timeline.json.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["note", "note", "care_plan", "care_plan", "admission"], "{}", timeline.text);
    let stamps: Vec<&str> = timeline.json.as_array().unwrap().iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = stamps.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(stamps, sorted);
    app.get(&format!("{record}/timeline?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"), &nurse.token)
        .await
        .problem(422);
    // Days too, the end day included: today's events are in "from 30 days ago to today" (the
    // establishment's today).
    let today = app.local_today().await;
    let by_days = format!("{record}/timeline?from={}&to={today}", today - chrono::Days::new(30));
    let by_days = app.get(&by_days, &nurse.token).await;
    assert_eq!(by_days.status, 200, "{}", by_days.text);
    assert_eq!(by_days.json.as_array().unwrap().len(), timeline.json.as_array().unwrap().len(), "{}", by_days.text);
    let bad = app.get(&format!("{record}/timeline?from=yesterday"), &nurse.token).await;
    assert!(bad.problem(400)["detail"].as_str().unwrap().contains("expected a date (2026-12-01)"), "{}", bad.text);

    // Closing: only the plan in force.
    app.post(&format!("{v1}/close"), &nurse.token, json!({})).await.problem(409);
    let closed = app.post(&format!("{v2}/close"), &nurse.token, json!({})).await;
    assert_eq!(closed.json["status"], "closed", "{}", closed.text);
}

#[tokio::test]
async fn plans_due_for_review_are_listed_per_establishment() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let mut versions = Vec::new();
    for name in ["Ancien", "Echeance", "Recent"] {
        let admitted = admit(&app, &tenant, json!({"identity": identity(name, "Jean", "1940-01-01")})).await;
        let plan = format!("/api/v1/residents/{}/care-plan", admitted.json["id"].as_str().unwrap());
        let today = chrono::Utc::now().date_naive().to_string();
        let due = if name == "Echeance" { Some(today) } else { None };
        let created =
            app.post(&plan, &nurse.token, json!({"content": content("Vivre ici"), "review_due_on": due})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let version = format!("{plan}/versions/{}", created.json["id"].as_str().unwrap());
        let tag = validated(&app, &version, &nurse.token).await;
        let active = send_if(&app, Method::POST, &format!("{version}/activate"), &nurse.token, &tag, None).await;
        assert_eq!(active.status, 200, "{}", active.text);
        versions.push(created.json["id"].as_str().unwrap().to_owned());
    }
    // The first plan has been in force for thirteen months.
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             UPDATE care_plan_versions SET activated_at = now() - interval '13 months', review_due_on = NULL WHERE id = '{}'; COMMIT;",
            tenant.id, versions[0]
        ))
        .await
        .unwrap();

    let due = app.get(&format!("/api/v1/establishments/{ehpad}/care-plans/due"), &nurse.token).await;
    assert_eq!(due.status, 200, "{}", due.text);
    let names: Vec<&str> =
        due.json.as_array().unwrap().iter().map(|d| d["resident"]["family_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ancien", "Echeance"], "soonest first; the recent plan is not due");
    let elsewhere = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    app.get(&format!("/api/v1/establishments/{ehpad}/care-plans/due"), &elsewhere.token).await.problem(404);
}

async fn write_note(app: &TestApp, record: &str, token: &str) {
    let written = app.post(&format!("{record}/notes"), token, json!({"text": "A participé à l'atelier jardin"})).await;
    assert_eq!(written.status, 201, "{}", written.text);
}

/// Runs a tool of poppler-utils on `pdf` (written to a file that "{pdf}" in `args` names) and
/// returns what it prints. A missing tool fails the test, saying how to get it.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pdf).unwrap();
    let args: Vec<std::ffi::OsString> =
        args.iter().map(|a| if *a == "{pdf}" { file.path().as_os_str().to_owned() } else { (*a).into() }).collect();
    let output = std::process::Command::new(tool).args(&args).output().unwrap_or_else(|error| {
        panic!(
            "{tool} cannot be run ({error}): install poppler-utils (apt-get install poppler-utils; scripts/test does)"
        )
    });
    assert!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The document handed to the family is PDF/A-2b, with its fonts embedded: whatever script the
/// texts are written in, a reader shows them and gives them back as they were typed.
#[tokio::test]
async fn a_plan_pdf_is_pdf_a_with_its_fonts_embedded_and_its_text_whole() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Projet", "Zoé", "1938-02-11")})).await;
    let plan = format!("/api/v1/residents/{}/care-plan", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let samples = ["Łódź", "≥ 5 %", "Œuvre", "café", "12 €", "‘simples’", "“doubles”", "Ærøskøbing", "Жанна"];
    let content = json!({
        "expectations": "Revoir Łódź avec sa sœur ; marcher ≥ 5 % plus loin ; « Œuvre » au café, 12 €.",
        "needs": [{"domain": "social_life", "text": "Citations ‘simples’ et “doubles”, lettres de Ærøskøbing"}],
        "objectives": [{"domain": "family_and_relationships", "text": "Appeler Жанна chaque semaine", "status": "planned"}],
        "actions": [{"what": "Œuvre commune : Łódź ≥ 5 % €", "who": {"role": "educator"}, "frequency": "le jeudi"}]
    });
    let created = app.post(&plan, &nurse.token, json!({"content": content})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let pdf = app.get(&format!("{plan}/versions/{}/pdf", created.json["id"].as_str().unwrap()), &nurse.token).await;
    assert_eq!(pdf.status, 200, "{}", pdf.text);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));

    // Every font embedded, as a subset, with its ToUnicode map.
    let fonts = poppler("pdffonts", &["{pdf}"], &pdf.bytes);
    let rows: Vec<Vec<&str>> = fonts.lines().skip(2).map(|row| row.split_whitespace().collect()).collect();
    assert!(!rows.is_empty(), "no fonts:\n{fonts}");
    for row in &rows {
        // name, type (two words), encoding, emb, sub, uni, object, generation
        assert!(row[0].contains("+DejaVuSans"), "{fonts}");
        assert_eq!(row[1..7], ["CID", "TrueType", "Identity-H", "yes", "yes", "yes"], "{fonts}");
    }
    // Every character comes back, in regular text and in bold.
    let text = poppler("pdftotext", &["{pdf}", "-"], &pdf.bytes);
    for sample in samples.iter().chain(&["Œuvre commune : Łódź ≥ 5 % €"]) {
        assert!(text.contains(sample), "pdftotext does not give back {sample:?}:\n{text}");
    }
    assert!(!text.contains('?'), "a character was replaced:\n{text}");
    // The PDF/A identification, in the XMP metadata.
    let metadata = poppler("pdfinfo", &["-meta", "{pdf}"], &pdf.bytes);
    assert!(metadata.contains("<pdfaid:part>2</pdfaid:part>"), "{metadata}");
    assert!(metadata.contains("<pdfaid:conformance>B</pdfaid:conformance>"), "{metadata}");
    let info = poppler("pdfinfo", &["{pdf}"], &pdf.bytes);
    assert!(info.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["PDF", "version:", "1.7"]), "{info}");
}
