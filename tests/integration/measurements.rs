//! Measurements: physiological bounds (422) versus out-of-range (flagged), values kept as
//! entered beside the reference unit, series for charts, undernutrition criteria and the
//! nutrition status, entries made in error and their reasons, who records and reads them.

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
    // The glucose as entered, and in g/L.
    let glucose = app.get(&format!("{series}?kind=blood_glucose"), &nurse.token).await;
    assert_eq!((glucose.json[0]["value"].as_f64(), glucose.json[0]["unit"].as_str()), (Some(5.5), Some("mmol/L")));
    assert_eq!(glucose.json[0]["reference"], json!({"value": 0.99, "unit": "g/L"}));
    let period = app.get(&format!("{series}?from=2026-11-10T00:00:00Z&to=2026-11-16T00:00:00Z"), &nurse.token).await;
    assert_eq!(period.json.as_array().unwrap().len(), 4);
    app.get(&format!("{series}?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z"), &nurse.token).await.problem(422);
    // The same period in days (Paris), the last one included.
    let days = app.get(&format!("{series}?from=2026-11-10&to=2026-11-15"), &nurse.token).await;
    assert_eq!(days.json, period.json, "{}", days.text);

    // An entry made in error stays, flagged; once.
    let first = weights.json[0]["id"].as_str().unwrap();
    let flag = format!("{series}/{first}/entered-in-error");
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Pesée d'une autre résidente"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["entered_in_error_by"], nurse.id.to_string());
    app.post(&flag, &nurse.token, json!({"reason": "Encore"})).await.problem(404);
    assert_eq!(app.get(&format!("{series}?kind=weight"), &nurse.token).await.json.as_array().unwrap().len(), 2);

    // Clinical data: the social worker neither records nor reads it.
    app.post(&series, &social.token, json!({"kind": "pulse", "value": 70})).await.problem(403);
    assert_eq!(app.get(&series, &social.token).await.json, json!([]));
}

/// A resident admitted with a birth date, the nurse of their establishment, and where their
/// measurements are.
async fn resident_born(app: &TestApp, tenant: &dui_testkit::TestTenant, name: &str, birth_date: &str) -> String {
    let admitted = admit(app, tenant, json!({"identity": identity(name, "Anne", birth_date)})).await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap())
}

