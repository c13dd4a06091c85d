//! Measurements: plausibility (422) versus out-of-range (flagged), series for charts, entries
//! made in error, who records and reads them.

use dui_domain::people::Role;
use dui_testkit::TestApp;
use serde_json::json;

use crate::residents::{admit, identity};

#[tokio::test]
async fn measurements_are_checked_flagged_and_charted() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Mesure", "Anne", "1939-09-09")})).await;
    let series = format!("/api/v1/residents/{}/measurements", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;

    for (body, at) in [
        (json!({"kind": "weight", "value": 61.84}), "2026-11-01T08:00:00Z"),
        (json!({"kind": "weight", "value": 60.5, "unit": "kg"}), "2026-11-15T08:00:00Z"),
        (json!({"kind": "blood_pressure", "systolic": 162, "diastolic": 85}), "2026-11-15T08:05:00Z"),
        (json!({"kind": "blood_glucose", "value": 5.5, "unit": "mmol/L"}), "2026-11-15T08:10:00Z"),
        (json!({"kind": "spo2", "value": 97}), "2026-11-15T08:15:00Z"),
    ] {
        let mut body = body;
        body["measured_at"] = json!(at);
        let recorded = app.post(&series, &nurse.token, body.clone()).await;
        assert_eq!(recorded.status, 201, "{body}: {}", recorded.text);
    }
    // Implausible values are refused, naming the field; unknown fields and kinds too.
    for (body, field) in [
        (json!({"kind": "weight", "value": 612}), "value"),
        (json!({"kind": "blood_pressure", "systolic": 80, "diastolic": 120}), "diastolic"),
        (json!({"kind": "temperature", "value": 52.0}), "value"),
        (json!({"kind": "blood_glucose", "value": 1.1}), "unit"),
        (json!({"kind": "spo2", "value": 97, "measured_at": "2099-01-01T00:00:00Z"}), "measured_at"),
    ] {
        let refused = app.post(&series, &nurse.token, body.clone()).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], field, "{body}: {}", refused.text);
    }
    let unknown = app.post(&series, &nurse.token, json!({"kind": "mood", "value": 3})).await;
    assert!(matches!(unknown.status, 400 | 422), "{}", unknown.text);

    // The weight series, oldest first, rounded; the high blood pressure is flagged.
    let weights = app.get(&format!("{series}?kind=weight"), &nurse.token).await;
    assert_eq!(weights.status, 200, "{}", weights.text);
    let values: Vec<f64> = weights.json.as_array().unwrap().iter().map(|m| m["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [61.8, 60.5]);
    assert_eq!(weights.json[0]["unit"], "kg");
    let pressure = app.get(&format!("{series}?kind=blood_pressure"), &nurse.token).await;
    assert_eq!((pressure.json[0]["systolic"].as_i64(), pressure.json[0]["flag"].as_str()), (Some(162), Some("high")));
    let glucose = app.get(&format!("{series}?kind=blood_glucose"), &nurse.token).await;
    assert_eq!((glucose.json[0]["value"].as_f64(), glucose.json[0]["unit"].as_str()), (Some(0.99), Some("g/L")));
    let period = app.get(&format!("{series}?from=2026-11-10T00:00:00Z&to=2026-11-16T00:00:00Z"), &nurse.token).await;
    assert_eq!(period.json.as_array().unwrap().len(), 4);
    app.get(&format!("{series}?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z"), &nurse.token).await.problem(422);

    // An entry made in error stays, flagged; once.
    let first = weights.json[0]["id"].as_str().unwrap();
    let flag = format!("{series}/{first}/entered-in-error");
    let flagged = app.post(&flag, &nurse.token, json!({})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["entered_in_error_by"], nurse.id.to_string());
    app.post(&flag, &nurse.token, json!({})).await.problem(404);
    assert_eq!(app.get(&format!("{series}?kind=weight"), &nurse.token).await.json.as_array().unwrap().len(), 2);

    // Clinical data: the social worker neither records nor reads it.
    app.post(&series, &social.token, json!({"kind": "pulse", "value": 70})).await.problem(403);
    assert_eq!(app.get(&series, &social.token).await.json, json!([]));
}
