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

/// Puts a plan version's activation back to `at`, as if it had been in force since (tests read
/// past days, which only a plan in force then has tasks on).
pub async fn backdate(app: &TestApp, tenant: &dui_testkit::TestTenant, version: &Value, at: &str) {
    let owner = app.db.connect(&app.db.owner_url).await;
    let id: uuid::Uuid = version.as_str().unwrap().parse().unwrap();
    owner.batch_execute(&format!("SET app.tenant_id = '{}'", tenant.id)).await.unwrap();
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    let changed = owner
        .execute("UPDATE care_plan_versions SET activated_at = $2, created_at = $2 WHERE id = $1", &[&id, &at])
        .await
        .unwrap();
    assert_eq!(changed, 1);
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
    let etag = crate::care_plans::validated(&app, &version, &nurse.token).await;
    let active = send_if(&app, Method::POST, &format!("{version}/activate"), &nurse.token, &etag).await;
    assert_eq!(active.status, 200, "{}", active.text);
    // Activated just now, the plan has no task on a past day, and nothing can be recorded for
    // one.
    assert_eq!(app.get(&format!("{tasks}?date=2026-11-30"), &nurse.token).await.json, json!([]));
    let early = app
        .post(
            &format!("{record}/tasks"),
            &nurse.token,
            json!({"plan_version_id": plan.json["id"], "action_id": active.json["content"]["actions"][0]["id"],
                   "scheduled_for": "2026-11-30T07:00:00Z", "status": "done", "performed_at": "2026-11-30T07:20:00Z"}),
        )
        .await;
    let problem = early.problem(422);
    assert_eq!(problem["errors"][0]["field"], "scheduled_for", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("in force"), "{problem}");
    // Today's occurrences before its activation are not its tasks either.
    let activated: chrono::DateTime<chrono::Utc> = active.json["activated_at"].as_str().unwrap().parse().unwrap();
    let today = app.get(&format!("{tasks}?date={}", activated.date_naive()), &nurse.token).await;
    for task in today.json.as_array().unwrap() {
        let at: chrono::DateTime<chrono::Utc> = task["scheduled_for"].as_str().unwrap().parse().unwrap();
        assert!(at >= activated, "{task} precedes the activation at {activated}");
        assert_ne!(task["state"], "late", "{task}");
    }
    backdate(&app, &tenant, &plan.json["id"], "2026-06-01T00:00:00Z").await;

    // 30 November (Paris, UTC+1): the monthly weighing on "day 31" falls on the 30th.
    let day = app.get(&format!("{tasks}?date=2026-11-30&unit_id={wing}"), &nurse.token).await;
    assert_eq!(day.status, 200, "{}", day.text);
    assert_eq!(times(&day.json, "Toilette"), ["2026-11-30T07:00:00Z", "2026-11-30T19:00:00Z"]);
    assert_eq!(times(&day.json, "Changement de position").len(), 6);
    assert_eq!(times(&day.json, "Pesée"), ["2026-11-30T09:00:00Z"]);
    assert_eq!(day.json.as_array().unwrap().len(), 9, "the unscheduled action is no task");
    assert_eq!(day.json[0]["resident"]["family_name"], "Soins");
    assert!(
        day.json.as_array().unwrap().iter().all(|t| t["state"] == "missed"),
        "a past day, nothing recorded: missed, not late"
    );
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
    // Done before the plan was in force, or days before its time: refused.
    for performed_at in ["2026-05-31T07:00:00Z", "2026-11-28T07:00:00Z"] {
        let mut early = body("done", None, &json!("2026-11-30T19:00:00Z"));
        early["performed_at"] = json!(performed_at);
        let refused = app.post(&format!("{record}/tasks"), &assistant.token, early).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], "performed_at", "{performed_at}");
    }

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
    let missed = app.get(&format!("{tasks}?date=2026-11-30&state=missed"), &nurse.token).await;
    assert_eq!(missed.json.as_array().unwrap().len(), 8);
    let amended_early =
        app.post(&amend, &assistant.token, json!({"status": "done", "performed_at": "2026-05-30T07:25:00Z"})).await;
    assert_eq!(amended_early.problem(422)["errors"][0]["field"], "performed_at");

    // The traceability: both records, nothing deleted.
    let history =
        app.get(&format!("{record}/tasks?from=2026-11-30T00:00:00Z&to=2026-12-01T00:00:00Z"), &nurse.token).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let statuses: Vec<&str> = history.json.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["done", "refused"]);
    app.get(&format!("{record}/tasks?from=2026-11-30T00:00:00Z&to=2026-01-01T00:00:00Z"), &nurse.token)
        .await
        .problem(422);
    // Days are accepted, in the establishment's calendar, the end day included: the 30th in
    // Paris runs from 23:00 UTC on the 29th.
    let by_days = app.get(&format!("{record}/tasks?from=2026-11-30&to=2026-11-30"), &nurse.token).await;
    assert_eq!(by_days.status, 200, "{}", by_days.text);
    assert_eq!(by_days.json, history.json);
    let before = app.get(&format!("{record}/tasks?from=2026-11-01&to=2026-11-29"), &nurse.token).await;
    assert_eq!(before.json, json!([]), "{}", before.text);
    let bad = app.get(&format!("{record}/tasks?from=2026-12&to=2026-12-07"), &nurse.token).await;
    let detail = bad.problem(400)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("expected a date (2026-12-01)"), "{detail}");

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
        let etag = crate::care_plans::validated(&app, &version, &director.token).await;
        let active = send_if(&app, Method::POST, &format!("{version}/activate"), &director.token, &etag).await;
        assert_eq!(active.status, 200, "{}", active.text);
        backdate(&app, &tenant, &plan.json["id"], "2026-06-01T00:00:00Z").await;
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

