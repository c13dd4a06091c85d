//! The falls register: falls recorded, corrected by amendments, flagged in error; the counts of
//! 6 and 12 months and repeated falls; an establishment's list for the care team (in full) and
//! the director (without details); who records and who reads.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use serde_json::{Value, json};

use crate::residents::{admit, identity};

fn field(response: &TestResponse) -> String {
    response.problem(422)["errors"][0]["field"].as_str().unwrap_or_default().to_owned()
}

fn fall(at: &str, consequences: &[&str]) -> Value {
    json!({"occurred_at": at, "place": "room", "discovery": "found_on_floor",
           "circumstances": "Retrouvée au sol au pied du lit", "activity": "Lever nocturne",
           "consequences": consequences, "care_given": "Surveillance neurologique 24 h",
           "physician_informed_at": at, "physician_informed": "Dr Martin, médecin coordonnateur"})
}

/// An instant `days` before now, as the API writes it.
fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn a_register_counts_the_falls_of_6_and_12_months_and_says_when_they_repeat() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Chute", "Anne", "1931-03-03")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let (nurse, assistant) = (
        app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await,
        app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await,
    );

    // One fall 400 days ago, one 200 days ago: one in 12 months, not repeated.
    for days in [400, 200] {
        let recorded = app.post(&format!("{record}/falls"), &nurse.token, fall(&days_ago(days), &["none"])).await;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
    }
    let register = app.get(&format!("{record}/falls"), &nurse.token).await;
    assert_eq!(register.status, 200, "{}", register.text);
    let counts = |r: &Value| (r["last_6_months"].as_i64(), r["last_12_months"].as_i64(), r["recurrent"].as_bool());
    assert_eq!(counts(&register.json), (Some(0), Some(1), Some(false)));
    assert_eq!(register.json["falls"].as_array().unwrap().len(), 1, "the default period is the last 12 months");

    // A third, in the bathroom, found on the floor with a bruise: two in 12 months, repeated.
    let third = app
        .post(
            &format!("{record}/falls"),
            &assistant.token,
            json!({"occurred_at": days_ago(3), "place": "bathroom", "discovery": "witnessed",
                   "circumstances": "Glissade en sortant de la douche", "consequences": ["bruise"]}),
        )
        .await;
    assert_eq!(third.status, 201, "{}", third.text);
    assert_eq!((third.json["amends"].clone(), third.json["recorded_by"].clone()), (json!(null), json!(assistant.id)));
    let third_id = third.json["id"].as_str().unwrap().to_owned();
    let register = app.get(&format!("{record}/falls"), &nurse.token).await;
    assert_eq!(counts(&register.json), (Some(1), Some(2), Some(true)));
    let newest = &register.json["falls"][0];
    assert_eq!((newest["id"].as_str(), newest["version"].as_i64()), (Some(third_id.as_str()), Some(1)));
    assert_eq!(
        (newest["serious"].as_bool(), newest["details"]["circumstances"].as_str()),
        (Some(false), Some("Glissade en sortant de la douche"))
    );

    // The next day the fracture is confirmed: a correction, by the nurse, replaces what the fall
    // says; the first record stays.
    let mut corrected = fall(&days_ago(3), &["fracture_suspected", "hospital_transfer"]);
    corrected["place"] = json!("bathroom");
    corrected["discovery"] = json!("witnessed");
    let amended = app.post(&format!("{record}/falls/{third_id}/amendments"), &nurse.token, corrected.clone()).await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    assert_eq!(amended.json["amends"], third_id.as_str());
    // Naming the correction corrects the same fall.
    let amended_id = amended.json["id"].as_str().unwrap().to_owned();
    let again = app.post(&format!("{record}/falls/{amended_id}/amendments"), &nurse.token, corrected).await;
    assert_eq!(again.json["amends"], third_id.as_str(), "{}", again.text);
    let register = app.get(&format!("{record}/falls"), &nurse.token).await;
    let newest = &register.json["falls"][0];
    assert_eq!(
        (newest["id"].as_str(), newest["version"].as_i64(), newest["serious"].as_bool()),
        (Some(third_id.as_str()), Some(3), Some(true))
    );
    assert_eq!(newest["consequences"], json!(["fracture_suspected", "hospital_transfer"]));
    assert_eq!((newest["recorded_by"].clone(), newest["amended_by"].clone()), (json!(assistant.id), json!(nurse.id)));
    assert_eq!(counts(&register.json), (Some(1), Some(2), Some(true)), "a correction is not another fall");

    // The fall of 200 days ago was another resident's: flagged, it no longer counts; once.
    let older = register.json["falls"][1]["id"].as_str().unwrap().to_owned();
    let flag = format!("{record}/falls/{older}/entered-in-error");
    assert_eq!(field(&app.post(&flag, &nurse.token, json!({"reason": "x"})).await), "reason");
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Chute d'une autre résidente"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["entered_in_error"]["reason"], "Chute d'une autre résidente");
    assert_eq!(flagged.json["details"]["circumstances"], "Retrouvée au sol au pied du lit");
    app.post(&flag, &nurse.token, json!({"reason": "Encore une fois"})).await.problem(409);
    app.post(&format!("{record}/falls/{older}/amendments"), &nurse.token, fall(&days_ago(200), &["none"]))
        .await
        .problem(409);
    let register = app.get(&format!("{record}/falls"), &nurse.token).await;
    assert_eq!(counts(&register.json), (Some(1), Some(1), Some(false)));
    assert!(register.json["falls"][1]["entered_in_error"]["at"].is_string(), "still listed, flagged");

    // A longer period shows the oldest fall; the counts are those up to the period's end.
    let old = app.get(&format!("{record}/falls?from={}&to={}", days_ago(500), days_ago(100)), &nurse.token).await;
    assert_eq!(old.status, 200, "{}", old.text);
    assert_eq!(old.json["falls"].as_array().unwrap().len(), 2);
    // As of 100 days ago: the fall of 400 days ago is within 12 months, the one of 200 days ago
    // was flagged.
    assert_eq!(counts(&old.json), (Some(0), Some(1), Some(false)));
    for query in [format!("from={}&to={}", days_ago(1), days_ago(2)), format!("from={}", days_ago(4000))] {
        app.get(&format!("{record}/falls?{query}"), &nurse.token).await.problem(422);
    }
}