#[tokio::test]
async fn values_outside_physiological_bounds_are_refused_with_field_bounds_and_unit() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = resident_born(&app, &tenant, "Borne", "1940-02-02").await;
    let series = format!("{record}/measurements");
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;

    for (body, field, message) in [
        (json!({"kind": "temperature", "value": 45.0}), "value", "must be between 30 and 43 °C"),
        (json!({"kind": "temperature", "value": 29.9}), "value", "must be between 30 and 43 °C"),
        (json!({"kind": "spo2", "value": 49}), "value", "must be between 50 and 100 %"),
        (json!({"kind": "pulse", "value": 260}), "value", "must be between 20 and 250 bpm"),
        (
            json!({"kind": "blood_glucose", "value": 40, "unit": "mmol/L"}),
            "value",
            "must be between 1.11 and 33.3 mmol/L",
        ),
        (json!({"kind": "blood_glucose", "value": 700, "unit": "mg/dL"}), "value", "must be between 20 and 600 mg/dL"),
        (json!({"kind": "height", "value": 2.5, "unit": "m"}), "value", "must be between 0.8 and 2.3 m"),
        (
            json!({"kind": "blood_pressure", "systolic": 320, "diastolic": 80}),
            "systolic",
            "must be between 50 and 300 mmHg",
        ),
        (json!({"kind": "temperature", "value": 98.6, "unit": "°F"}), "unit", "must be °C for temperature"),
    ] {
        let refused = app.post(&series, &nurse.token, body.clone()).await;
        let problem = refused.problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {}", refused.text);
        assert_eq!(problem["errors"][0]["message"], message, "{body}: {}", refused.text);
    }
    // The highest temperature accepted is recorded, flagged high.
    let hot = app.post(&series, &nurse.token, json!({"kind": "temperature", "value": 43.0})).await;
    assert_eq!((hot.status, hot.json["flag"].as_str()), (201, Some("high")), "{}", hot.text);
    assert_eq!(app.get(&series, &nurse.token).await.json.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn values_are_kept_as_entered_beside_their_reference_unit() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = resident_born(&app, &tenant, "Unite", "1940-02-02").await;
    let series = format!("{record}/measurements");
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;

    let cases = [
        (
            json!({"kind": "blood_glucose", "value": 5.5, "unit": "mmol/l"}),
            json!({"value": 5.5, "unit": "mmol/L"}),
            json!({"value": 0.99, "unit": "g/L"}),
            "normal",
        ),
        (
            json!({"kind": "blood_glucose", "value": 182, "unit": "mg/dL"}),
            json!({"value": 182, "unit": "mg/dL"}),
            json!({"value": 1.82, "unit": "g/L"}),
            "high",
        ),
        (
            json!({"kind": "blood_glucose", "value": 0.65, "unit": "g/L"}),
            json!({"value": 0.65, "unit": "g/L"}),
            json!({"value": 0.65, "unit": "g/L"}),
            "low",
        ),
        (
            json!({"kind": "height", "value": 1.62, "unit": "m"}),
            json!({"value": 1.62, "unit": "m"}),
            json!({"value": 162, "unit": "cm"}),
            "",
        ),
        (
            json!({"kind": "weight", "value": 61.84}),
            json!({"value": 61.8, "unit": "kg"}),
            json!({"value": 61.8, "unit": "kg"}),
            "",
        ),
    ];
    for (body, entered, reference, flag) in &cases {
        let recorded = app.post(&series, &nurse.token, body.clone()).await;
        assert_eq!(recorded.status, 201, "{body}: {}", recorded.text);
        assert_eq!((&recorded.json["value"], &recorded.json["unit"]), (&entered["value"], &entered["unit"]), "{body}");
        assert_eq!(&recorded.json["reference"], reference, "{body}");
        assert_eq!(recorded.json["flag"].as_str().unwrap_or(""), *flag, "{body}");
    }
    // Read back the same, in the order measured.
    let read = app.get(&series, &nurse.token).await;
    for (measurement, (_, entered, reference, _)) in read.json.as_array().unwrap().iter().zip(&cases) {
        assert_eq!((&measurement["value"], &measurement["unit"]), (&entered["value"], &entered["unit"]));
        assert_eq!(&measurement["reference"], reference);
    }
}

