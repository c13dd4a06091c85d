//! The medical file: history and active problems with their CIM-10 codes, vaccinations, the
//! attending physician and specialists; who records and who reads (the health professionals for
//! the medical part, the care team for the physicians, an emergency opening as for the rest);
//! validation naming fields; idempotent creation; the person's export.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

fn fields(response: &TestResponse) -> Vec<String> {
    response.problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn texts(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|e| e[key].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn a_nurse_records_problems_vaccinations_and_physicians_and_reads_them_back() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Dossier", "Marthe", "1934-02-02")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let physician = app.user(&tenant, &[(Some(ehpad), Role::CoordinatingPhysician)]).await;

    let problems = format!("{record}/medical/problems");
    let hypertension = app
        .post(
            &problems,
            &nurse.token,
            json!({"kind": "active_problem", "text": "Hypertension artérielle", "cim10": "i10"}),
        )
        .await;
    assert_eq!(hypertension.status, 201, "{}", hypertension.text);
    assert_eq!(
        (hypertension.json["cim10"].as_str(), hypertension.json["status"].as_str()),
        (Some("I10"), Some("active"))
    );
    let diabetes = app
        .post(
            &problems,
            &physician.token,
            json!({"kind": "active_problem", "text": "Diabète de type 2", "cim10": "E11.9", "onset": "1998-04"}),
        )
        .await;
    assert_eq!((diabetes.status, diabetes.json["onset"].as_str()), (201, Some("1998-04")), "{}", diabetes.text);
    let history = app
        .post(
            &problems,
            &nurse.token,
            json!({"kind": "history", "text": "Prothèse totale de hanche droite", "onset": "2015"}),
        )
        .await;
    assert_eq!(history.status, 201, "{}", history.text);
    let mistaken =
        app.post(&problems, &nurse.token, json!({"kind": "active_problem", "text": "Démence", "cim10": "F03"})).await;
    assert_eq!(mistaken.status, 201, "{}", mistaken.text);

    // The hypertension is resolved; the dementia was another resident's: flagged, with a reason.
    let id = |r: &TestResponse| r.json["id"].as_str().unwrap().to_owned();
    let resolve = format!("{problems}/{}/resolve", id(&hypertension));
    app.post(&resolve, &nurse.token, json!({"resolved_on": "2099-01-01"})).await.problem(422);
    let resolved = app.post(&resolve, &nurse.token, json!({"resolved_on": "2026-01-15"})).await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(
        (resolved.json["status"].as_str(), resolved.json["resolved_on"].as_str()),
        (Some("resolved"), Some("2026-01-15"))
    );
    app.post(&resolve, &nurse.token, json!({})).await.problem(409);
    let flag = format!("{problems}/{}/entered-in-error", id(&mistaken));
    assert_eq!(fields(&app.post(&flag, &nurse.token, json!({"reason": "x"})).await), ["reason"]);
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Autre résidente"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(
        (flagged.json["status"].as_str(), flagged.json["text"].as_str()),
        (Some("entered_in_error"), Some("Démence"))
    );
    assert_eq!(flagged.json["entered_in_error"]["reason"], "Autre résidente");
    app.post(&flag, &nurse.token, json!({"reason": "Encore une fois"})).await.problem(409);

    // Vaccinations.
    let vaccinations = format!("{record}/medical/vaccinations");
    let flu = app
        .post(
            &vaccinations,
            &nurse.token,
            json!({"vaccine": "Vaxigrip Tetra", "given_on": "2026-10-20", "batch": "X4521", "given_by": "IDE Durand"}),
        )
        .await;
    assert_eq!((flu.status, flu.json["batch"].as_str()), (201, Some("X4521")), "{}", flu.text);
    let covid = app
        .post(
            &vaccinations,
            &nurse.token,
            json!({"vaccine": "Comirnaty", "given_on": "2026-11-02", "dose": 4, "booster": true}),
        )
        .await;
    assert_eq!(
        (covid.status, covid.json["dose"].as_i64(), covid.json["booster"].as_bool()),
        (201, Some(4), Some(true))
    );
    let flag = format!("{vaccinations}/{}/entered-in-error", id(&covid));
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Saisie en double"})).await;
    assert_eq!((flagged.status, flagged.json["status"].as_str()), (200, Some("entered_in_error")), "{}", flagged.text);

    // Physicians: one attending physician at a time.
    let physicians = format!("{record}/medical/physicians");
    let attending = app
        .post(
            &physicians,
            &nurse.token,
            json!({"role": "attending", "name": "Dr Claire Martin", "rpps": "10003456789", "phone": "01 23 45 67 89",
                   "since": "2020-03-01"}),
        )
        .await;
    assert_eq!((attending.status, attending.json["in_force"].as_bool()), (201, Some(true)), "{}", attending.text);
    let second = json!({"role": "attending", "name": "Dr Paul Bernard", "since": "2026-11-01"});
    app.post(&physicians, &nurse.token, second.clone()).await.problem(409);
    let specialist = app
        .post(
            &physicians,
            &nurse.token,
            json!({"role": "specialist", "name": "Dr Lefèvre", "speciality": "Cardiologie"}),
        )
        .await;
    assert_eq!(specialist.status, 201, "{}", specialist.text);
    let end = format!("{physicians}/{}/end", id(&attending));
    app.post(&end, &nurse.token, json!({"until": "2019-01-01"})).await.problem(422);
    let ended = app.post(&end, &nurse.token, json!({"until": "2026-10-31"})).await;
    assert_eq!((ended.status, ended.json["in_force"].as_bool()), (200, Some(false)), "{}", ended.text);
    app.post(&end, &nurse.token, json!({})).await.problem(409);
    let replaced = app.post(&physicians, &nurse.token, second).await;
    assert_eq!(replaced.status, 201, "{}", replaced.text);

    // The file, as the nurse reads it.
    let file = app.get(&format!("{record}/medical"), &nurse.token).await;
    assert_eq!(file.status, 200, "{}", file.text);
    assert_eq!(texts(&file.json["active_problems"], "text"), ["Diabète de type 2"]);
    assert_eq!(
        texts(&file.json["history"], "text"),
        ["Hypertension artérielle", "Prothèse totale de hanche droite", "Démence"]
    );
    assert_eq!(texts(&file.json["history"], "status"), ["resolved", "active", "entered_in_error"]);
    assert_eq!(texts(&file.json["vaccinations"], "vaccine"), ["Vaxigrip Tetra", "Comirnaty"]);
    assert_eq!(texts(&file.json["physicians"], "name"), ["Dr Paul Bernard", "Dr Lefèvre", "Dr Claire Martin"]);
    assert_eq!(file.json["physicians"][2]["rpps"], "10003456789");

    // Validation names the fields.
    for (body, expected) in [
        (json!({"kind": "active_problem", "text": "HTA", "cim10": "I1"}), vec!["cim10"]),
        (json!({"kind": "active_problem", "text": "HTA", "cim10": "E11.123"}), vec!["cim10"]),
        (json!({"kind": "history", "text": " ", "onset": "1998-13"}), vec!["text", "onset"]),
        (json!({"kind": "history", "text": "Fracture", "onset": "2999"}), vec!["onset"]),
    ] {
        assert_eq!(fields(&app.post(&problems, &nurse.token, body.clone()).await), expected, "{body}");
    }
    for (body, expected) in [
        (json!({"role": "specialist", "name": "Dr X", "speciality": "Neurologie", "rpps": "1234"}), vec!["rpps"]),
        (
            json!({"role": "specialist", "name": "Dr X", "speciality": "Neurologie", "rpps": "1000345678A"}),
            vec!["rpps"],
        ),
        (json!({"role": "specialist", "name": "Dr X"}), vec!["speciality"]),
        (json!({"role": "specialist", "name": "Dr X", "speciality": "ORL", "email": "non"}), vec!["email"]),
    ] {
        assert_eq!(fields(&app.post(&physicians, &nurse.token, body.clone()).await), expected, "{body}");
    }
    for (body, expected) in [
        (json!({"vaccine": "DTP", "given_on": "2999-01-01"}), vec!["given_on"]),
        (json!({"vaccine": "DTP", "given_on": "2026-01-01", "dose": 0}), vec!["dose"]),
    ] {
        assert_eq!(fields(&app.post(&vaccinations, &nurse.token, body.clone()).await), expected, "{body}");
    }

    // With an Idempotency-Key, a retry answers the entry created the first time.
    let key = [("Idempotency-Key", "vaccin-pneumo-1")];
    let body = json!({"vaccine": "Prevenar 20", "given_on": "2026-09-01"});
    let send = || app.request_with(Method::POST, &vaccinations, Some(&nurse.token), Some(body.clone()), &key);
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = send().await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(again.json["id"], first.json["id"]);
    let file = app.get(&format!("{record}/medical"), &nurse.token).await;
    assert_eq!(file.json["vaccinations"].as_array().unwrap().len(), 3, "{}", file.text);
}