#[tokio::test]
async fn what_is_entered_is_checked() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Saisie", "Anne", "1931-03-03")})).await;
    let falls = format!("/api/v1/residents/{}/falls", admitted.json["id"].as_str().unwrap());
    let at = days_ago(1);
    for (edit, expected) in [
        (json!({"occurred_at": "2099-01-01T00:00:00Z"}), "occurred_at"),
        (json!({"place": "other"}), "place_detail"),
        (json!({"circumstances": " "}), "circumstances"),
        (json!({"consequences": ["none", "wound"]}), "consequences"),
        (json!({"consequences": ["other"]}), "consequence_detail"),
        (json!({"consequences": []}), "consequences"),
        (json!({"physician_informed_at": null}), "physician_informed_at"),
        (json!({"family_informed_at": days_ago(2)}), "family_informed_at"),
    ] {
        let mut body = fall(&at, &["bruise"]);
        for (key, value) in edit.as_object().unwrap() {
            body[key] = value.clone();
        }
        assert_eq!(field(&app.post(&falls, &nurse.token, body.clone()).await), expected, "{body}");
    }
    let mut unknown = fall(&at, &["bruise"]);
    unknown["place"] = json!("roof");
    let refused = app.post(&falls, &nurse.token, unknown).await;
    assert!(matches!(refused.status, 400 | 422), "{}", refused.text);
    let mut other = fall(&at, &["other"]);
    other["place"] = json!("other");
    other["place_detail"] = json!("Ascenseur");
    other["consequence_detail"] = json!("Douleur de hanche sans fracture");
    let recorded = app.post(&falls, &nurse.token, other).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    assert_eq!(recorded.json["details"]["place_detail"], "Ascenseur");
}