#[tokio::test]
async fn weights_carry_the_undernutrition_criteria_and_the_status_gathers_them() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    // 87 years old in 2026: the criteria for people of 70 and over.
    let record = resident_born(&app, &tenant, "Poids", "1939-09-09").await;
    let series = format!("{record}/measurements");
    let status = format!("{record}/nutrition-status");
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::SocialWorker)]).await;
    let post = |body: serde_json::Value| {
        let (app, series, token) = (&app, &series, &nurse.token);
        async move {
            let recorded = app.post(series, token, body.clone()).await;
            assert_eq!(recorded.status, 201, "{body}: {}", recorded.text);
            recorded.json
        }
    };

    // Never weighed: nothing to say.
    let never = app.get(&status, &nurse.token).await;
    assert_eq!(never.status, 200, "{}", never.text);
    assert_eq!((&never.json["latest_weight"], &never.json["nutrition"]), (&json!(null), &json!(null)));

    post(json!({"kind": "height", "value": 160, "measured_at": "2026-09-01T08:00:00Z"})).await;
    let first = post(json!({"kind": "weight", "value": 62.5, "measured_at": "2026-10-01T08:00:00Z"})).await;
    assert_eq!(first["nutrition"]["criteria"], json!([]));
    assert_eq!(first["nutrition"]["bmi"], 24.4);
    // 62.5 kg to 59 kg in a month: a loss of 5.6 %, undernutrition.
    let second = post(json!({"kind": "weight", "value": 59.0, "measured_at": "2026-11-01T08:00:00Z"})).await;
    let nutrition = &second["nutrition"];
    assert_eq!(
        (nutrition["age"].as_i64(), nutrition["criteria_set"].as_str()),
        (Some(87), Some("has_2021_70_and_over"))
    );
    assert_eq!(nutrition["loss_1_month"]["loss_percent"], 5.6);
    assert_eq!(nutrition["loss_1_month"]["loss_kg"], 3.5);
    assert_eq!(nutrition["loss_1_month"]["reference"]["id"], first["id"]);
    assert_eq!(nutrition["bmi"], 23.0);
    assert_eq!(nutrition["criteria"], json!([{"criterion": "weight_loss_1_month", "severity": "moderate"}]));
    assert_eq!(nutrition["undernutrition"], "moderate");
    // Other kinds carry none.
    assert!(post(json!({"kind": "pulse", "value": 70})).await.get("nutrition").is_none());

    // The list gives each weight its criteria.
    let weights = app.get(&format!("{series}?kind=weight"), &nurse.token).await;
    let undernutrition: Vec<_> =
        weights.json.as_array().unwrap().iter().map(|w| w["nutrition"]["undernutrition"].clone()).collect();
    assert_eq!(undernutrition, [json!(null), json!("moderate")]);
    // Even when the period leaves out the weight it is compared with.
    let period = app.get(&format!("{series}?kind=weight&from=2026-10-15T00:00:00Z"), &nurse.token).await;
    assert_eq!(period.json[0]["nutrition"]["loss_1_month"]["loss_percent"], 5.6, "{}", period.text);

    // The status: the latest weight and what it shows.
    let read = app.get(&status, &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        (&read.json["latest_weight"]["id"], read.json["latest_weight"]["value"].as_f64()),
        (&second["id"], Some(59.0))
    );
    assert_eq!(read.json["nutrition"], second["nutrition"]);

    // Down to 51 kg two weeks later: BMI 19.9, 13.6 % in a month and 18.4 % since October: severe.
    let third = post(json!({"kind": "weight", "value": 51.0, "measured_at": "2026-11-15T08:00:00Z"})).await;
    assert_eq!(third["nutrition"]["undernutrition"], "severe");
    assert_eq!(
        third["nutrition"]["criteria"],
        json!([{"criterion": "weight_loss_1_month", "severity": "severe"},
               {"criterion": "weight_loss_6_months", "severity": "severe"},
               {"criterion": "low_bmi", "severity": "severe"}])
    );
    // The hand-over heard of it when it appeared and when it worsened, the care team only.
    let feed = format!("/api/v1/establishments/{}/handover", tenant.establishments[0].id);
    let told = app.get(&feed, &nurse.token).await;
    let told: Vec<(&str, &str)> = told.json["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", told.text))
        .iter()
        .filter(|e| e["source_type"] == "measurement")
        .map(|e| (e["kind"].as_str().unwrap(), e["summary"].as_str().unwrap()))
        .collect();
    assert_eq!(
        told,
        [
            (
                "undernutrition",
                "Dénutrition sévère : 51,0 kg ; perte de 13,6 % en 1 mois ; perte de 18,4 % en 6 mois ; IMC 19,9"
            ),
            ("undernutrition", "Dénutrition modérée : 59,0 kg ; perte de 5,6 % en 1 mois"),
        ]
    );
    let theirs = app.get(&feed, &social.token).await;
    assert_eq!(
        theirs.json["events"].as_array().map(|e| e.iter().filter(|e| e["kind"] == "undernutrition").count()),
        Some(0)
    );

    // A weight entered in error is no longer the latest, nor a reference.
    let flagged = app
        .post(
            &format!("{series}/{}/entered-in-error", third["id"].as_str().unwrap()),
            &nurse.token,
            json!({"reason": "Balance mal tarée"}),
        )
        .await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert!(flagged.json.get("nutrition").is_none(), "{}", flagged.text);
    assert_eq!(app.get(&status, &nurse.token).await.json["latest_weight"]["id"], second["id"]);

    // Those who do not read the care team's data get no weight.
    let other = app.get(&status, &social.token).await;
    assert_eq!((other.status, &other.json["latest_weight"]), (200, &json!(null)));

    // Under 70, the adults' criteria: BMI 21.1 is no undernutrition.
    let younger = resident_born(&app, &tenant, "Jeune", "1960-05-05").await;
    let weighed =
        app.post(&format!("{younger}/measurements"), &nurse.token, json!({"kind": "height", "value": 160})).await;
    assert_eq!(weighed.status, 201, "{}", weighed.text);
    let weighed =
        app.post(&format!("{younger}/measurements"), &nurse.token, json!({"kind": "weight", "value": 54})).await;
    assert_eq!(weighed.json["nutrition"]["criteria_set"], "has_2019_adult", "{}", weighed.text);
    assert_eq!(
        (weighed.json["nutrition"]["bmi"].as_f64(), &weighed.json["nutrition"]["criteria"]),
        (Some(21.1), &json!([]))
    );
}