#[tokio::test]
async fn only_the_health_professionals_read_the_medical_part_and_an_emergency_opening_does() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, other) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let admitted = admit(&app, &tenant, json!({"identity": identity("Secret", "Louise", "1933-03-03")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let user = |role| {
        let (app, tenant) = (&app, &tenant);
        async move { app.user(tenant, &[(Some(ehpad), role)]).await }
    };
    let (nurse, assistant, social, director) = (
        user(Role::Nurse).await,
        user(Role::CareAssistant).await,
        user(Role::SocialWorker).await,
        user(Role::Director).await,
    );
    let problem = json!({"kind": "active_problem", "text": "Insuffisance cardiaque", "cim10": "I50.9"});
    let vaccination = json!({"vaccine": "Vaxigrip Tetra", "given_on": "2026-10-20"});
    let attending = json!({"role": "attending", "name": "Dr Claire Martin", "phone": "0123456789"});
    for (path, body) in [("problems", &problem), ("vaccinations", &vaccination)] {
        let created = app.post(&format!("{record}/medical/{path}"), &nurse.token, body.clone()).await;
        assert_eq!(created.status, 201, "{}", created.text);
        // Nor the care assistant, the social worker, the director or the tenant admin record it.
        for refused in [&assistant.token, &social.token, &director.token, &tenant.admin.token] {
            app.post(&format!("{record}/medical/{path}"), refused, body.clone()).await.problem(403);
        }
    }
    // The care assistant records the attending physician (contact data of the care team); the
    // social worker and the director do not.
    for refused in [&social.token, &director.token] {
        app.post(&format!("{record}/medical/physicians"), refused, attending.clone()).await.problem(403);
    }
    let recorded = app.post(&format!("{record}/medical/physicians"), &assistant.token, attending).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);

    let read = |token: String| {
        let (app, path) = (&app, format!("{record}/medical"));
        async move { app.get(&path, &token).await }
    };
    let counts = |file: &Value| {
        ["active_problems", "history", "vaccinations", "physicians"].map(|k| file[k].as_array().map_or(99, Vec::len))
    };
    assert_eq!(counts(&read(nurse.token.clone()).await.json), [1, 0, 1, 1]);
    // The care assistant reads the physicians to call them, not the medical part.
    let file = read(assistant.token.clone()).await;
    assert_eq!(counts(&file.json), [0, 0, 0, 1], "{}", file.text);
    assert_eq!(file.json["physicians"][0]["name"], "Dr Claire Martin");
    for outside in [&social, &director, &tenant.admin] {
        let file = read(outside.token.clone()).await;
        assert_eq!((file.status, counts(&file.json)), (200, [0, 0, 0, 0]), "{}", file.text);
    }
    // The new active problem is told to the next shift, in the medical scope only.
    let feed = format!("/api/v1/establishments/{ehpad}/handover?since=2020-01-01T00:00:00Z");
    let told = |feed: &Value| -> Vec<String> {
        feed["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "medical_problem")
            .map(|e| e["summary"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let shown = app.get(&feed, &nurse.token).await;
    assert_eq!(told(&shown.json), ["Problème actif : Insuffisance cardiaque (I50.9)"], "{}", shown.text);
    let shown = app.get(&feed, &assistant.token).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert!(told(&shown.json).is_empty(), "{}", shown.text);
    // A problem the caller does not read cannot be changed by them either.
    let problem_id = read(nurse.token.clone()).await.json["active_problems"][0]["id"].as_str().unwrap().to_owned();
    app.post(&format!("{record}/medical/problems/{problem_id}/resolve"), &assistant.token, json!({}))
        .await
        .problem(404);

    // A nurse of another establishment does not reach the record; through an emergency opening
    // she reads the medical file as her role does.
    let visitor = app.user(&tenant, &[(Some(other), Role::Nurse)]).await;
    read(visitor.token.clone()).await.problem(404);
    let reason = "Remplacement de nuit : malaise, besoin des antécédents";
    let opened = app.post(&format!("{record}/emergency-access"), &visitor.token, json!({"reason": reason})).await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let file = read(visitor.token.clone()).await;
    assert_eq!(counts(&file.json), [1, 0, 1, 1], "{}", file.text);
    assert_eq!(file.json["active_problems"][0]["cim10"], "I50.9");
}

#[tokio::test]
async fn the_persons_export_carries_the_medical_file() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Export", "Jeanne", "1932-04-04")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    for (path, body) in [
        ("problems", json!({"kind": "history", "text": "Cholécystectomie", "onset": "1980"})),
        ("vaccinations", json!({"vaccine": "Boostrixtetra", "given_on": "2025-05-05", "booster": true})),
        ("physicians", json!({"role": "attending", "name": "Dr Claire Martin", "rpps": "10003456789"})),
    ] {
        let created = app.post(&format!("{record}/medical/{path}"), &nurse.token, body).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let export = app.get(&format!("{record}/export"), &tenant.admin.token).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.json["record"]["medical_problems"][0]["text"], "Cholécystectomie", "{}", export.text);
    assert_eq!(export.json["record"]["medical_problems"][0]["onset"], "1980");
    assert_eq!(export.json["record"]["vaccinations"][0]["vaccine"], "Boostrixtetra");
    assert_eq!(export.json["record"]["physicians"][0]["rpps"], "10003456789");
}

#[tokio::test]
async fn one_attending_physician_in_force_held_by_the_database_through_races_errors_and_merges() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Traitant", "Odile", "1933-03-03")})).await;
    let kept = admitted.json["id"].as_str().unwrap().to_owned();
    let record = format!("/api/v1/residents/{kept}");
    let physicians = format!("{record}/medical/physicians");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;

    // Five professionals record an attending physician at the same moment: one is.
    let mut tries = tokio::task::JoinSet::new();
    for i in 0..5 {
        let body = json!({"role": "attending", "name": format!("Dr Course {i}"), "phone": "01 23 45 67 89"});
        let request = app.client.post(app.url(&physicians)).bearer_auth(&nurse.token).json(&body);
        tries.spawn(async move { TestApp::read(request.send().await.unwrap()).await });
    }
    let answers = tries.join_all().await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409], "{:?}", answers.iter().map(|a| &a.text).collect::<Vec<_>>());
    let first = answers.iter().find(|a| a.status == 201).unwrap();
    let first_id = first.json["id"].as_str().unwrap().to_owned();

    // The record's first screen says who to call.
    let summary = app.get(&format!("{record}/summary"), &nurse.token).await;
    assert_eq!(summary.status, 200, "{}", summary.text);
    assert_eq!(summary.json["attending_physician"]["id"], first_id.as_str());
    assert_eq!(summary.json["attending_physician"]["phone"], "01 23 45 67 89");

    // Recorded by mistake: flagged with its reason, no longer in force, and a new one may be
    // recorded; nothing more is done to a flagged entry.
    let flag = format!("{physicians}/{first_id}/entered-in-error");
    app.post(&flag, &nurse.token, json!({"reason": " "})).await.problem(422);
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Pas son médecin : homonyme"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["in_force"], false);
    assert_eq!(flagged.json["entered_in_error"]["reason"], "Pas son médecin : homonyme");
    app.post(&flag, &nurse.token, json!({"reason": "encore"})).await.problem(409);
    app.post(&format!("{physicians}/{first_id}/end"), &nurse.token, json!({})).await.problem(409);
    let summary = app.get(&format!("{record}/summary"), &nurse.token).await;
    assert_eq!(summary.json["attending_physician"], Value::Null, "{}", summary.text);
    let right = app.post(&physicians, &nurse.token, json!({"role": "attending", "name": "Dr Juste"})).await;
    assert_eq!(right.status, 201, "{}", right.text);
    let file = app.get(&format!("{record}/medical"), &nurse.token).await;
    let first_name = flagged.json["name"].as_str().unwrap().to_owned();
    assert_eq!(texts(&file.json["physicians"], "name"), ["Dr Juste".to_owned(), first_name]);

    // A duplicate record with its own attending physician is merged: the duplicate's one ends
    // (the record kept has one), and comes back in force when the merge is undone.
    let duplicate =
        admit(&app, &tenant, json!({"identity": identity("Traitant", "Odile", "1933-03-03"), "confirm_homonym": true}))
            .await;
    let duplicate = duplicate.json["id"].as_str().unwrap().to_owned();
    let other = app
        .post(
            &format!("/api/v1/residents/{duplicate}/medical/physicians"),
            &nurse.token,
            json!({"role": "attending", "name": "Dr Doublon"}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
    let referent = app.user(&tenant, &[(Some(ehpad), Role::IdentityVigilance)]).await;
    let reason = "Même personne, doublon créé à l'admission";
    let merged = app
        .post(&format!("{record}/merge"), &referent.token, json!({"duplicate_id": duplicate, "reason": reason}))
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    let file = app.get(&format!("{record}/medical"), &nurse.token).await;
    let in_force: Vec<(String, bool)> = file.json["physicians"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["entered_in_error"].is_null())
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["in_force"].as_bool().unwrap()))
        .collect();
    assert_eq!(in_force, [("Dr Juste".to_owned(), true), ("Dr Doublon".to_owned(), false)], "{}", file.text);
    let undo = json!({"duplicate_id": duplicate, "reason": "Deux personnes distinctes, pas un doublon"});
    let undone = app.post(&format!("{record}/unmerge"), &referent.token, undo).await;
    assert_eq!(undone.status, 200, "{}", undone.text);
    let back = app.get(&format!("/api/v1/residents/{duplicate}/medical"), &nurse.token).await;
    assert_eq!(back.json["physicians"][0]["name"], "Dr Doublon", "{}", back.text);
    assert_eq!(back.json["physicians"][0]["in_force"], true, "{}", back.text);
    assert_eq!(back.json["physicians"][0]["until"], Value::Null, "{}", back.text);
}
