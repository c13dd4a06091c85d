//! Prescriptions: a nurse transcribes a paper prescription and reads it back; validation naming
//! fields; versions that supersede (history kept, one in force, a stale change refused); a stop
//! with its reason; the safety flags (an allergy matched, a substance twice, on two lines or
//! across prescriptions); who writes and who reads; the hand-over; an idempotent retry.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::drugs::import_fixture;
use crate::residents::{admit, identity};

/// The fields a 422 answer names, in order.
pub(crate) fn fields(response: &TestResponse) -> Vec<String> {
    response.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A paper prescription of three lines: paracetamol morning, noon and evening (half a tablet at
/// noon), amoxicillin every 8 hours for a week, phloroglucinol if needed (3 a day at most) on
/// Mondays and Fridays.
pub fn three_lines() -> Value {
    json!({
        "prescriber": {"name": "Dr Claire Martin", "rpps": "10003456789"},
        "prescribed_on": "2026-11-30",
        "valid_until": "2027-02-28",
        "source": "paper",
        "lines": [
            {"cis": "60234100", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
             "schedule": {"kind": "moments", "moments": [{"moment": "evening"}, {"moment": "morning"},
                                                         {"moment": "noon", "quantity": 0.5}]},
             "crushable": true},
            {"cis": "60123456", "dose": {"quantity": 1, "unit": "gélule"}, "route": "oral",
             "schedule": {"kind": "every_hours", "interval_hours": 8, "first_at": "06:00:00"},
             "starts_on": "2026-12-01", "ends_on": "2026-12-07"},
            {"cis": "69000009", "dose": {"quantity": 2, "unit": "comprimé"}, "route": "oral",
             "schedule": {"kind": "if_needed", "max_per_day": 3, "min_interval_hours": 4,
                          "condition": "si douleurs abdominales"},
             "days": {"kind": "weekdays", "weekdays": ["friday", "monday"]}, "notes": "À distance des repas"}
        ]
    })
}

fn line(cis: &str) -> Value {
    json!({"cis": cis, "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
           "schedule": {"kind": "moments", "moments": [{"moment": "morning"}]}})
}

fn prescription(lines: Vec<Value>) -> Value {
    json!({"prescriber": {"name": "Dr Claire Martin"}, "prescribed_on": "2026-11-30", "source": "received",
           "lines": lines})
}

fn flags(version: &Value) -> Vec<Value> {
    version["flags"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_nurse_transcribes_a_paper_prescription_changes_it_and_stops_it() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Traitement", "Odette", "1931-01-01")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let physician = app.user(&tenant, &[(Some(ehpad), Role::CoordinatingPhysician)]).await;
    let prescriptions = format!("{record}/prescriptions");

    let created = app.post(&prescriptions, &nurse.token, three_lines()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let v1 = &created.json;
    assert_eq!((v1["version"].as_i64(), v1["status"].as_str()), (Some(1), Some("active")));
    assert_eq!((v1["flagged"].as_bool(), flags(v1).len()), (Some(false), 0), "{}", created.text);
    assert_eq!(v1["prescriber"]["rpps"], "10003456789");
    let lines = v1["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines.iter().map(|l| l["number"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(lines[0]["drug"]["denomination"].as_str().unwrap().starts_with("DOLIPRANE 500 mg"));
    assert_eq!(lines[0]["drug"]["active_substances"][0]["name"], "PARACÉTAMOL");
    // The moments in the day's order, each with its quantity.
    let moments: Vec<&str> =
        lines[0]["schedule"]["moments"].as_array().unwrap().iter().map(|m| m["moment"].as_str().unwrap()).collect();
    assert_eq!(moments, ["morning", "noon", "evening"]);
    assert_eq!(lines[0]["schedule"]["moments"][1]["quantity"], 0.5);
    assert_eq!(lines[0]["starts_on"], "2026-11-30", "a line starts on the day prescribed by default");
    assert_eq!(
        (lines[1]["schedule"]["kind"].as_str(), lines[1]["schedule"]["interval_hours"].as_i64()),
        (Some("every_hours"), Some(8))
    );
    assert_eq!(lines[2]["schedule"]["max_per_day"], 3);
    assert_eq!(lines[2]["days"]["weekdays"], json!(["monday", "friday"]));
    let id = v1["prescription_id"].as_str().unwrap().to_owned();
    let v1_id = v1["id"].as_str().unwrap().to_owned();

    // Read back: the list (in force), the prescription with its versions.
    let list = app.get(&prescriptions, &nurse.token).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json.as_array().unwrap().len(), 1);
    assert_eq!(list.json[0]["lines"][2]["schedule"]["condition"], "si douleurs abdominales");
    let one = format!("{prescriptions}/{id}");

    // A new version: the amoxicillin goes; it supersedes version 1, which stays.
    let versions = format!("{one}/versions");
    let mut body = three_lines();
    body["lines"].as_array_mut().unwrap().remove(1);
    body["replaces"] = json!(v1_id);
    let v2 = app.post(&versions, &physician.token, body.clone()).await;
    assert_eq!(v2.status, 201, "{}", v2.text);
    assert_eq!((v2.json["version"].as_i64(), v2.json["replaces"].as_str()), (Some(2), Some(v1_id.as_str())));
    assert_eq!(v2.json["prescription_id"].as_str(), Some(id.as_str()));
    // A change from version 1 again is stale.
    app.post(&versions, &nurse.token, body.clone()).await.problem(409);
    let read = app.get(&one, &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let statuses: Vec<(i64, &str)> = read.json["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [(2, "active"), (1, "superseded")]);
    assert_eq!(read.json["versions"][1]["lines"].as_array().unwrap().len(), 3, "the history is kept");
    assert_eq!(app.get(&prescriptions, &nurse.token).await.json.as_array().unwrap().len(), 1);

    // Stopped, with a reason: nothing in force; `status=all` still shows it.
    let stop = format!("{one}/stop");
    assert_eq!(fields(&app.post(&stop, &nurse.token, json!({"reason": "x"})).await), ["reason"]);
    assert_eq!(
        fields(
            &app.post(&stop, &nurse.token, json!({"reason": "Fin du traitement", "stopped_on": "2999-01-01"})).await
        ),
        ["stopped_on"]
    );
    let stopped =
        app.post(&stop, &physician.token, json!({"reason": "Douleurs résolues", "stopped_on": "2026-12-05"})).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(stopped.json["status"], "stopped");
    assert_eq!(
        (stopped.json["stop"]["reason"].as_str(), stopped.json["stop"]["stopped_on"].as_str()),
        (Some("Douleurs résolues"), Some("2026-12-05"))
    );
    assert_eq!(stopped.json["lines"].as_array().unwrap().len(), 2, "the content stays readable");
    app.post(&stop, &physician.token, json!({"reason": "Encore"})).await.problem(409);
    let mut again = body.clone();
    again["replaces"] = stopped.json["id"].clone();
    app.post(&versions, &nurse.token, again).await.problem(409);
    assert_eq!(app.get(&prescriptions, &nurse.token).await.json.as_array().unwrap().len(), 0);
    let all = app.get(&format!("{prescriptions}?status=all"), &nurse.token).await;
    assert_eq!(all.json.as_array().unwrap().len(), 1, "{}", all.text);
    assert_eq!((all.json[0]["version"].as_i64(), all.json[0]["status"].as_str()), (Some(2), Some("stopped")));

    // The hand-over tells the care team the three events.
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let feed =
        app.get(&format!("/api/v1/establishments/{ehpad}/handover?since=2020-01-01T00:00:00Z"), &assistant.token).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let told: Vec<(String, String)> = feed.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source_type"] == "prescription")
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["summary"].as_str().unwrap().to_owned()))
        .collect();
    let kinds: Vec<&str> = told.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.len(), 3, "{told:?}");
    for kind in ["prescription_new", "prescription_changed", "prescription_stopped"] {
        assert!(kinds.contains(&kind), "{told:?}");
    }
    let summary = |kind: &str| told.iter().find(|(k, _)| k == kind).unwrap().1.clone();
    assert!(summary("prescription_new").starts_with("Nouveau traitement : DOLIPRANE 500 mg"), "{told:?}");
    assert!(summary("prescription_new").contains("AMOXICILLINE BIOGARAN"), "{told:?}");
    assert!(summary("prescription_changed").starts_with("Traitement modifié : DOLIPRANE 500 mg"), "{told:?}");
    assert!(!summary("prescription_changed").contains("AMOXICILLINE"), "{told:?}");
    assert!(summary("prescription_stopped").ends_with("— Douleurs résolues"), "{told:?}");

    // With an Idempotency-Key, a retry answers the prescription created the first time; and a
    // retried change answers the version made, though it is no longer the one in force then.
    let key = [("Idempotency-Key", "ordonnance-2026-11-30")];
    let body = prescription(vec![line("63000002")]);
    let first = app.request_with(Method::POST, &prescriptions, Some(&nurse.token), Some(body.clone()), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retried = app.request_with(Method::POST, &prescriptions, Some(&nurse.token), Some(body), &key).await;
    assert_eq!((retried.status, retried.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(retried.json["id"], first.json["id"]);
    let change_key = [("Idempotency-Key", "ordonnance-2026-11-30-v2")];
    let mut change = prescription(vec![line("64000003")]);
    change["replaces"] = first.json["id"].clone();
    let path = format!("{prescriptions}/{}/versions", first.json["prescription_id"].as_str().unwrap());
    let changed = app.request_with(Method::POST, &path, Some(&nurse.token), Some(change.clone()), &change_key).await;
    assert_eq!(changed.status, 201, "{}", changed.text);
    let again = app.request_with(Method::POST, &path, Some(&nurse.token), Some(change), &change_key).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")), "{}", again.text);
    assert_eq!(again.json["id"], changed.json["id"]);
    assert_eq!(app.get(&prescriptions, &nurse.token).await.json.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn validation_names_the_fields() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Champs", "Irène", "1930-02-02")})).await;
    let prescriptions = format!("/api/v1/residents/{}/prescriptions", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = three_lines();
        change(&mut body);
        body
    };
    for (body, expected) in [
        (with(&|b| b["lines"][1]["cis"] = json!("99999999")), vec!["lines[1].cis"]),
        (with(&|b| b["lines"][0]["dose"]["quantity"] = json!(0)), vec!["lines[0].dose.quantity"]),
        (
            with(&|b| b["lines"][2]["schedule"] = json!({"kind": "if_needed", "condition": "si douleur"})),
            vec!["lines[2].schedule.max_per_day"],
        ),
        (with(&|b| b["lines"][1]["ends_on"] = json!("2026-11-30")), vec!["lines[1].ends_on"]),
        (with(&|b| b["prescriber"]["rpps"] = json!("1000345678A")), vec!["prescriber.rpps"]),
        (
            with(&|b| b["prescribed_on"] = json!("2999-01-01")),
            vec!["prescribed_on", "valid_until", "lines[1].starts_on"],
        ),
        (with(&|b| b["lines"] = json!([])), vec!["lines"]),
        (
            with(&|b| b["lines"][0]["schedule"]["moments"][1]["quantity"] = json!(-1)),
            vec!["lines[0].schedule.moments[1].quantity"],
        ),
    ] {
        assert_eq!(fields(&app.post(&prescriptions, &nurse.token, body.clone()).await), expected, "{body}");
    }
    // Nothing was recorded.
    assert_eq!(app.get(&format!("{prescriptions}?status=all"), &nurse.token).await.json, json!([]));
}

#[tokio::test]
async fn safety_flags_name_the_allergy_and_the_duplicate_substance() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Alerte", "Simone", "1929-03-03")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let allergy = app
        .post(
            &format!("{record}/allergies"),
            &nurse.token,
            json!({"kind": "allergy", "substance": "amoxicilline", "severity": "severe", "source": "medical_record"}),
        )
        .await;
    assert_eq!(allergy.status, 201, "{}", allergy.text);
    let prescriptions = format!("{record}/prescriptions");

    // Augmentin (amoxicillin): the allergy. Doliprane and Ixprim: paracetamol twice.
    let first = app
        .post(&prescriptions, &nurse.token, prescription(vec![line("68585615"), line("60234100"), line("65000004")]))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json["flagged"], true);
    let found = flags(&first.json);
    let allergy_flags: Vec<&Value> = found.iter().filter(|f| f["kind"] == "allergy").collect();
    assert_eq!(allergy_flags.len(), 1, "{found:?}");
    assert_eq!(allergy_flags[0]["line"], 1);
    assert_eq!(allergy_flags[0]["allergy_id"], allergy.json["id"]);
    assert_eq!(allergy_flags[0]["substance"], "AMOXICILLINE");
    let duplicates: Vec<(i64, i64, &str)> = found
        .iter()
        .filter(|f| f["kind"] == "duplicate_substance")
        .map(|f| (f["line"].as_i64().unwrap(), f["other_line"].as_i64().unwrap(), f["substance"].as_str().unwrap()))
        .collect();
    assert_eq!(duplicates, [(2, 3, "PARACÉTAMOL"), (3, 2, "PARACÉTAMOL")], "{found:?}");

    // Dafalgan in another prescription: paracetamol again, naming the other prescription's lines.
    let second = app.post(&prescriptions, &nurse.token, prescription(vec![line("69000008")])).await;
    assert_eq!(second.status, 201, "{}", second.text);
    let found = flags(&second.json);
    let others: Vec<(i64, &str, &str)> = found
        .iter()
        .map(|f| {
            (f["other_line"].as_i64().unwrap(), f["other_prescription"].as_str().unwrap(), f["kind"].as_str().unwrap())
        })
        .collect();
    let first_id = first.json["prescription_id"].as_str().unwrap();
    assert_eq!(others, [(2, first_id, "duplicate_substance"), (3, first_id, "duplicate_substance")], "{found:?}");
    assert_eq!(found[0]["other_version"], first.json["id"]);
    // Flags are kept with the version, in the list too.
    let list = app.get(&prescriptions, &nurse.token).await;
    assert_eq!(list.json.as_array().unwrap().iter().filter(|p| p["flagged"] == true).count(), 2, "{}", list.text);
    // Once the first is stopped, a new prescription of paracetamol is not flagged.
    let stop = format!("{prescriptions}/{first_id}/stop");
    assert_eq!(app.post(&stop, &nurse.token, json!({"reason": "Allergie"})).await.status, 200);
    let second_stop = format!("{prescriptions}/{}/stop", second.json["prescription_id"].as_str().unwrap());
    assert_eq!(app.post(&second_stop, &nurse.token, json!({"reason": "Doublon"})).await.status, 200);
    let third = app.post(&prescriptions, &nurse.token, prescription(vec![line("61234567")])).await;
    assert_eq!((third.status, third.json["flagged"].as_bool()), (201, Some(false)), "{}", third.text);
}

#[tokio::test]
async fn the_care_team_reads_only_physicians_and_nurses_write_and_others_do_not_reach_it() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, other) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let admitted = admit(&app, &tenant, json!({"identity": identity("Acces", "Marcelle", "1928-04-04")})).await;
    let resident = admitted.json["id"].as_str().unwrap().to_owned();
    let prescriptions = format!("/api/v1/residents/{resident}/prescriptions");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let created = app.post(&prescriptions, &nurse.token, three_lines()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["prescription_id"].as_str().unwrap().to_owned();

    // The care assistant reads, and writes nothing: each refusal is recorded.
    let read = app.get(&prescriptions, &assistant.token).await;
    assert_eq!((read.status, read.json.as_array().map(Vec::len)), (200, Some(1)), "{}", read.text);
    assert_eq!(app.get(&format!("{prescriptions}/{id}"), &assistant.token).await.status, 200);
    app.post(&prescriptions, &assistant.token, three_lines()).await.problem(403);
    let mut change = three_lines();
    change["replaces"] = created.json["id"].clone();
    app.post(&format!("{prescriptions}/{id}/versions"), &assistant.token, change).await.problem(403);
    app.post(&format!("{prescriptions}/{id}/stop"), &assistant.token, json!({"reason": "Essai"})).await.problem(403);
    // Row-level security is forced on the owner too: read inside the tenant.
    let mut owner = app.db.connect(&app.db.owner_url).await;
    let tx = owner.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
    let events: Vec<(String, String)> = tx
        .query("SELECT action, outcome FROM audit_events WHERE action LIKE 'prescription.%' ORDER BY occurred_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    tx.rollback().await.unwrap();
    let denied: Vec<&str> = events.iter().filter(|(_, o)| o == "denied").map(|(a, _)| a.as_str()).collect();
    assert_eq!(denied, ["prescription.create", "prescription.revise", "prescription.stop"], "{events:?}");

    // A nurse of another establishment does not reach the person.
    let visitor = app.user(&tenant, &[(Some(other), Role::Nurse)]).await;
    app.get(&prescriptions, &visitor.token).await.problem(404);
    app.get(&format!("{prescriptions}/{id}"), &visitor.token).await.problem(404);
    app.post(&prescriptions, &visitor.token, three_lines()).await.problem(404);
    app.post(&format!("{prescriptions}/{id}/stop"), &visitor.token, json!({"reason": "Essai"})).await.problem(404);
    // Through an emergency opening, she reads them, and as a nurse she may stop one.
    let reason = "Remplacement de nuit : malaise, besoin du traitement en cours";
    let opened = app
        .post(&format!("/api/v1/residents/{resident}/emergency-access"), &visitor.token, json!({"reason": reason}))
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let read = app.get(&prescriptions, &visitor.token).await;
    assert_eq!((read.status, read.json.as_array().map(Vec::len)), (200, Some(1)), "{}", read.text);
    let stopped =
        app.post(&format!("{prescriptions}/{id}/stop"), &visitor.token, json!({"reason": "Malaise, avis du 15"})).await;
    assert_eq!((stopped.status, stopped.json["status"].as_str()), (200, Some("stopped")), "{}", stopped.text);
    // An unknown prescription of a person reached is absent.
    let unknown = uuid::Uuid::now_v7();
    app.get(&format!("{prescriptions}/{unknown}"), &nurse.token).await.problem(404);

    // The person's export carries every version.
    let export = app.get(&format!("/api/v1/residents/{resident}/export"), &tenant.admin.token).await;
    assert_eq!(export.status, 200, "{}", export.text);
    let exported = &export.json["record"]["prescriptions"];
    assert_eq!(exported.as_array().map(Vec::len), Some(1), "{}", export.text);
    assert_eq!(exported[0]["lines"][0]["drug"]["cis"], "60234100");
}
