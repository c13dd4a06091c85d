//! Wounds and pressure ulcers: what a wound needs when found (a stage for a pressure ulcer only),
//! its assessments (the wound bed adds up, the size series), its closure; its dressings as tasks
//! of the day, recorded by the care team; what the hand-over is told; the establishment's open
//! pressure ulcers (the quality indicator); who records and who reads.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant};
use serde_json::{Value, json};

use crate::residents::{admit, identity};

async fn resident(app: &TestApp, tenant: &TestTenant, name: &str) -> String {
    let admitted = admit(app, tenant, json!({"identity": identity(name, "Anne", "1935-03-03")})).await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    admitted.json["id"].as_str().unwrap().to_owned()
}

/// Puts a protocol version in force since `at` (a protocol's dressings start after it is set).
pub async fn backdate_protocol(app: &TestApp, tenant: &TestTenant, protocol: &Value, at: &str) {
    let owner = app.db.connect(&app.db.owner_url).await;
    let id: uuid::Uuid = protocol.as_str().unwrap().parse().unwrap();
    owner.batch_execute(&format!("SET app.tenant_id = '{}'", tenant.id)).await.unwrap();
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    let changed =
        owner.execute("UPDATE wound_protocols SET recorded_at = $2 WHERE id = $1", &[&id, &at]).await.unwrap();
    assert_eq!(changed, 1);
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_wound_is_recorded_assessed_charted_and_closed() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let id = resident(&app, &tenant, "Plaie").await;
    let wounds = format!("/api/v1/residents/{id}/wounds");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;

    // A stage goes with a pressure ulcer, and only with one; another site is said in words.
    for (body, field) in [
        (json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired"}), "stage"),
        (json!({"kind": "skin_tear", "site": "elbow", "origin": "acquired", "stage": "stage_1"}), "stage"),
        (json!({"kind": "burn", "site": "other", "origin": "present_on_admission"}), "site_detail"),
        (json!({"kind": "surgical", "site": "hip_left", "origin": "acquired", "opened_on": "2099-01-01"}), "opened_on"),
    ] {
        let refused = app.post(&wounds, &nurse.token, body.clone()).await;
        assert_eq!(fields(refused.problem(422)), [field], "{body}: {}", refused.text);
    }
    let unknown =
        app.post(&wounds, &nurse.token, json!({"kind": "bruise", "site": "sacrum", "origin": "acquired"})).await;
    assert!(matches!(unknown.status, 400 | 422), "{}", unknown.text);

    let ulcer = app
        .post(
            &wounds,
            &assistant.token,
            json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired", "stage": "stage_2",
                   "opened_on": "2026-11-02", "description": "Phlyctène rompue, fond rosé"}),
        )
        .await;
    assert_eq!(ulcer.status, 201, "{}", ulcer.text);
    assert_eq!(
        (ulcer.json["stage_at_opening"].as_str(), ulcer.json["description"].as_str()),
        (Some("stage_2"), Some("Phlyctène rompue, fond rosé"))
    );
    let wound = ulcer.json["id"].as_str().unwrap().to_owned();
    let assess = format!("{wounds}/{wound}/assessments");

    // The wound bed adds up to 100 %; a size has both sides; not before the wound was found.
    for (body, field) in [
        (
            json!({"length_cm": 3, "width_cm": 2, "bed": {"necrosis": 10, "fibrin": 30, "granulation": 50,
                "epithelialisation": 0}}),
            "bed",
        ),
        (json!({"length_cm": 3}), "width_cm"),
        (json!({"length_cm": 3, "width_cm": 2, "assessed_on": "2026-10-01"}), "assessed_on"),
        (json!({"pain": 12}), "pain"),
        (json!({}), "observations"),
    ] {
        let refused = app.post(&assess, &nurse.token, body.clone()).await;
        assert_eq!(fields(refused.problem(422)), [field], "{body}: {}", refused.text);
    }
    let first = app
        .post(
            &assess,
            &nurse.token,
            json!({"assessed_on": "2026-11-05", "length_cm": 3.04, "width_cm": 2, "depth_cm": 0.5, "stage": "stage_3",
                   "bed": {"necrosis": 0, "fibrin": 30, "granulation": 70, "epithelialisation": 0},
                   "exudate": "moderate", "pain": 3, "observations": "Berges macérées"}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!((first.json["length_cm"].as_f64(), first.json["stage"].as_str()), (Some(3.0), Some("stage_3")));
    let second = app
        .post(
            &assess,
            &nurse.token,
            // A score written `2.0` is the integer 2, as JSON Schema reads it.
            json!({"assessed_on": "2026-11-20", "length_cm": 2.5, "width_cm": 1.5, "exudate": "low", "pain": 2.0}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.json["pain"], 2, "{}", second.text);

    // The list: the latest stage seen, the assessments and the size over time.
    let listed = app.get(&wounds, &nurse.token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let file = &listed.json[0];
    assert_eq!(file["stage"], "stage_3");
    assert_eq!(file["assessments"].as_array().unwrap().len(), 2);
    assert_eq!(file["assessments"][0]["observations"], "Berges macérées");
    let areas: Vec<f64> = file["size"].as_array().unwrap().iter().map(|s| s["area_cm2"].as_f64().unwrap()).collect();
    assert_eq!(areas, [6.0, 3.75]);
    assert_eq!(file["size"][0]["assessed_on"], "2026-11-05");

    // The care team's data: the social worker neither records nor reads it.
    app.post(&wounds, &social.token, json!({"kind": "skin_tear", "site": "elbow", "origin": "acquired"}))
        .await
        .problem(403);
    app.post(&assess, &social.token, json!({"pain": 2})).await.problem(403);
    assert_eq!(app.get(&wounds, &social.token).await.json, json!([]));

    // Closed: once, not assessed any more, no longer listed as open.
    let close = format!("{wounds}/{wound}/close");
    app.post(&close, &nurse.token, json!({"outcome": "healed", "closed_on": "2026-10-01"})).await.problem(422);
    let closed = app.post(&close, &nurse.token, json!({"outcome": "healed"})).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(
        (closed.json["outcome"].as_str(), closed.json["closed_by"].as_str()),
        (Some("healed"), Some(nurse.id.to_string().as_str()))
    );
    app.post(&close, &nurse.token, json!({"outcome": "healed"})).await.problem(409);
    app.post(&assess, &nurse.token, json!({"pain": 1})).await.problem(409);
    assert_eq!(app.get(&wounds, &nurse.token).await.json, json!([]));
    let all = app.get(&format!("{wounds}?status=all"), &nurse.token).await;
    assert_eq!(all.json[0]["wound"]["outcome"], "healed", "{}", all.text);
    assert_eq!(app.get(&format!("{wounds}?status=closed"), &nurse.token).await.json.as_array().unwrap().len(), 1);
    // Another person's wound is not this one's.
    let other = resident(&app, &tenant, "Autre").await;
    app.post(&format!("/api/v1/residents/{other}/wounds/{wound}/assessments"), &nurse.token, json!({"pain": 1}))
        .await
        .problem(404);
}

#[tokio::test]
async fn a_wound_found_or_worse_is_told_at_the_handover_to_the_care_team() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let id = resident(&app, &tenant, "Releve").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let wounds = format!("/api/v1/residents/{id}/wounds");
    let created = app
        .post(
            &wounds,
            &nurse.token,
            json!({"kind": "pressure_ulcer", "site": "heel_left", "origin": "acquired", "stage": "stage_1"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let assess = format!("{wounds}/{}/assessments", created.json["id"].as_str().unwrap());
    // Better, or the same, is not told; worse is, and so are signs of infection.
    for body in [json!({"stage": "stage_1", "length_cm": 2, "width_cm": 2}), json!({"exudate": "low"})] {
        assert_eq!(app.post(&assess, &nurse.token, body).await.status, 201);
    }
    let worse = app.post(&assess, &nurse.token, json!({"stage": "stage_2", "infection_signs": ["odour", "pus"]})).await;
    assert_eq!(worse.status, 201, "{}", worse.text);

    let feed = format!("/api/v1/establishments/{ehpad}/handover?since=2020-01-01T00:00:00Z");
    let shown = app.get(&feed, &nurse.token).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    let events: Vec<(&str, &str, &str)> = shown.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "wound")
        .map(|e| (e["kind"].as_str().unwrap(), e["source_type"].as_str().unwrap(), e["summary"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("wound", "wound_assessment", "Escarre talon gauche : stade 1 → stade 2 ; signes d'infection (pus, odeur)"),
            ("wound", "wound", "Escarre stade 1 — talon gauche (apparue dans l'établissement)"),
        ],
        "{}",
        shown.text
    );
    assert_eq!(shown.json["events"][0]["source_id"], worse.json["id"]);
    assert_eq!(shown.json["events"][1]["source_id"], created.json["id"]);
    // The care team's: the social worker's feed does not tell it.
    let theirs = app.get(&feed, &social.token).await;
    let kinds: Vec<&str> =
        theirs.json["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(!kinds.contains(&"wound"), "{}", theirs.text);
}

#[tokio::test]
async fn a_protocols_dressings_are_tasks_of_the_day_for_the_care_team() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let id = resident(&app, &tenant, "Pansement").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let helper = app.user(&tenant, &[(Some(ehpad), Role::HomeHelper)]).await;
    let assigned = app
        .post(&format!("/api/v1/residents/{id}/assignments"), &tenant.admin.token, json!({"user_id": helper.id}))
        .await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    let wounds = format!("/api/v1/residents/{id}/wounds");
    let created = app
        .post(&wounds, &nurse.token, json!({"kind": "leg_ulcer", "site": "leg", "origin": "present_on_admission"}))
        .await;
    let wound = created.json["id"].as_str().unwrap().to_owned();
    let protocol = format!("{wounds}/{wound}/protocol");

    let broken = app
        .post(
            &protocol,
            &nurse.token,
            json!({"products": [], "frequency": "", "schedule": {"kind": "daily", "times": []}}),
        )
        .await;
    assert_eq!(fields(broken.problem(422)), ["products", "frequency", "schedule.times"], "{}", broken.text);
    let first = app
        .post(
            &protocol,
            &nurse.token,
            json!({"products": ["Sérum physiologique", "Interface siliconée"], "frequency": "Tous les jours",
                   "schedule": {"kind": "daily", "times": ["08:00"]}}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json["protocol"]["who"]["role"], "nurse", "a nurse by default");
    // A new version ends the one in force.
    let second = app
        .post(
            &protocol,
            &nurse.token,
            json!({"products": ["Sérum physiologique", "Hydrocellulaire"], "frequency": "Matin et soir",
                   "schedule": {"kind": "daily", "times": ["08:00", "20:00"]}, "instructions": "Bande de contention"}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let file = &app.get(&wounds, &nurse.token).await.json[0];
    assert_eq!(file["protocols"].as_array().unwrap().len(), 2);
    assert!(file["protocols"][0]["ended_at"].is_string());
    assert_eq!(file["protocol"]["id"], second.json["id"]);
    backdate_protocol(&app, &tenant, &second.json["id"], "2026-06-01T00:00:00Z").await;

    // Today's dressings, for the care team; the social worker and the home helper do not get them.
    let day = format!("/api/v1/establishments/{ehpad}/tasks");
    let tasks = app.get(&day, &nurse.token).await;
    assert_eq!(tasks.status, 200, "{}", tasks.text);
    let dressings: Vec<&Value> =
        tasks.json.as_array().unwrap().iter().filter(|t| t["wound_protocol_id"] == second.json["id"]).collect();
    assert_eq!(dressings.len(), 2, "{}", tasks.text);
    let task = dressings[0];
    assert_eq!(task["what"], "Pansement ulcère de jambe (jambe) : Sérum physiologique, Hydrocellulaire");
    assert_eq!((task["action_id"].as_str(), &task["plan_version_id"]), (Some(wound.as_str()), &Value::Null));
    for reader in [&social, &helper] {
        let theirs = app.get(&day, &reader.token).await;
        assert!(!theirs.text.contains(&wound), "{}", theirs.text);
    }

    // Recorded as a task, with its protocol; refused is told to the care team.
    let record = format!("/api/v1/residents/{id}/tasks");
    let body = json!({"wound_protocol_id": second.json["id"], "action_id": wound, "scheduled_for": task["scheduled_for"],
                      "status": "refused", "reason": "Douloureux ce matin"});
    app.post(&record, &social.token, body.clone()).await.problem(403);
    app.post(&record, &helper.token, body.clone()).await.problem(403);
    let mut both = body.clone();
    both["plan_version_id"] = second.json["id"].clone();
    assert_eq!(fields(app.post(&record, &nurse.token, both).await.problem(422)), ["wound_protocol_id"]);
    let mut old = body.clone();
    old["wound_protocol_id"] = first.json["id"].clone();
    assert_eq!(fields(app.post(&record, &nurse.token, old).await.problem(422)), ["scheduled_for"]);
    let mut wrong = body.clone();
    wrong["action_id"] = json!(uuid::Uuid::now_v7());
    assert_eq!(fields(app.post(&record, &nurse.token, wrong).await.problem(422)), ["action_id"]);
    let refused = app.post(&record, &nurse.token, body.clone()).await;
    assert_eq!(refused.status, 201, "{}", refused.text);
    assert_eq!(refused.json["wound_protocol_id"], second.json["id"]);
    app.post(&record, &nurse.token, body).await.problem(409);
    // Amended, as a task is.
    let amended = app
        .post(
            &format!("{record}/{}/amendments", refused.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    let tasks = app.get(&day, &nurse.token).await;
    let done = tasks
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scheduled_for"] == task["scheduled_for"] && t["action_id"] == wound.as_str());
    assert_eq!(done.unwrap()["state"], "done");
    let feed =
        app.get(&format!("/api/v1/establishments/{ehpad}/handover?since=2020-01-01T00:00:00Z"), &nurse.token).await;
    let refusals: Vec<&Value> =
        feed.json["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "task_refused").collect();
    assert_eq!(refusals.len(), 1, "{}", feed.text);
    assert_eq!(
        (refusals[0]["scope"].as_str(), refusals[0]["summary"].as_str()),
        (
            Some("care_team"),
            Some(
                "Pansement ulcère de jambe (jambe) : Sérum physiologique, Hydrocellulaire : refusé — Douloureux ce matin"
            )
        )
    );

    // The traceability of care shows the dressings to the care team only.
    let day_of = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
    let period = format!("{record}?from={}&to={}", day_of(-30), day_of(1));
    assert_eq!(app.get(&period, &nurse.token).await.json.as_array().unwrap().len(), 2);
    assert_eq!(app.get(&period, &social.token).await.json, json!([]));

    // While the person is away, the evening's dressing is suspended: nothing to record.
    let evening = dressings[1]["scheduled_for"].as_str().unwrap();
    let evening_at: chrono::DateTime<chrono::Utc> = evening.parse().unwrap();
    let away = app
        .post(
            &format!("/api/v1/residents/{id}/absences"),
            &nurse.token,
            json!({"kind": "hospitalisation", "starts_at": evening_at - chrono::Duration::hours(1)}),
        )
        .await;
    assert_eq!(away.status, 201, "{}", away.text);
    let tasks = app.get(&day, &nurse.token).await;
    let suspended = tasks
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scheduled_for"] == evening && t["action_id"] == wound.as_str());
    assert_eq!(suspended.unwrap()["state"], "suspended", "{}", tasks.text);
    let while_away = app
        .post(
            &record,
            &nurse.token,
            json!({"wound_protocol_id": second.json["id"], "action_id": wound, "scheduled_for": evening, "status": "done"}),
        )
        .await;
    assert_eq!(fields(while_away.problem(422)), ["scheduled_for"]);

    // Closing the wound ends its protocol: no more dressings.
    let closed = app.post(&format!("{wounds}/{wound}/close"), &nurse.token, json!({"outcome": "discharged"})).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    let file = &app.get(&format!("{wounds}?status=all"), &nurse.token).await.json[0];
    assert!(file["protocol"].is_null() && file["protocols"][1]["ended_at"].is_string(), "{file}");
    app.post(
        &protocol,
        &nurse.token,
        json!({"products": ["x"], "frequency": "x", "schedule": {"kind": "daily", "times": ["08:00"]}}),
    )
    .await
    .problem(409);
}

#[tokio::test]
async fn the_establishment_counts_its_open_pressure_ulcers_and_those_acquired_there() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let post = |id: String, body: Value| {
        let (app, token) = (&app, nurse.token.clone());
        async move {
            let created = app.post(&format!("/api/v1/residents/{id}/wounds"), &token, body.clone()).await;
            assert_eq!(created.status, 201, "{body}: {}", created.text);
            created.json["id"].as_str().unwrap().to_owned()
        }
    };
    let (a, b, c, d) = (
        resident(&app, &tenant, "Acquise").await,
        resident(&app, &tenant, "Admise").await,
        resident(&app, &tenant, "Dechirure").await,
        resident(&app, &tenant, "Gueri").await,
    );
    let acquired =
        post(a.clone(), json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired", "stage": "stage_1"}))
            .await;
    post(a.clone(), json!({"kind": "pressure_ulcer", "site": "heel_right", "origin": "acquired", "stage": "stage_2"}))
        .await;
    post(
        b.clone(),
        json!({"kind": "pressure_ulcer", "site": "ischium", "origin": "present_on_admission", "stage": "stage_3"}),
    )
    .await;
    post(c.clone(), json!({"kind": "skin_tear", "site": "elbow", "origin": "acquired"})).await;
    let healed =
        post(d.clone(), json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired", "stage": "stage_1"}))
            .await;
    let closed = app
        .post(&format!("/api/v1/residents/{d}/wounds/{healed}/close"), &nurse.token, json!({"outcome": "healed"}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    let staged = app
        .post(
            &format!("/api/v1/residents/{a}/wounds/{acquired}/assessments"),
            &nurse.token,
            json!({"stage": "stage_2"}),
        )
        .await;
    assert_eq!(staged.status, 201, "{}", staged.text);

    let report = format!("/api/v1/establishments/{ehpad}/pressure-ulcers");
    let read = app.get(&report, &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let counts = |json: &Value| {
        ["residents", "open", "acquired", "present_on_admission", "residents_with_acquired"]
            .map(|k| json[k].as_i64().unwrap())
    };
    assert_eq!(counts(&read.json), [4, 3, 2, 1, 1]);
    assert_eq!(read.json["acquired_prevalence_percent"], 25.0);
    let ulcers: Vec<(&str, &str, &str)> = read.json["ulcers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (u["resident"]["family_name"].as_str().unwrap(), u["site"].as_str().unwrap(), u["stage"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        ulcers,
        [("Acquise", "sacrum", "stage_2"), ("Acquise", "heel_right", "stage_2"), ("Admise", "ischium", "stage_3")]
    );

    // The director gets the indicator, not the people; other roles (the tenant administrator
    // too) nothing; another establishment's nurse, an establishment out of reach.
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let overseen = app.get(&report, &director.token).await;
    assert_eq!((counts(&overseen.json), &overseen.json["ulcers"]), ([4, 3, 2, 1, 1], &json!([])), "{}", overseen.text);
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    app.get(&report, &social.token).await.problem(403);
    app.get(&report, &tenant.admin.token).await.problem(403);
    let elsewhere = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    app.get(&report, &elsewhere.token).await.problem(404);
    let home = app.get(&format!("/api/v1/establishments/{saad}/pressure-ulcers"), &elsewhere.token).await;
    assert_eq!(counts(&home.json), [0, 0, 0, 0, 0]);
    assert_eq!(home.json["acquired_prevalence_percent"], Value::Null);
}