#[tokio::test]
async fn the_care_team_reads_the_register_in_full_and_the_director_without_details() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, other) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let elsewhere = app.user(&tenant, &[(Some(other), Role::Nurse)]).await;
    let mut residents = Vec::new();
    for name in ["Première", "Seconde"] {
        let admitted = admit(&app, &tenant, json!({"identity": identity(name, "Anne", "1931-03-03")})).await;
        residents.push(admitted.json["id"].as_str().unwrap().to_owned());
    }
    for (resident, days, consequences) in
        [(&residents[0], 10, vec!["head_injury"]), (&residents[0], 5, vec!["none"]), (&residents[1], 1, vec!["wound"])]
    {
        let recorded = app
            .post(&format!("/api/v1/residents/{resident}/falls"), &nurse.token, fall(&days_ago(days), &consequences))
            .await;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
    }
    // Only those who give care record a fall; the refusal is recorded.
    for refused in [&director, &social, &tenant.admin] {
        app.post(&format!("/api/v1/residents/{}/falls", residents[0]), &refused.token, fall(&days_ago(1), &["none"]))
            .await
            .problem(403);
    }

    // The establishment's list: the care team reads everything, with the people's names.
    let list = format!("/api/v1/establishments/{ehpad}/falls");
    let full = app.get(&list, &nurse.token).await;
    assert_eq!(full.status, 200, "{}", full.text);
    assert_eq!((full.json["view"].as_str(), full.json["count"].as_i64()), (Some("full"), Some(3)));
    assert_eq!(
        (full.json["serious"].as_i64(), full.json["residents_with_repeated_falls"].as_i64()),
        (Some(1), Some(1))
    );
    let falls = full.json["falls"].as_array().unwrap();
    assert_eq!(falls[0]["resident"]["family_name"], "Seconde");
    assert_eq!(falls[0]["details"]["circumstances"], "Retrouvée au sol au pied du lit");
    // The director: the same falls, codes and times, without what is said about them.
    let quality = app.get(&list, &director.token).await;
    assert_eq!(quality.status, 200, "{}", quality.text);
    assert_eq!((quality.json["view"].as_str(), quality.json["count"].as_i64()), (Some("without_details"), Some(3)));
    for fall in quality.json["falls"].as_array().unwrap() {
        assert!(fall["details"].is_null(), "{fall}");
        assert!(fall["consequences"].is_array() && fall["occurred_at"].is_string());
    }
    assert!(!quality.text.contains("Retrouvée") && !quality.text.contains("Martin"), "{}", quality.text);
    let register = app.get(&format!("/api/v1/residents/{}/falls", residents[0]), &director.token).await;
    assert_eq!((register.json["last_12_months"].as_i64(), register.json["recurrent"].as_bool()), (Some(2), Some(true)));
    assert!(register.json["falls"][0]["details"].is_null(), "{}", register.text);
    // The director cannot correct or flag what they do not read in full.
    let first = register.json["falls"][0]["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/residents/{}/falls/{first}/entered-in-error", residents[0]),
        &director.token,
        json!({"reason": "Erreur de saisie"}),
    )
    .await
    .problem(403);
    // A social worker: an empty register, no list; the tenant admin neither; another
    // establishment's nurse: as if it did not exist.
    let empty = app.get(&format!("/api/v1/residents/{}/falls", residents[0]), &social.token).await;
    assert_eq!((empty.status, empty.json["falls"].clone()), (200, json!([])), "{}", empty.text);
    app.get(&list, &social.token).await.problem(403);
    app.get(&list, &tenant.admin.token).await.problem(403);
    app.get(&list, &elsewhere.token).await.problem(404);
    app.get(&format!("/api/v1/residents/{}/falls", residents[0]), &elsewhere.token).await.problem(404);
    app.get(&format!("{list}?from={}&to={}", days_ago(400), days_ago(0)), &nurse.token).await.problem(422);
    // A shorter period lists fewer.
    let recent = app.get(&format!("{list}?from={}", days_ago(7)), &nurse.token).await;
    assert_eq!(
        (recent.json["count"].as_i64(), recent.json["residents_with_repeated_falls"].as_i64()),
        (Some(2), Some(0))
    );

    // Each person shown in the list is recorded as read, once per list.
    let trail = app.get(&format!("/api/v1/residents/{}/access-report", residents[1]), &director.token).await.json;
    let listed = trail.as_array().unwrap().iter().filter(|e| e["action"] == "fall.list").count();
    assert_eq!(listed, 3, "the nurse's two lists and the director's one: {trail}");
}

/// The person's timeline carries what the hand-over told of them, each entry linked to its
/// source and read under the scope it was told in; admissions stay entries of their own.
#[tokio::test]
async fn the_timeline_tells_what_the_handover_told_to_those_who_may_read_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted = admit(&app, &tenant, json!({"identity": identity("Chronologie", "Rose", "1930-06-06")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;

    let fell = app.post(&format!("{record}/falls"), &nurse.token, fall(&days_ago(0), &["bruise"])).await;
    assert_eq!(fell.status, 201, "{}", fell.text);
    let away = app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "consultation", "destination": {"name": "Cabinet de cardiologie"}, "transport": "taxi"}),
        )
        .await;
    assert_eq!(away.status, 201, "{}", away.text);

    let events = |timeline: &TestResponse| -> Vec<(String, String, Value)> {
        timeline
            .json
            .as_array()
            .unwrap_or_else(|| panic!("{}", timeline.text))
            .iter()
            .filter(|e| e["type"] == "event")
            .map(|e| {
                let event = &e["event"];
                (
                    event["kind"].as_str().unwrap().to_owned(),
                    event["source_type"].as_str().unwrap().to_owned(),
                    event["source_id"].clone(),
                )
            })
            .collect()
    };
    let theirs = app.get(&format!("{record}/timeline"), &nurse.token).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(
        events(&theirs),
        [
            ("absence".to_owned(), "absence".to_owned(), away.json["id"].clone()),
            ("fall".to_owned(), "fall".to_owned(), fell.json["id"].clone())
        ]
    );
    let types: Vec<&str> = theirs.json.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "admission").count(), 1, "{}", theirs.text);
    // The fall was the care team's: the social worker's timeline has the departure only.
    let social_view = app.get(&format!("{record}/timeline"), &social.token).await;
    assert_eq!(events(&social_view).iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["absence"]);
    // A period before them shows neither.
    let earlier = app.get(&format!("{record}/timeline?to={}", days_ago(2)), &nurse.token).await;
    assert_eq!(events(&earlier), [], "{}", earlier.text);
}
