//! Nutrition and hydration: diets and textures as versions (a change told at the hand-over), the
//! food and fluid watch (one at a time, its days, totals and alerts, a meal recorded again
//! correcting it, the alerts told when the next day is first recorded), and the nutrition
//! summary that takes the weight's undernutrition criteria from the measurements.

use chrono::NaiveDate;
use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant};
use serde_json::{Value, json};

use crate::residents::{admit, identity};

async fn resident(app: &TestApp, tenant: &TestTenant, name: &str, born: &str) -> String {
    let admitted = admit(app, tenant, json!({"identity": identity(name, "Anne", born)})).await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    admitted.json["id"].as_str().unwrap().to_owned()
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

/// The hand-over's events of one kind, newest first.
async fn told(app: &TestApp, tenant: &TestTenant, token: &str, kind: &str) -> Vec<String> {
    let feed = format!("/api/v1/establishments/{}/handover?since=2020-01-01T00:00:00Z", tenant.establishments[0].id);
    let shown = app.get(&feed, token).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    shown.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["summary"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_diet_changes_by_versions_and_each_change_is_told() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let id = resident(&app, &tenant, "Regime", "1935-03-03").await;
    let diet = format!("/api/v1/residents/{id}/diet");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;

    let body = |diets: Value, food: &str, drink: &str| {
        json!({"diets": diets, "food_texture": food, "drink_texture": drink, "decided_by": "speech_therapist",
               "decided_by_name": "Mme Orthophoniste", "comment": "N'aime pas le poisson"})
    };
    for (sent, field) in [
        (body(json!(["normal", "low_salt"]), "normal", "iddsi_0"), "diets"),
        (body(json!([]), "normal", "iddsi_0"), "diets"),
        (body(json!(["other"]), "normal", "iddsi_0"), "other_diet"),
    ] {
        assert_eq!(fields(app.post(&diet, &nurse.token, sent.clone()).await.problem(422)), [field], "{sent}");
    }
    let texture = app.post(&diet, &nurse.token, body(json!(["normal"]), "mouline", "iddsi_5")).await;
    assert!(matches!(texture.status, 400 | 422), "IDDSI 5 is for foods: {}", texture.text);

    let first = app.post(&diet, &nurse.token, body(json!(["low_salt", "diabetic"]), "mixe", "iddsi_2")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json["diets"], json!(["diabetic", "low_salt"]));
    assert_eq!(
        (first.json["thickened_drinks"].as_bool(), first.json["comment"].as_str()),
        (Some(true), Some("N'aime pas le poisson"))
    );
    let second = app.post(&diet, &nurse.token, body(json!(["diabetic", "low_salt"]), "lisse", "iddsi_2")).await;
    assert_eq!(second.status, 201, "{}", second.text);
    // The same again: a version, nothing to tell.
    assert_eq!(
        app.post(&diet, &nurse.token, body(json!(["diabetic", "low_salt"]), "lisse", "iddsi_2")).await.status,
        201
    );

    let versions = app.get(&diet, &nurse.token).await;
    assert_eq!(versions.status, 200, "{}", versions.text);
    assert_eq!(versions.json.as_array().unwrap().len(), 3);
    assert_eq!(versions.json[1]["id"], second.json["id"], "the latest first");
    assert_eq!(versions.json[2]["food_texture"], "mixe");
    let start = first.json["starts_on"].as_str().unwrap();
    let start = NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap().format("%d/%m/%Y").to_string();
    assert_eq!(
        told(&app, &tenant, &nurse.token, "diet_change").await,
        [
            format!("Texture lisse (à partir du {start})"),
            format!("Régime diabétique, hyposodé ; texture mixée ; boissons IDDSI 2 (à partir du {start})"),
        ]
    );

    // The care team's data: the social worker neither sets nor reads it, nor hears of it.
    app.post(&diet, &social.token, body(json!(["normal"]), "normal", "iddsi_0")).await.problem(403);
    assert_eq!(app.get(&diet, &social.token).await.json, json!([]));
    assert!(told(&app, &tenant, &social.token, "diet_change").await.is_empty());
}

fn day(today: NaiveDate, back: u64) -> String {
    today.checked_sub_days(chrono::Days::new(back)).unwrap().to_string()
}

#[tokio::test]
async fn a_watch_adds_up_its_days_alerts_on_them_and_tells_the_next_morning() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let id = resident(&app, &tenant, "Surveillee", "1935-03-03").await;
    let record = format!("/api/v1/residents/{id}");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    // Nothing watched yet; today as the establishment's calendar has it.
    let empty = app.get(&format!("{record}/intakes"), &nurse.token).await;
    assert_eq!((empty.status, &empty.json["days"]), (200, &json!([])), "{}", empty.text);
    let today: NaiveDate = empty.json["on"].as_str().unwrap().parse().unwrap();

    let watches = format!("{record}/nutrition-watches");
    let refused =
        app.post(&watches, &nurse.token, json!({"covers": "both", "reason": "x", "hydration_threshold_ml": 200})).await;
    assert_eq!(fields(refused.problem(422)), ["reason", "hydration_threshold_ml"]);
    let watch = app
        .post(
            &watches,
            &nurse.token,
            json!({"covers": "both", "reason": "Perte de 3 kg en un mois", "started_on": day(today, 4)}),
        )
        .await;
    assert_eq!(watch.status, 201, "{}", watch.text);
    assert_eq!(
        (watch.json["hydration_threshold_ml"].as_i64(), watch.json["food_alert_days"].as_i64()),
        (Some(1000), Some(3))
    );
    // One at a time.
    app.post(&watches, &nurse.token, json!({"covers": "fluids", "reason": "Canicule"})).await.problem(409);

    let intakes = format!("{record}/intakes");
    let post = |body: Value| {
        let (app, intakes, token) = (&app, &intakes, assistant.token.clone());
        async move {
            let recorded = app.post(intakes, &token, body.clone()).await;
            assert_eq!(recorded.status, 201, "{body}: {}", recorded.text);
            recorded.json
        }
    };
    for (back, meal, eaten, drinks) in [
        (4, "breakfast", Some("all"), Some(250)),
        (4, "lunch", Some("three_quarters"), Some(400)),
        (4, "dinner", Some("half"), Some(500)),
        (3, "lunch", Some("quarter"), Some(600)),
        (3, "dinner", Some("half"), Some(500)),
        (2, "breakfast", Some("none"), Some(300)),
        (2, "lunch", Some("half"), Some(900)),
        (1, "lunch", Some("quarter"), Some(300)),
        (1, "snack", None, Some(200)),
    ] {
        post(json!({"day": day(today, back), "meal": meal, "eaten": eaten, "drinks_ml": drinks})).await;
    }
    for (body, field) in [
        (json!({"day": day(today, 5), "meal": "lunch", "eaten": "all"}), "day"),
        (json!({"day": (today + chrono::Days::new(1)).to_string(), "meal": "lunch", "eaten": "all"}), "day"),
        (json!({"meal": "lunch"}), "eaten"),
        (json!({"meal": "lunch", "drinks_ml": 4000}), "drinks_ml"),
    ] {
        assert_eq!(fields(app.post(&intakes, &nurse.token, body.clone()).await.problem(422)), [field], "{body}");
    }
    // Days recorded afterwards tell nothing yet: the alerts are told when today is first recorded.
    assert!(told(&app, &tenant, &nurse.token, "intake_alert").await.is_empty());

    let read = app.get(&format!("{intakes}?from={}&to={}", day(today, 6), today), &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let days: Vec<(String, Value, Value, bool, bool)> = read.json["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                d["drinks_ml"].clone(),
                d["main_meals_eaten_percent"].clone(),
                d["below_hydration_threshold"].as_bool().unwrap(),
                d["low_food_intake"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            (day(today, 4), json!(1150), json!(75), false, false),
            (day(today, 3), json!(1100), json!(37), false, true),
            (day(today, 2), json!(1200), json!(25), false, true),
            (day(today, 1), json!(500), json!(25), true, true),
            (today.to_string(), Value::Null, Value::Null, false, false),
        ],
        "{}",
        read.text
    );
    let alerts: Vec<(&str, &str)> = read.json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["from"].as_str().unwrap()))
        .collect();
    assert_eq!(alerts, [("low_hydration", day(today, 1).as_str()), ("low_food_intake", day(today, 3).as_str())]);
    app.get(&format!("{intakes}?from={today}&to={}", day(today, 1)), &nurse.token).await.problem(422);

    // Today's first record tells the hand-over, once, to the care team.
    post(json!({"meal": "breakfast", "eaten": "half", "drinks_ml": 150})).await;
    post(json!({"meal": "lunch", "eaten": "half", "drinks_ml": 200})).await;
    let yesterday = today.checked_sub_days(chrono::Days::new(1)).unwrap().format("%d/%m").to_string();
    assert_eq!(
        told(&app, &tenant, &nurse.token, "intake_alert").await,
        [format!(
            "Hydratation : 500 mL le {yesterday} (seuil 1000 mL) ; Repas principaux mangés à moins de la moitié depuis 3 jours"
        )]
    );
    assert!(told(&app, &tenant, &social.token, "intake_alert").await.is_empty());

    // A meal recorded again corrects it: the latest counts, the earlier stays, named.
    let corrected = post(json!({"day": day(today, 1), "meal": "lunch", "eaten": "all", "drinks_ml": 300})).await;
    let read = app.get(&format!("{intakes}?from={}&to={}", day(today, 1), day(today, 1)), &nurse.token).await;
    let lunch =
        read.json["days"][0]["meals"].as_array().unwrap().iter().find(|m| m["meal"] == "lunch").unwrap().clone();
    assert_eq!((&lunch["intake_id"], lunch["replaces"].as_array().unwrap().len()), (&corrected["id"], 1));
    let kinds: Vec<&str> =
        read.json["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["low_hydration"], "yesterday's meals were eaten after all");

    // The care team's: the social worker neither records nor reads.
    app.post(&intakes, &social.token, json!({"meal": "dinner", "eaten": "all"})).await.problem(403);
    let theirs = app.get(&intakes, &social.token).await;
    assert_eq!((&theirs.json["days"], &theirs.json["alerts"]), (&json!([]), &json!([])));
    assert_eq!(app.get(&watches, &social.token).await.json, json!([]));

    // Ended: its last day; once; no intake after it.
    let end = format!("{watches}/{}/end", watch.json["id"].as_str().unwrap());
    app.post(&end, &nurse.token, json!({"ended_on": day(today, 9)})).await.problem(422);
    let ended = app.post(&end, &nurse.token, json!({"ended_on": day(today, 1)})).await;
    assert_eq!((ended.status, ended.json["ended_on"].as_str()), (200, Some(day(today, 1).as_str())), "{}", ended.text);
    app.post(&end, &nurse.token, json!({})).await.problem(409);
    assert_eq!(
        fields(app.post(&intakes, &nurse.token, json!({"meal": "dinner", "eaten": "all"})).await.problem(422)),
        ["day"]
    );
    let listed = app.get(&watches, &nurse.token).await;
    assert_eq!(
        (listed.json.as_array().unwrap().len(), listed.json[0]["reason"].as_str()),
        (1, Some("Perte de 3 kg en un mois"))
    );
    // Another may start now; its retry answers it again, past the one-at-a-time rule.
    let body = json!({"covers": "fluids", "reason": "Canicule", "hydration_threshold_ml": 1500});
    let key = [("Idempotency-Key", "canicule-1")];
    let next = app.request_with(reqwest::Method::POST, &watches, Some(&nurse.token), Some(body.clone()), &key).await;
    assert_eq!(next.status, 201, "{}", next.text);
    let again = app.request_with(reqwest::Method::POST, &watches, Some(&nurse.token), Some(body), &key).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")), "{}", again.text);
    assert_eq!(again.json["id"], next.json["id"]);
    assert_eq!(app.get(&watches, &nurse.token).await.json.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_summary_gathers_diet_watch_intake_and_the_weights_criteria() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    // 87 years old: the HAS criteria for people of 70 and over.
    let id = resident(&app, &tenant, "Synthese", "1939-09-09").await;
    let record = format!("/api/v1/residents/{id}");
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    for body in [
        json!({"kind": "height", "value": 160, "measured_at": "2026-09-01T08:00:00Z"}),
        json!({"kind": "weight", "value": 62.5, "measured_at": "2026-10-01T08:00:00Z"}),
        json!({"kind": "weight", "value": 59.0, "measured_at": "2026-11-01T08:00:00Z"}),
    ] {
        assert_eq!(app.post(&format!("{record}/measurements"), &nurse.token, body).await.status, 201);
    }
    let summary = format!("{record}/nutrition");
    let bare = app.get(&summary, &nurse.token).await;
    assert_eq!(bare.status, 200, "{}", bare.text);
    assert_eq!((&bare.json["diet"], &bare.json["watch"]), (&Value::Null, &Value::Null));

    let diet = json!({"diets": ["enriched"], "food_texture": "iddsi_5", "drink_texture": "iddsi_0", "decided_by": "dietitian"});
    assert_eq!(app.post(&format!("{record}/diet"), &nurse.token, diet).await.status, 201);
    let watch = app
        .post(&format!("{record}/nutrition-watches"), &nurse.token, json!({"covers": "food", "reason": "Dénutrition"}))
        .await;
    assert_eq!(watch.status, 201, "{}", watch.text);
    let intake =
        app.post(&format!("{record}/intakes"), &nurse.token, json!({"meal": "lunch", "eaten": "quarter"})).await;
    assert_eq!(intake.status, 201, "{}", intake.text);

    let read = app.get(&summary, &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let json = &read.json;
    assert_eq!(
        (json["diet"]["diets"].clone(), json["diet"]["food_texture"].as_str()),
        (json!(["enriched"]), Some("iddsi_5"))
    );
    assert_eq!(json["watch"]["id"], watch.json["id"]);
    assert_eq!(json["recent_days"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["recent_days"][0]["main_meals_eaten_percent"], 25);
    // The weight as the measurements say it: the same status, computed once, there.
    let status = app.get(&format!("{record}/nutrition-status"), &nurse.token).await;
    assert_eq!(json["weight"], status.json);
    assert_eq!(json["weight"]["nutrition"]["undernutrition"], "moderate");
    assert_eq!(json["weight"]["latest_weight"]["value"], 59.0);

    // One reading recorded for the summary.
    let report = app.get(&format!("{record}/access-report"), &director.token).await;
    let reads = report.json.as_array().unwrap().iter().filter(|e| e["action"] == "nutrition.read").count();
    assert_eq!(reads, 2, "{}", report.text);

    // Those who do not read the care team's data see none of it; outside the team, nothing.
    let theirs = app.get(&summary, &social.token).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(
        (&theirs.json["diet"], &theirs.json["watch"], &theirs.json["weight"]["latest_weight"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    let elsewhere = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    app.get(&summary, &elsewhere.token).await.problem(404);
    let denied = app.get(&format!("{record}/access-report"), &director.token).await;
    let refused = denied
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "nutrition.read" && e["outcome"] == "denied")
        .count();
    assert_eq!(refused, 1, "{}", denied.text);
}
