//! Instruments over HTTP: their definitions, and the stateless scoring forms use to preview a
//! result.

use dui_testkit::TestApp;
use serde_json::{Value, json};

use crate::assessments::grid;

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_aggir_grid_is_scored_without_saving() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let score = "/api/v1/instruments/aggir/score";

    for (code, gir, group, rank) in [("A", 6, "H", 13), ("C", 1, "A", 1)] {
        let scored = app.post(score, token, grid(code)).await;
        assert_eq!(scored.status, 200, "{}", scored.text);
        assert_eq!(
            (&scored.json["gir"], &scored.json["group"], &scored.json["rank"]),
            (&json!(gir), &json!(group), &json!(rank))
        );
    }
    // Coherence and orientation C, everything else B: group A sums 2000 + 1200 + 16 + 16 + 20 +
    // 16 + 120 + 32 = 3420 ≥ 3390, rank 3, GIR 2.
    let mut profile = grid("B");
    profile["variables"]["coherence"] = json!("C");
    profile["variables"]["orientation"] = json!("C");
    let scored = app.post(score, token, profile.clone()).await;
    assert_eq!(
        (scored.json["gir"].as_i64(), scored.json["group"].as_str(), scored.json["rank"].as_i64()),
        (Some(2), Some("A"), Some(3))
    );

    // Sub-variables and adverbs give the same codes.
    profile["variables"]["toilette"] = json!({"haut": "A", "bas": "C"});
    profile["variables"]["coherence"] = json!({"communication": "C", "comportement": "A"});
    profile["variables"]["transferts"] =
        json!({"spontaneously": true, "totally": false, "correctly": true, "habitually": true});
    let same = app.post(score, token, profile.clone()).await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!((same.json["gir"].as_i64(), same.json["rank"].as_i64()), (Some(2), Some(3)));
    assert_eq!(same.json["variables"]["toilette"], "B");
    assert_eq!(same.json["variables"]["coherence"], "C");

    // Every bad field is named.
    let mut bad = grid("A");
    bad["variables"]["toilette"] = json!({"haut": "D", "bas": "A"});
    bad["variables"].as_object_mut().unwrap().remove("alerter");
    bad["variables"]["transferts"] = json!({"spontaneously": true});
    bad["variables"]["marche"] = json!("A");
    let refused = app.post(score, token, bad).await;
    let named = fields(refused.problem(422));
    for field in ["variables.toilette.haut", "variables.alerter", "variables.marche"] {
        assert!(named.contains(&field), "{field} in {named:?}");
    }
    assert!(named.iter().any(|f| f.starts_with("variables.transferts")), "{named:?}");
    app.post(score, token, json!([1, 2])).await.problem(422);
    // Scoring needs a user of a tenant, like everything else.
    assert_eq!(app.request(reqwest::Method::POST, score, None, Some(grid("A"))).await.status, 401);
}

#[tokio::test]
async fn every_instrument_is_described_and_scored() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let list = app.get("/api/v1/instruments", token).await;
    let codes: Vec<&str> = list.json.as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    for code in
        ["aggir", "mna", "mna-sf", "braden", "algoplus", "serafin-ph-besoins", "tinetti", "doloplus-2", "norton"]
    {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let braden = app.get("/api/v1/instruments/braden", token).await;
    assert_eq!(braden.status, 200, "{}", braden.text);
    let items = braden.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    app.get("/api/v1/instruments/pathos", token).await.problem(404);
    app.get("/api/v1/instruments/braden?version=1700", token).await.problem(404);

    // The lowest answer of every Braden item: 6 points, the highest risk band.
    let answers: serde_json::Map<String, Value> = items
        .iter()
        .map(|item| {
            let lowest = item["answers"]
                .as_array()
                .unwrap()
                .iter()
                .min_by_key(|a| a["points"].as_f64().unwrap() as i64)
                .unwrap();
            (item["code"].as_str().unwrap().to_owned(), lowest["code"].clone())
        })
        .collect();
    let scored = app.post("/api/v1/instruments/braden/score", token, json!({"answers": answers})).await;
    assert_eq!(scored.status, 200, "{}", scored.text);
    assert_eq!(scored.json["outcome"]["score"], 6);
    assert!(scored.json["outcome"]["band"]["code"].is_string());
    let mut wrong = answers.clone();
    let first = items[0]["code"].as_str().unwrap();
    wrong.insert(first.to_owned(), json!("never"));
    let refused = app.post("/api/v1/instruments/braden/score", token, json!({"answers": wrong})).await;
    assert_eq!(fields(refused.problem(422)), [format!("answers.{first}").as_str()]);
    // AGGIR in the generic form, too.
    let aggir = app.post("/api/v1/instruments/aggir/score", token, grid("A")).await;
    let generic = app.post("/api/v1/instruments/aggir/score", token, json!({"answers": grid("A")})).await;
    assert_eq!(generic.status, 200, "{}", generic.text);
    assert_eq!(aggir.json, generic.json);
}

