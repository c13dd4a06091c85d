//! Restraint (contention): only on a prescription (the coordinating physician, or a nurse
//! recording an external one), time-limited, reassessed every 24 hours (the reassessments due
//! are tasks of the day), stopped with a reason, renewed by a new prescription; the overdue
//! list; who may do what.

use chrono::{DateTime, Duration, Utc};
use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant};
use serde_json::{Value, json};

use crate::absences::{iso, person_with_care};

async fn as_owner(app: &TestApp, tenant: &TestTenant, sql: &str) {
    crate::encryption::as_owner(app, tenant, sql).await;
}

fn prescription(starts_at: DateTime<Utc>, days: i64) -> Value {
    json!({"kind": "bed_rails", "starts_at": iso(starts_at), "planned_end_at": iso(starts_at + Duration::days(days)),
           "reason": "Chutes nocturnes répétées, agitation le soir",
           "conditions": {"when": "La nuit, au lit, de 21 h à 7 h", "max_minutes_each_time": 600}})
}

fn reassessment(outcome: &str, comment: Option<&str>) -> Value {
    json!({"outcome": outcome, "skin": "intact", "agitation": "calm", "consent": "cannot_express", "comment": comment})
}

/// The restraint tasks of the day of `at`, as (due time, state).
async fn restraint_tasks(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    at: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, String)> {
    let tasks = app
        .get(&format!("/api/v1/establishments/{}/tasks?date={}", tenant.establishments[0].id, at.date_naive()), token)
        .await;
    assert_eq!(tasks.status, 200, "{}", tasks.text);
    tasks
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "restraint_reassessment")
        .map(|t| (t["scheduled_for"].as_str().unwrap().parse().unwrap(), t["state"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_restraint_is_prescribed_reassessed_every_day_and_stopped() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let record = person_with_care(&app, &tenant, "Contenue").await;
    let restraints = format!("{record}/restraints");
    let physician = app.user(&tenant, &[(Some(ehpad), Role::CoordinatingPhysician)]).await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let now = Utc::now();
    // Whole seconds, as sent.
    let start: DateTime<Utc> = iso(now - Duration::hours(20)).parse().unwrap();

    // The coordinating physician prescribes; a nurse does not, but records an outside
    // physician's prescription; a care assistant does neither.
    app.post(&restraints, &nurse.token, prescription(start, 3)).await.problem(403);
    let mut external = prescription(start, 3);
    external["external_prescriber"] = json!({"name": "Dr Martin, médecin traitant", "rpps": "10003456789"});
    app.post(&restraints, &assistant.token, external.clone()).await.problem(403);
    let recorded = app.post(&restraints, &nurse.token, external).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    assert!(recorded.json["prescriber_id"].is_null());
    assert_eq!(recorded.json["external_prescriber"]["rpps"], "10003456789");
    let prescribed = app.post(&restraints, &physician.token, prescription(start, 3)).await;
    assert_eq!(prescribed.status, 201, "{}", prescribed.text);
    assert_eq!(prescribed.json["prescriber_id"], physician.id.to_string());
    assert_eq!(prescribed.json["status"], "in_force");
    assert_eq!(prescribed.json["next_reassessment_due"], iso(start + Duration::hours(24)));

    // Time-limited, reasoned, the device said when it is "other".
    for (body, field) in [
        (prescription(now, 8), "planned_end_at"),
        (
            json!({"kind": "other", "planned_end_at": iso(now + Duration::days(1)), "reason": "Agitation",
                "conditions": {"when": "Au fauteuil"}}),
            "device",
        ),
        (
            json!({"kind": "wrist", "planned_end_at": iso(now + Duration::days(1)), "reason": "  ",
                "conditions": {"when": "Au fauteuil"}}),
            "reason",
        ),
        (prescription(now - Duration::hours(30), 1), "starts_at"),
    ] {
        let refused = app.post(&restraints, &physician.token, body.clone()).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], field, "{body}: {}", refused.text);
    }
    let unlimited = app
        .post(
            &restraints,
            &physician.token,
            json!({"kind": "bed_rails", "reason": "Chutes", "conditions": {"when": "La nuit"}}),
        )
        .await;
    assert!(matches!(unlimited.status, 400 | 422), "a planned end is required: {}", unlimited.text);

    // Its first reassessment is due 24 hours after the start: a task of that day.
    let first = prescribed.json["id"].as_str().unwrap().to_owned();
    let due = start + Duration::hours(24);
    let tasks = restraint_tasks(&app, &tenant, &nurse.token, due).await;
    assert!(tasks.contains(&(due, "pending".to_owned())), "{tasks:?}");

    // Reassessed by a nurse (not a care assistant): done, and the next one due 24 hours later.
    let reassess = format!("{restraints}/{first}/reassessments");
    app.post(&reassess, &assistant.token, reassessment("continue", None)).await.problem(403);
    let stop_without_why = app.post(&reassess, &nurse.token, reassessment("stop", None)).await;
    assert_eq!(stop_without_why.problem(422)["errors"][0]["field"], "comment");
    let continued = app.post(&reassess, &nurse.token, reassessment("continue", Some("Dort bien, peau intacte"))).await;
    assert_eq!(continued.status, 201, "{}", continued.text);
    assert_eq!(continued.json["observations"]["consent"], "cannot_express");
    let reassessed_at: DateTime<Utc> = continued.json["assessed_at"].as_str().unwrap().parse().unwrap();
    let tasks = restraint_tasks(&app, &tenant, &nurse.token, due).await;
    assert!(tasks.contains(&(due, "done".to_owned())), "{tasks:?}");
    let listed = app.get(&restraints, &assistant.token).await;
    let listed = listed.json.as_array().unwrap().iter().find(|r| r["id"] == first.as_str()).unwrap().clone();
    assert_eq!(listed["reassessments"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["next_reassessment_due"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(),
        reassessed_at + Duration::hours(24)
    );

    // Nothing is overdue yet; once the last reassessment is 30 hours old, it is, and today's
    // tasks show it late.
    let overdue = format!("/api/v1/establishments/{ehpad}/restraints/overdue");
    assert_eq!(app.get(&overdue, &nurse.token).await.json, json!([]));
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE restraints SET starts_at = starts_at - interval '40 hours', planned_end_at = planned_end_at - interval '40 hours' \
               WHERE id = '{first}'; \
             UPDATE restraint_reassessments SET assessed_at = assessed_at - interval '30 hours' WHERE restraint_id = '{first}';"
        ),
    )
    .await;
    let listed = app.get(&overdue, &nurse.token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let late: Vec<&Value> =
        listed.json.as_array().unwrap().iter().filter(|o| o["restraint_id"] == first.as_str()).collect();
    assert_eq!(late.len(), 1, "{}", listed.text);
    assert_eq!(late[0]["reasons"], json!(["reassessment_overdue"]));
    assert_eq!(late[0]["resident"]["family_name"], "Contenue");
    assert_eq!(late[0]["last_outcome"], "continue");
    let today = restraint_tasks(&app, &tenant, &nurse.token, now).await;
    let outstanding = reassessed_at - Duration::hours(30) + Duration::hours(24);
    assert!(today.contains(&(outstanding, "late".to_owned())), "{today:?}");
    // A social worker and a director as such see none of it.
    for role in [Role::SocialWorker, Role::Director] {
        let other = app.user(&tenant, &[(Some(ehpad), role)]).await;
        assert_eq!(app.get(&overdue, &other.token).await.json, json!([]), "{role}");
        assert_eq!(app.get(&restraints, &other.token).await.json, json!([]), "{role}");
        assert!(restraint_tasks(&app, &tenant, &other.token, now).await.is_empty(), "{role}");
    }

    // Renewal is a new prescription replacing the last: the old one ends as the new starts.
    let mut renewal = prescription(now, 2);
    renewal["replaces"] = json!(first);
    app.post(&restraints, &nurse.token, renewal.clone()).await.problem(403);
    let renewed = app.post(&restraints, &physician.token, renewal.clone()).await;
    assert_eq!(renewed.status, 201, "{}", renewed.text);
    assert_eq!(renewed.json["replaces"], first.as_str());
    let all = app.get(&restraints, &nurse.token).await;
    let old = all.json.as_array().unwrap().iter().find(|r| r["id"] == first.as_str()).unwrap();
    assert_eq!((old["end_kind"].as_str(), old["status"].as_str()), (Some("replaced"), Some("ended")), "{old}");
    let twice = app.post(&restraints, &physician.token, renewal).await;
    assert!(twice.problem(409)["detail"].as_str().unwrap().contains("new prescription"), "{}", twice.text);
    app.post(&reassess, &nurse.token, reassessment("continue", None)).await.problem(409);
    assert!(
        app.get(&overdue, &nurse.token)
            .await
            .json
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["restraint_id"] != first.as_str())
    );

    // Stopped with a reason, once.
    let renewed_id = renewed.json["id"].as_str().unwrap();
    let stop = format!("{restraints}/{renewed_id}/stop");
    app.post(&stop, &assistant.token, json!({"reason": "Plus nécessaire"})).await.problem(403);
    let stopped = app.post(&stop, &nurse.token, json!({"reason": "Plus de chute depuis 3 nuits, lit bas"})).await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!((stopped.json["end_kind"].as_str(), stopped.json["status"].as_str()), (Some("stopped"), Some("ended")));
    assert_eq!(stopped.json["end_reason"], "Plus de chute depuis 3 nuits, lit bas");
    app.post(&stop, &nurse.token, json!({"reason": "encore"})).await.problem(409);

    // An expired prescription: listed as such; only a stop is recorded on it.
    let external = recorded.json["id"].as_str().unwrap().to_owned();
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE restraints SET starts_at = starts_at - interval '5 days', planned_end_at = planned_end_at - interval '5 days' \
             WHERE id = '{external}';"
        ),
    )
    .await;
    let listed = app.get(&overdue, &nurse.token).await;
    let expired = listed.json.as_array().unwrap().iter().find(|o| o["restraint_id"] == external.as_str()).unwrap();
    assert_eq!(expired["reasons"], json!(["reassessment_overdue", "expired"]));
    let on_expired = format!("{restraints}/{external}/reassessments");
    let refused = app.post(&on_expired, &nurse.token, reassessment("continue", None)).await;
    assert!(refused.problem(409)["detail"].as_str().unwrap().contains("expired"));
    let ended = app.post(&on_expired, &nurse.token, reassessment("stop", Some("Prescription échue, retrait"))).await;
    assert_eq!(ended.status, 201, "{}", ended.text);
    let all = app.get(&restraints, &nurse.token).await;
    let external_now = all.json.as_array().unwrap().iter().find(|r| r["id"] == external.as_str()).unwrap();
    assert_eq!(external_now["end_kind"], "reassessment", "{external_now}");
    assert_eq!(app.get(&overdue, &nurse.token).await.json, json!([]));
}

