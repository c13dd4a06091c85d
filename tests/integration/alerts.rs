//! Alerts and allergies: recorded by those who give care in a scope they read, listed together
//! the most severe first, shown first in the summary, resolved, ended, flagged in error; read
//! only by those who read their scope.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

fn field(response: &TestResponse, status: u16) -> String {
    response.problem(status)["errors"][0]["field"].as_str().unwrap_or_default().to_owned()
}

/// Each entry of a list as `type:level:what`.
fn shown(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let what = match entry["type"].as_str().unwrap() {
                "allergy" => format!(
                    "{}/{}",
                    entry["allergy"]["substance"]["text"].as_str().unwrap(),
                    entry["allergy"]["status"]
                ),
                _ => format!("{}/{}", entry["alert"]["kind"].as_str().unwrap(), entry["alert"]["status"]),
            };
            format!(
                "{}:{}:{}",
                entry["type"].as_str().unwrap(),
                entry["level"].as_str().unwrap(),
                what.replace('"', "")
            )
        })
        .collect()
}

#[tokio::test]
async fn alerts_and_allergies_are_listed_most_severe_first_and_shown_first_in_the_summary() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Alerte", "Anne", "1936-06-06")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;

    let allergy = |substance: &str, severity: &str| json!({"kind": "allergy", "substance": substance, "severity": severity, "source": "medical_record"});
    for body in [allergy("Œufs", "mild"), allergy("Pénicilline G", "life_threatening"), allergy("Iode", "severe")] {
        let recorded = app.post(&format!("{record}/allergies"), &nurse.token, body.clone()).await;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
    }
    for body in [
        json!({"kind": "advance_directives", "detail": "Dans le dossier papier, bureau infirmier"}),
        json!({"kind": "fall_risk"}),
        json!({"kind": "swallowing_disorder", "detail": "Eau gélifiée, mixé"}),
        json!({"kind": "isolation_precautions", "precautions": ["contact"], "ends_at": "2099-01-01T00:00:00Z"}),
    ] {
        let recorded = app.post(&format!("{record}/alerts"), &nurse.token, body.clone()).await;
        assert_eq!(recorded.status, 201, "{body}: {}", recorded.text);
    }
    let list = app.get(&format!("{record}/alerts"), &nurse.token).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(
        shown(&list.json),
        [
            "allergy:critical:Pénicilline G/active",
            "allergy:high:Iode/active",
            "alert:high:isolation_precautions/active",
            "alert:high:swallowing_disorder/active",
            "alert:moderate:fall_risk/active",
            "allergy:low:Œufs/active",
            "alert:low:advance_directives/active",
        ]
    );
    // The substance is kept as typed and normalised, for a medication check.
    let penicillin = &list.json[0]["allergy"];
    assert_eq!(penicillin["substance"]["normalised"], "penicilline g");
    assert_eq!(penicillin["recorded_by"], nurse.id.to_string());
    assert_eq!(list.json[2]["alert"]["precautions"], json!(["contact"]));

    // The summary shows them first, in the same order, those in force only.
    let summary = app.get(&format!("{record}/summary"), &nurse.token).await;
    assert_eq!(summary.status, 200, "{}", summary.text);
    assert_eq!(summary.text.find("\"alerts\""), Some(1), "alerts come first: {}", summary.text);
    assert_eq!(shown(&summary.json["alerts"]), shown(&list.json));

    // Resolved, ended, flagged: they leave the list in force, stay in the whole list.
    let id_of = |i: usize, kind: &str| list.json[i][kind]["id"].as_str().unwrap().to_owned();
    let (eggs, iodine, fall_risk, swallowing) =
        (id_of(5, "allergy"), id_of(1, "allergy"), id_of(4, "alert"), id_of(3, "alert"));
    let resolve = format!("{record}/allergies/{eggs}/resolve");
    let resolved = app.post(&resolve, &nurse.token, json!({})).await;
    assert_eq!((resolved.status, resolved.json["status"].as_str()), (200, Some("resolved")), "{}", resolved.text);
    assert_eq!(resolved.json["resolved_by"], nurse.id.to_string());
    app.post(&resolve, &nurse.token, json!({})).await.problem(409);
    let flag = format!("{record}/allergies/{iodine}/entered-in-error");
    assert_eq!(field(&app.post(&flag, &nurse.token, json!({"reason": " "})).await, 422), "reason");
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Autre résidente"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(
        (flagged.json["status"].as_str(), flagged.json["entered_in_error"]["reason"].as_str()),
        (Some("entered_in_error"), Some("Autre résidente"))
    );
    assert_eq!(flagged.json["substance"]["text"], "Iode", "the details still open after being sealed again");
    app.post(&flag, &nurse.token, json!({"reason": "Encore"})).await.problem(409);
    app.post(&format!("{record}/allergies/{iodine}/resolve"), &nurse.token, json!({})).await.problem(409);

    let end = format!("{record}/alerts/{fall_risk}/end");
    assert_eq!(field(&app.post(&end, &nurse.token, json!({"ends_at": "2099-01-01T00:00:00Z"})).await, 422), "ends_at");
    assert_eq!(field(&app.post(&end, &nurse.token, json!({"ends_at": "2001-01-01T00:00:00Z"})).await, 422), "ends_at");
    let ended = app.post(&end, &nurse.token, json!({})).await;
    assert_eq!((ended.status, ended.json["status"].as_str()), (200, Some("ended")), "{}", ended.text);
    assert_eq!(ended.json["ended_by"], nurse.id.to_string());
    app.post(&end, &nurse.token, json!({})).await.problem(409);
    let flagged = app
        .post(&format!("{record}/alerts/{swallowing}/entered-in-error"), &nurse.token, json!({"reason": "Doublon"}))
        .await;
    assert_eq!(flagged.json["status"], "entered_in_error", "{}", flagged.text);
    assert_eq!(flagged.json["detail"], "Eau gélifiée, mixé");

    let active = app.get(&format!("{record}/alerts?status=active"), &nurse.token).await;
    assert_eq!(
        shown(&active.json),
        [
            "allergy:critical:Pénicilline G/active",
            "alert:high:isolation_precautions/active",
            "alert:low:advance_directives/active"
        ]
    );
    let all = app.get(&format!("{record}/alerts?status=all"), &nurse.token).await;
    assert_eq!(
        shown(&all.json),
        [
            "allergy:critical:Pénicilline G/active",
            "alert:high:isolation_precautions/active",
            "allergy:high:Iode/entered_in_error",
            "alert:high:swallowing_disorder/entered_in_error",
            "alert:moderate:fall_risk/ended",
            "alert:low:advance_directives/active",
            "allergy:low:Œufs/resolved",
        ]
    );
    let unknown = app.get(&format!("{record}/alerts?status=some"), &nurse.token).await;
    assert!(matches!(unknown.status, 400 | 422), "{}", unknown.text);
    assert_eq!(shown(&app.get(&format!("{record}/summary"), &nurse.token).await.json["alerts"]), shown(&active.json));

    // An alert whose planned end has come is no longer in force.
    let planned = app
        .post(
            &format!("{record}/alerts"),
            &nurse.token,
            json!({"kind": "wandering_risk", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-02T00:00:00Z"}),
        )
        .await;
    assert_eq!(planned.json["status"], "ended", "{}", planned.text);
    assert_eq!(shown(&app.get(&format!("{record}/alerts"), &nurse.token).await.json).len(), 3);
}

#[tokio::test]
async fn what_is_entered_is_checked_and_a_retry_creates_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Saisie", "Anne", "1936-06-06")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let allergy = json!({"kind": "intolerance", "substance": "Lactose", "severity": "moderate", "source": "family"});
    for (edit, expected) in [
        (json!({"substance": "  "}), "substance"),
        (json!({"substance": "x".repeat(201)}), "substance"),
        (json!({"substance_code": {"system": "atc", "code": "J01CA4"}}), "substance_code.code"),
        (json!({"substance_code": {"system": "cip13", "code": "3400930000015"}}), "substance_code.code"),
        (json!({"scope": "social"}), "scope"),
    ] {
        let mut body = allergy.clone();
        for (key, value) in edit.as_object().unwrap() {
            body[key] = value.clone();
        }
        let refused = app.post(&format!("{record}/allergies"), &nurse.token, body.clone()).await;
        assert_eq!(field(&refused, 422), expected, "{body}");
    }
    for (body, expected) in [
        (json!({"kind": "isolation_precautions"}), "precautions"),
        (json!({"kind": "fall_risk", "precautions": ["droplet"]}), "precautions"),
        (json!({"kind": "other"}), "label"),
        (json!({"kind": "fall_risk", "label": "Chutes"}), "label"),
        (json!({"kind": "fall_risk", "starts_at": "2099-01-01T00:00:00Z"}), "starts_at"),
        (
            json!({"kind": "fall_risk", "starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}),
            "ends_at",
        ),
    ] {
        let refused = app.post(&format!("{record}/alerts"), &nurse.token, body.clone()).await;
        assert_eq!(field(&refused, 422), expected, "{body}");
    }
    let unknown = app.post(&format!("{record}/alerts"), &nurse.token, json!({"kind": "vip"})).await;
    assert!(matches!(unknown.status, 400 | 422), "{}", unknown.text);

    // With an Idempotency-Key, a retry answers the allergy created the first time.
    let key = [("Idempotency-Key", "allergie-lactose-1")];
    let allergies = format!("{record}/allergies");
    let send = || app.request_with(Method::POST, &allergies, Some(&nurse.token), Some(allergy.clone()), &key);
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = send().await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(again.json["substance"]["normalised"], "lactose");
    let list = app.get(&format!("{record}/alerts"), &nurse.token).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1, "{}", list.text);
}

#[tokio::test]
async fn only_carers_record_and_each_reads_the_scopes_they_read() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, other) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let admitted = admit(&app, &tenant, json!({"identity": identity("Portée", "Anne", "1936-06-06")})).await;
    let resident = admitted.json["id"].as_str().unwrap().to_owned();
    let record = format!("/api/v1/residents/{resident}");
    let user = |role| {
        let (app, tenant) = (&app, &tenant);
        async move { app.user(tenant, &[(Some(ehpad), role)]).await }
    };
    let (nurse, assistant, director, social, helper) = (
        user(Role::Nurse).await,
        user(Role::CareAssistant).await,
        user(Role::Director).await,
        user(Role::SocialWorker).await,
        user(Role::HomeHelper).await,
    );
    let assigned = app.post(&format!("{record}/assignments"), &tenant.admin.token, json!({"user_id": helper.id})).await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);

    // The whole team must know the wandering risk; the anticoagulant is medical.
    for (body, scope) in [
        (json!({"kind": "wandering_risk", "scope": "whole_team"}), "whole_team"),
        (json!({"kind": "anticoagulant_treatment", "scope": "medical", "detail": "AVK, INR cible 2-3"}), "medical"),
        (json!({"kind": "fall_risk"}), "care_team"),
    ] {
        let recorded = app.post(&format!("{record}/alerts"), &nurse.token, body).await;
        assert_eq!((recorded.status, recorded.json["scope"].as_str()), (201, Some(scope)), "{}", recorded.text);
    }
    // A care assistant records care-team entries, not medical ones; a director, a social worker
    // or a home helper records none (the refusals are recorded).
    let medical = json!({"kind": "implanted_device", "scope": "medical"});
    app.post(&format!("{record}/alerts"), &assistant.token, medical.clone()).await.problem(403);
    let recorded = app.post(&format!("{record}/alerts"), &assistant.token, json!({"kind": "implanted_device"})).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    for refused in [&director, &social, &helper] {
        app.post(&format!("{record}/alerts"), &refused.token, json!({"kind": "fall_risk", "scope": "whole_team"}))
            .await
            .problem(403);
        app.post(
            &format!("{record}/allergies"),
            &refused.token,
            json!({"kind": "allergy", "substance": "Latex", "severity": "severe", "source": "observed", "scope": "whole_team"}),
        )
        .await
        .problem(403);
    }

    let kinds = |list: &Value| -> Vec<String> {
        let mut kinds: Vec<String> =
            list.as_array().unwrap().iter().map(|e| e["alert"]["kind"].as_str().unwrap().to_owned()).collect();
        kinds.sort();
        kinds
    };
    let read = |token: String| {
        let (app, path) = (&app, format!("{record}/alerts"));
        async move { app.get(&path, &token).await }
    };
    assert_eq!(
        kinds(&read(nurse.token.clone()).await.json),
        ["anticoagulant_treatment", "fall_risk", "implanted_device", "wandering_risk"]
    );
    assert_eq!(kinds(&read(assistant.token.clone()).await.json), ["fall_risk", "implanted_device", "wandering_risk"]);
    for whole_team_only in [&director, &social, &helper] {
        assert_eq!(kinds(&read(whole_team_only.token.clone()).await.json), ["wandering_risk"]);
        let summary = app.get(&format!("{record}/summary"), &whole_team_only.token).await;
        assert_eq!(kinds(&summary.json["alerts"]), ["wandering_risk"], "{}", summary.text);
    }
    // Out of the team: as absent as any record. An entry the caller does not read cannot be
    // changed by them either.
    let outsider = app.user(&tenant, &[(Some(other), Role::Nurse)]).await;
    assert_eq!(read(outsider.token.clone()).await.problem(404)["detail"], "No such resource.");
    let list = read(nurse.token.clone()).await.json;
    let anticoagulant = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["alert"]["kind"] == "anticoagulant_treatment")
        .map(|e| e["alert"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    app.post(&format!("{record}/alerts/{anticoagulant}/end"), &assistant.token, json!({})).await.problem(404);
    let ended = app.post(&format!("{record}/alerts/{anticoagulant}/end"), &nurse.token, json!({})).await;
    assert_eq!(ended.status, 200, "{}", ended.text);

    // A merged record takes no more alerts.
    let duplicate =
        admit(&app, &tenant, json!({"identity": identity("Portée", "Anne", "1936-06-06"), "confirm_homonym": true}))
            .await;
    let duplicate = duplicate.json["id"].as_str().unwrap().to_owned();
    let referent = app.user(&tenant, &[(Some(ehpad), Role::IdentityVigilance)]).await;
    let merged = app
        .post(
            &format!("{record}/merge"),
            &referent.token,
            json!({"duplicate_id": duplicate, "reason": "Même personne, doublon créé à l'admission"}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    app.post(&format!("/api/v1/residents/{duplicate}/alerts"), &nurse.token, json!({"kind": "fall_risk"}))
        .await
        .problem(409);
}