/// The answers of `instrument` (as the API describes it) scoring `points`: the first items as
/// high as they go, the others at their lowest.
fn answers_scoring(instrument: &Value, points: i64) -> Value {
    let items = instrument["items"].as_array().unwrap();
    let lowest =
        |item: &Value| item["answers"].as_array().unwrap().iter().map(|a| a["points"].as_i64().unwrap()).min().unwrap();
    let mut left = points - items.iter().map(lowest).sum::<i64>();
    let mut answers = serde_json::Map::new();
    for item in items {
        let low = lowest(item);
        let chosen = item["answers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["points"].as_i64().unwrap() - low <= left)
            .max_by_key(|a| a["points"].as_i64().unwrap())
            .unwrap();
        left -= chosen["points"].as_i64().unwrap() - low;
        answers.insert(item["code"].as_str().unwrap().to_owned(), chosen["code"].clone());
    }
    assert_eq!(left, 0);
    Value::Object(answers)
}

#[tokio::test]
async fn fall_risk_pain_and_pressure_ulcer_scales_are_scored_and_recorded() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    // (instrument, score, band): each side of each cut-off, through the scoring endpoint.
    for (code, score, band) in [
        ("tinetti", 18, "high_risk"),
        ("tinetti", 19, "moderate_risk"),
        ("tinetti", 23, "moderate_risk"),
        ("tinetti", 24, "low_risk"),
        ("doloplus-2", 4, "pain_not_established"),
        ("doloplus-2", 5, "pain"),
        ("norton", 12, "high_risk"),
        ("norton", 13, "risk"),
        ("norton", 14, "risk"),
        ("norton", 15, "no_risk"),
    ] {
        let instrument = app.get(&format!("/api/v1/instruments/{code}"), token).await;
        assert_eq!(instrument.status, 200, "{}", instrument.text);
        let answers = answers_scoring(&instrument.json, score);
        let scored = app.post(&format!("/api/v1/instruments/{code}/score"), token, json!({"answers": answers})).await;
        assert_eq!(scored.status, 200, "{}", scored.text);
        assert_eq!(
            (scored.json["outcome"]["score"].as_i64(), scored.json["outcome"]["band"]["code"].as_str()),
            (Some(score), Some(band)),
            "{code} {score}"
        );
    }
    // Recorded on a record like any assessment, the band kept with it.
    let ehpad = tenant.establishments[0].id;
    let nurse = app.user(&tenant, &[(Some(ehpad), dui_domain::people::Role::Nurse)]).await;
    let admitted = crate::residents::admit(
        &app,
        &tenant,
        json!({"identity": crate::residents::identity("Norton", "Berthe", "1932-02-02")}),
    )
    .await;
    let norton = app.get("/api/v1/instruments/norton", token).await;
    let recorded = app
        .post(
            &format!("/api/v1/residents/{}/assessments", admitted.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"instrument": "norton", "assessed_on": "2026-11-02", "answers": answers_scoring(&norton.json, 14)}),
        )
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    assert_eq!(recorded.json["outcome"]["band"]["code"], "risk", "{}", recorded.text);
}