#[tokio::test]
async fn a_task_not_recorded_is_late_then_missed_after_the_tenants_window() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let changed =
        app.patch(&format!("/api/v1/establishments/{ehpad}"), &tenant.admin.token, json!({"timezone": "UTC"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let admitted = admit(
        &app,
        &tenant,
        json!({"admitted_on": "2026-06-01", "identity": identity("Fenetre", "Rose", "1933-02-02")}),
    )
    .await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let plan = app
        .post(
            &format!("{record}/care-plan"),
            &nurse.token,
            json!({"content": {"expectations": "Confort", "actions": [
                {"what": "Surveillance", "who": {"role": "nurse"}, "schedule": {"kind": "every_hours", "every": 1, "from": "00:00"}}
            ]}}),
        )
        .await;
    let version = format!("{record}/care-plan/versions/{}", plan.json["id"].as_str().unwrap());
    let etag = crate::care_plans::validated(&app, &version, &nurse.token).await;
    let active = send_if(&app, Method::POST, &format!("{version}/activate"), &nurse.token, &etag).await;
    assert_eq!(active.status, 200, "{}", active.text);
    backdate(&app, &tenant, &plan.json["id"], "2026-06-01T00:00:00Z").await;

    let states = |window_hours: i64, tasks: &Value, now: chrono::DateTime<chrono::Utc>| {
        let mut checked = 0;
        for task in tasks.as_array().unwrap() {
            let at: chrono::DateTime<chrono::Utc> = task["scheduled_for"].as_str().unwrap().parse().unwrap();
            let age = now - at;
            // Away from the edges, which the clock may cross between the request and now.
            let near = |edge: chrono::Duration| (age - edge).num_seconds().abs() < 120;
            let (hour, window) = (chrono::Duration::hours(1), chrono::Duration::hours(window_hours));
            if near(chrono::Duration::zero()) || near(hour) || near(window) {
                continue;
            }
            let expected = if age < chrono::Duration::zero() {
                "pending"
            } else if age < hour {
                "due"
            } else if age < window {
                "late"
            } else {
                "missed"
            };
            assert_eq!(task["state"], expected, "{task} at {now}, window {window_hours} h");
            checked += 1;
        }
        checked
    };
    let now = chrono::Utc::now();
    let yesterday = (now - chrono::Duration::days(1)).date_naive();
    let tasks = format!("/api/v1/establishments/{ehpad}/tasks");
    let mut checked = 0;
    for day in [yesterday, now.date_naive()] {
        let listed = app.get(&format!("{tasks}?date={day}"), &nurse.token).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        checked += states(4, &listed.json, now);
    }
    assert!(checked > 20, "hourly tasks over two days");

    // The tenant widens the window to a day: the tasks of the last 24 hours are late.
    let widened = app
        .patch(
            "/api/v1/settings",
            &tenant.admin.token,
            json!({"expected_version": 0, "task_missed_after_minutes": 1440}),
        )
        .await;
    assert_eq!(widened.status, 200, "{}", widened.text);
    // (The establishment's days are Paris's: near midnight the late hours are on one of them.)
    let now = chrono::Utc::now();
    let mut late = 0;
    for day in [yesterday, now.date_naive()] {
        let listed = app.get(&format!("{tasks}?date={day}"), &nurse.token).await;
        states(24, &listed.json, now);
        late += listed.json.as_array().unwrap().iter().filter(|t| t["state"] == "late").count();
    }
    assert!(late > 0, "tasks of the last 24 hours are late");
}

/// "Today" is the establishment's: in a time zone whose day is not UTC's at this hour (14 hours
/// ahead after 10:00 UTC, 12 hours behind before), the day's lists default to the local day,
/// and an assessment dated today is not "in the future".
#[tokio::test]
async fn today_is_the_establishments_day_not_utcs() {
    use chrono::Timelike;
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let zone = if chrono::Utc::now().hour() >= 10 { "Etc/GMT-14" } else { "Etc/GMT+12" };
    let changed =
        app.patch(&format!("/api/v1/establishments/{ehpad}"), &tenant.admin.token, json!({"timezone": zone})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let owner = app.db.connect(&app.db.owner_url).await;
    let sql = format!("SELECT (now() AT TIME ZONE '{zone}')::date, (now() AT TIME ZONE 'UTC')::date");
    let row = owner.query_one(sql.as_str(), &[]).await.unwrap();
    let (local, utc): (chrono::NaiveDate, chrono::NaiveDate) = (row.get(0), row.get(1));
    assert_ne!(local, utc, "the zone's day differs from UTC's now");
    let admitted = admit(
        &app,
        &tenant,
        json!({"admitted_on": utc - chrono::Duration::days(30), "identity": identity("Fuseau", "Rose", "1933-02-02")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;

    let away = app.get(&format!("/api/v1/establishments/{ehpad}/away"), &nurse.token).await;
    assert_eq!((away.status, away.json["date"].as_str()), (200, Some(local.to_string().as_str())), "{}", away.text);
    let doses = app.get(&format!("/api/v1/establishments/{ehpad}/doses"), &nurse.token).await;
    assert_eq!(doses.json["date"].as_str(), Some(local.to_string().as_str()), "{}", doses.text);
    let assessment = |day: chrono::NaiveDate| {
        json!({"instrument": "algoplus", "assessed_on": day,
               "answers": {"visage": "yes", "regard": "no", "plaintes": "no", "corps": "no", "comportements": "no"}})
    };
    let assessments = format!("{record}/assessments");
    let today = app.post(&assessments, &nurse.token, assessment(local)).await;
    assert_eq!(today.status, 201, "{}", today.text);
    let tomorrow = app.post(&assessments, &nurse.token, assessment(local + chrono::Duration::days(1))).await;
    assert_eq!(tomorrow.problem(422)["errors"][0]["field"], "assessed_on");
}
