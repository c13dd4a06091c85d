//! The daily care plan: tasks from the plan's schedules in the establishment's time zone, their
//! records (done, not done, refused), amendments, late tasks.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

async fn send_if(app: &TestApp, method: Method, path: &str, token: &str, etag: &str) -> TestResponse {
    app.request_with(method, path, Some(token), None, &[("If-Match", etag)]).await
}

fn times(tasks: &Value, what: &str) -> Vec<String> {
    tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["what"] == what)
        .map(|t| t["scheduled_for"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn scheduled_actions_become_the_days_tasks_and_their_records_are_kept() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let wing = tenant.units[0].id;
    let admitted = admit(
        &app,
        &tenant,
        json!({"unit_id": wing, "admitted_on": "2026-06-01", "identity": identity("Soins", "Rose", "1933-02-02")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;

    let plan = app
        .post(
            &format!("{record}/care-plan"),
            &nurse.token,
            json!({"content": {"expectations": "Être bien soignée", "actions": [
                {"what": "Toilette", "who": {"role": "care_assistant"}, "schedule": {"kind": "daily", "times": ["20:00", "08:00"]}},
                {"what": "Changement de position", "who": {"role": "nurse"}, "schedule": {"kind": "every_hours", "every": 3, "from": "06:00"}},
                {"what": "Pesée", "who": {"role": "care_assistant"}, "schedule": {"kind": "monthly", "day": 31, "time": "10:00"}},
                {"what": "Lecture du journal", "who": {"role": "educator"}}
            ]}}),
        )
        .await;
    assert_eq!(plan.status, 201, "{}", plan.text);
    let version = format!("{record}/care-plan/versions/{}", plan.json["id"].as_str().unwrap());
    // No task from a draft.
    let tasks = format!("/api/v1/establishments/{ehpad}/tasks");
    assert_eq!(app.get(&format!("{tasks}?date=2026-11-30"), &nurse.token).await.json, json!([]));
    let etag = plan.header("etag").unwrap().to_owned();
    let active = send_if(&app, Method::POST, &format!("{version}/activate"), &nurse.token, &etag).await;
    assert_eq!(active.status, 200, "{}", active.text);

    // 30 November (Paris, UTC+1): the monthly weighing on "day 31" falls on the 30th.
    let day = app.get(&format!("{tasks}?date=2026-11-30&unit_id={wing}"), &nurse.token).await;
    assert_eq!(day.status, 200, "{}", day.text);
    assert_eq!(times(&day.json, "Toilette"), ["2026-11-30T07:00:00Z", "2026-11-30T19:00:00Z"]);
    assert_eq!(times(&day.json, "Changement de position").len(), 6);
    assert_eq!(times(&day.json, "Pesée"), ["2026-11-30T09:00:00Z"]);
    assert_eq!(day.json.as_array().unwrap().len(), 9, "the unscheduled action is no task");
    assert_eq!(day.json[0]["resident"]["family_name"], "Soins");
    assert!(day.json.as_array().unwrap().iter().all(|t| t["state"] == "late"), "a past day, nothing recorded");
    // In summer, Paris is UTC+2.
    let summer = app.get(&format!("{tasks}?date=2026-07-01"), &nurse.token).await;
    assert_eq!(times(&summer.json, "Toilette"), ["2026-07-01T06:00:00Z", "2026-07-01T18:00:00Z"]);
    // Mine: the care assistant's tasks.
    let mine = app.get(&format!("{tasks}?date=2026-11-30&mine=true"), &assistant.token).await;
    assert_eq!(mine.json.as_array().unwrap().len(), 3, "{}", mine.text);

    // Recording: done; refused needs a reason; once per occurrence; at scheduled times only.
    let first = &day.json[0];
    let body = |status: &str, reason: Option<&str>, at: &Value| {
        json!({"plan_version_id": first["plan_version_id"], "action_id": first["action_id"], "scheduled_for": at,
               "status": status, "reason": reason, "performed_at": "2026-11-30T07:20:00Z"})
    };
    let done =
        app.post(&format!("{record}/tasks"), &assistant.token, body("done", None, &first["scheduled_for"])).await;
    assert_eq!(done.status, 201, "{}", done.text);
    app.post(&format!("{record}/tasks"), &assistant.token, body("done", None, &first["scheduled_for"]))
        .await
        .problem(409);
    let refused = app
        .post(&format!("{record}/tasks"), &assistant.token, body("refused", None, &json!("2026-11-30T09:00:00Z")))
        .await;
    let problem = refused.problem(422);
    assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == "reason"), "{problem}");
    let odd = app
        .post(&format!("{record}/tasks"), &assistant.token, body("done", None, &json!("2026-11-30T07:30:00Z")))
        .await;
    assert_eq!(odd.problem(422)["errors"][0]["field"], "scheduled_for");

    // A correction amends the record; the day shows the latest.
    let amend = format!("{record}/tasks/{}/amendments", done.json["id"].as_str().unwrap());
    let amended = app
        .post(&amend, &assistant.token, json!({"status": "refused", "reason": "A refusé la toilette ce matin", "performed_at": "2026-11-30T07:25:00Z"}))
        .await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    assert_eq!(amended.json["amends"], done.json["id"]);
    let day = app.get(&format!("{tasks}?date=2026-11-30"), &nurse.token).await;
    let first_now = day
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scheduled_for"] == first["scheduled_for"] && t["what"] == first["what"])
        .unwrap();
    assert_eq!(first_now["state"], "refused");
    assert_eq!(first_now["record"]["reason"], "A refusé la toilette ce matin");
    let late = app.get(&format!("{tasks}?date=2026-11-30&state=late"), &nurse.token).await;
    assert_eq!(late.json.as_array().unwrap().len(), 8);

    // The traceability: both records, nothing deleted.
    let history =
        app.get(&format!("{record}/tasks?from=2026-11-30T00:00:00Z&to=2026-12-01T00:00:00Z"), &nurse.token).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let statuses: Vec<&str> = history.json.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["done", "refused"]);
    app.get(&format!("{record}/tasks?from=2026-11-30T00:00:00Z&to=2026-01-01T00:00:00Z"), &nurse.token)
        .await
        .problem(422);

    // The shift in progress: in UTC with shifts at 00:00 and 12:00, today's tasks of this half
    // of the day.
    let changed = app
        .patch(
            &format!("/api/v1/establishments/{ehpad}"),
            &tenant.admin.token,
            json!({"timezone": "UTC", "shift_starts": ["00:00", "12:00"]}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let half = if now.time() < chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap() { 0 } else { 12 };
    let since = today.and_hms_opt(half, 0, 0).unwrap().and_utc();
    let until = since + chrono::Duration::hours(12);
    let whole_day = app.get(&format!("{tasks}?date={today}"), &nurse.token).await;
    let mut expected: Vec<String> = whole_day
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            let at = chrono::DateTime::parse_from_rfc3339(t["scheduled_for"].as_str().unwrap()).unwrap();
            at >= since && at < until
        })
        .map(|t| format!("{} {}", t["scheduled_for"].as_str().unwrap(), t["what"].as_str().unwrap()))
        .collect();
    expected.sort();
    let shift = app.get(&format!("{tasks}?shift=true"), &nurse.token).await;
    assert_eq!(shift.status, 200, "{}", shift.text);
    let mut got: Vec<String> = shift
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{} {}", t["scheduled_for"].as_str().unwrap(), t["what"].as_str().unwrap()))
        .collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(!got.is_empty(), "every half day has turning tasks");
    app.get(&format!("{tasks}?shift=true&date={today}"), &nurse.token).await.problem(422);

    // Someone of another establishment sees no task list here.
    let elsewhere = app.user(&tenant, &[(Some(tenant.establishments[1].id), Role::Nurse)]).await;
    app.get(&tasks, &elsewhere.token).await.problem(404);
}

#[tokio::test]
async fn a_home_help_round_lists_the_visits_of_the_people_a_helper_is_assigned_to() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let saad = tenant.establishments[1].id;
    let round = tenant.units[1].id;
    let director = app.user(&tenant, &[(Some(saad), Role::Director)]).await;
    let helper = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let mut records = Vec::new();
    for name in ["Visite", "Autre"] {
        let created = app
            .post(
                "/api/v1/residents",
                &tenant.admin.token,
                json!({"establishment_id": saad, "unit_id": round, "mode": "at_home", "admitted_on": "2026-06-01",
                       "identity": identity(name, "Paul", "1938-08-08")}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let record = format!("/api/v1/residents/{}", created.json["id"].as_str().unwrap());
        // Tuesday and Friday, 9:00 to 10:30.
        let plan = app
            .post(
                &format!("{record}/care-plan"),
                &director.token,
                json!({"content": {"expectations": "Rester chez soi", "actions": [
                    {"what": "Aide au lever et courses", "who": {"role": "home_helper"},
                     "schedule": {"kind": "weekly", "days": ["tuesday", "friday"], "start": "09:00", "end": "10:30"}}]}}),
            )
            .await;
        assert_eq!(plan.status, 201, "{}", plan.text);
        let version = format!("{record}/care-plan/versions/{}", plan.json["id"].as_str().unwrap());
        let etag = plan.header("etag").unwrap().to_owned();
        let active = send_if(&app, Method::POST, &format!("{version}/activate"), &director.token, &etag).await;
        assert_eq!(active.status, 200, "{}", active.text);
        records.push(created.json["id"].as_str().unwrap().to_owned());
    }
    // The helper is assigned to the first person only.
    let assigned = app
        .post(
            &format!("/api/v1/residents/{}/assignments", records[0]),
            &tenant.admin.token,
            json!({"user_id": helper.id, "starts_on": "2026-06-01"}),
        )
        .await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);

    // Tuesday 1 December 2026: one visit each, 9:00–10:30 Paris time.
    let tasks = format!("/api/v1/establishments/{saad}/tasks?date=2026-12-01&unit_id={round}");
    let all = app.get(&tasks, &director.token).await;
    assert_eq!(all.json.as_array().unwrap().len(), 2, "{}", all.text);
    let mine = app.get(&format!("{tasks}&mine=true"), &helper.token).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let visits = mine.json.as_array().unwrap();
    assert_eq!(visits.len(), 1, "{}", mine.text);
    assert_eq!(visits[0]["resident"]["family_name"], "Visite");
    assert_eq!(
        (visits[0]["scheduled_for"].as_str(), visits[0]["until"].as_str()),
        (Some("2026-12-01T08:00:00Z"), Some("2026-12-01T09:30:00Z"))
    );
    // Wednesday: no visit.
    let wednesday = app.get(&format!("/api/v1/establishments/{saad}/tasks?date=2026-12-02"), &helper.token).await;
    assert_eq!(wednesday.json, json!([]));
    // The helper records the visit of the person assigned, not the other one's.
    let body = |resident: usize| {
        json!({"plan_version_id": all.json.as_array().unwrap().iter().find(|t| t["resident"]["family_name"] == if resident == 0 { "Visite" } else { "Autre" }).unwrap()["plan_version_id"],
               "action_id": all.json.as_array().unwrap().iter().find(|t| t["resident"]["family_name"] == if resident == 0 { "Visite" } else { "Autre" }).unwrap()["action_id"],
               "scheduled_for": "2026-12-01T08:00:00Z", "status": "done", "performed_at": "2026-12-01T08:05:00Z"})
    };
    let done = app.post(&format!("/api/v1/residents/{}/tasks", records[0]), &helper.token, body(0)).await;
    assert_eq!(done.status, 201, "{}", done.text);
    app.post(&format!("/api/v1/residents/{}/tasks", records[1]), &helper.token, body(1)).await.problem(404);
}