/// While the person is away (in hospital), their restraint is not applied: it leaves the
/// overdue list, and its reassessments due are suspended in the day's tasks.
#[tokio::test]
async fn a_restraint_of_someone_away_is_not_overdue() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let record = person_with_care(&app, &tenant, "Hospitalisee").await;
    let physician = app.user(&tenant, &[(Some(ehpad), Role::CoordinatingPhysician)]).await;
    let now = Utc::now();
    let prescribed =
        app.post(&format!("{record}/restraints"), &physician.token, prescription(now - Duration::hours(2), 3)).await;
    assert_eq!(prescribed.status, 201, "{}", prescribed.text);
    let id = prescribed.json["id"].as_str().unwrap();
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE restraints SET starts_at = starts_at - interval '30 hours', planned_end_at = planned_end_at - interval '30 hours' \
             WHERE id = '{id}';"
        ),
    )
    .await;
    let overdue = format!("/api/v1/establishments/{ehpad}/restraints/overdue");
    assert_eq!(app.get(&overdue, &physician.token).await.json.as_array().unwrap().len(), 1);
    let started: DateTime<Utc> = prescribed.json["starts_at"].as_str().unwrap().parse().unwrap();
    let due = started - Duration::hours(30) + Duration::hours(24);
    let tasks = restraint_tasks(&app, &tenant, &physician.token, now).await;
    assert!(tasks.contains(&(due, "late".to_owned())), "{tasks:?}");
    let left = app
        .post(
            &format!("{record}/absences"),
            &physician.token,
            json!({"kind": "hospitalisation", "starts_at": iso(now - Duration::hours(12))}),
        )
        .await;
    assert_eq!(left.status, 201, "{}", left.text);
    assert_eq!(app.get(&overdue, &physician.token).await.json, json!([]));
    let tasks = restraint_tasks(&app, &tenant, &physician.token, now).await;
    assert!(tasks.contains(&(due, "suspended".to_owned())), "{tasks:?}");
}