#[tokio::test]
async fn an_entry_made_in_error_needs_a_reason_that_readers_see() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = resident_born(&app, &tenant, "Erreur", "1940-02-02").await;
    let series = format!("{record}/measurements");
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let aide = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::CareAssistant)]).await;
    let recorded = app.post(&series, &nurse.token, json!({"kind": "pulse", "value": 72})).await;
    let flag = format!("{series}/{}/entered-in-error", recorded.json["id"].as_str().unwrap());

    for body in [json!({}), json!({"reason": "  "}), json!({"reason": "no"}), json!({"reason": "x".repeat(2001)})] {
        let refused = app.post(&flag, &nurse.token, body.clone()).await;
        let problem = refused.problem(422);
        assert_eq!(problem["errors"][0]["field"], "reason", "{body}: {}", refused.text);
    }
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "  Pouls d'un autre résident "})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["entered_in_error_reason"], "Pouls d'un autre résident");
    assert_eq!(flagged.json["entered_in_error_by"], nurse.id.to_string());
    assert!(flagged.json["entered_in_error_at"].is_string());
    // Every reader of the series sees who, when and why.
    let read = app.get(&series, &aide.token).await;
    assert_eq!(read.json[0]["entered_in_error_reason"], "Pouls d'un autre résident", "{}", read.text);
    assert_eq!(read.json[0]["value"], 72);
}

#[tokio::test]
async fn the_migration_gives_earlier_rows_their_unit_and_their_value_as_entered() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = resident_born(&app, &tenant, "Ancienne", "1940-02-02").await;
    let series = format!("{record}/measurements");
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    for body in [
        json!({"kind": "weight", "value": 61.5}),
        json!({"kind": "blood_glucose", "value": 1.05, "unit": "g/L"}),
        json!({"kind": "blood_pressure", "systolic": 130, "diastolic": 80}),
        json!({"kind": "temperature", "value": 37.2}),
    ] {
        assert_eq!(app.post(&series, &nurse.token, body.clone()).await.status, 201, "{body}");
    }
    let before = app.get(&series, &nurse.token).await.json;

    // The rows as they were before V23: the migration undone, then run again on them.
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(
            "ALTER TABLE measurements DROP COLUMN entered_value, DROP COLUMN entered_unit, DROP COLUMN error_reason",
        )
        .await
        .unwrap();
    // The migration's own text, run again on them (later migrations stay applied).
    owner
        .batch_execute(include_str!("../../migrations/V23__measurements_as_entered_and_error_reasons.sql"))
        .await
        .unwrap();

    // Each row has its kind's unit, and no value of its own as entered: the stored one.
    let tenant_id = tenant.id.to_string();
    owner.execute("SELECT set_config('app.tenant_id', $1, false)", &[&tenant_id]).await.unwrap();
    let rows = owner
        .query(
            "SELECT kind, entered_unit, entered_value IS NULL AS as_stored FROM measurements ORDER BY measured_at",
            &[],
        )
        .await
        .unwrap();
    let units: Vec<(String, String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    let expected = [("weight", "kg"), ("blood_glucose", "g/L"), ("blood_pressure", "mmHg"), ("temperature", "°C")];
    assert_eq!(units, expected.map(|(kind, unit)| (kind.to_owned(), unit.to_owned(), true)));
    // Read back: as entered is as stored, in the kind's unit.
    let after = app.get(&series, &nurse.token).await;
    assert_eq!(after.status, 200, "{}", after.text);
    for (was, is) in before.as_array().unwrap().iter().zip(after.json.as_array().unwrap()) {
        assert_eq!(
            (&is["value"], &is["systolic"], &is["unit"]),
            (&is["reference"]["value"], &is["reference"]["systolic"], &is["reference"]["unit"])
        );
        assert_eq!(is["reference"], was["reference"]);
        assert_eq!(is["unit"], was["unit"]);
    }
    // And they are flagged in error with a reason, as any other.
    let first = after.json[0]["id"].as_str().unwrap();
    let flagged = app
        .post(&format!("{series}/{first}/entered-in-error"), &nurse.token, json!({"reason": "Erreur de saisie"}))
        .await;
    assert_eq!((flagged.status, flagged.json["entered_in_error_reason"].as_str()), (200, Some("Erreur de saisie")));
}
