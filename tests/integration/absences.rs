//! Absences and appointments: an absence suspends the person's tasks until the return, a task
//! cannot be recorded while the person is away, an appointment outside makes its absence, the
//! day's list of who is away; who records and reads them.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant, TestUser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

pub(crate) fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Midnight UTC of the day `days` from today.
pub(crate) fn day(days: i64) -> DateTime<Utc> {
    (Utc::now().date_naive() + Duration::days(days)).and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// The tenant's EHPAD on UTC (so that the schedule's times are the instants), a person admitted
/// there a month ago with a plan in force since, whose care is at 08:00, 12:00 and 20:00 every
/// day; the record's path.
pub(crate) async fn person_with_care(app: &TestApp, tenant: &TestTenant, name: &str) -> String {
    let ehpad = tenant.establishments[0].id;
    let utc =
        app.patch(&format!("/api/v1/establishments/{ehpad}"), &tenant.admin.token, json!({"timezone": "UTC"})).await;
    assert_eq!(utc.status, 200, "{}", utc.text);
    let admitted = admit(
        app,
        tenant,
        json!({"admitted_on": (Utc::now().date_naive() - Duration::days(30)).to_string(),
               "identity": identity(name, "Rose", "1934-04-04")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let director = app.user(tenant, &[(Some(ehpad), Role::Director)]).await;
    let plan = app
        .post(
            &format!("{record}/care-plan"),
            &director.token,
            json!({"content": {"expectations": "Être bien soignée", "actions": [
                {"what": "Soins", "who": {"role": "care_assistant"}, "schedule": {"kind": "daily", "times": ["08:00", "12:00", "20:00"]}}]}}),
        )
        .await;
    assert_eq!(plan.status, 201, "{}", plan.text);
    let version = format!("{record}/care-plan/versions/{}", plan.json["id"].as_str().unwrap());
    let etag = crate::care_plans::validated(app, &version, &director.token).await;
    let active = app
        .request_with(Method::POST, &format!("{version}/activate"), Some(&director.token), None, &[("If-Match", &etag)])
        .await;
    assert_eq!(active.status, 200, "{}", active.text);
    // In force for a month already: past days have their tasks.
    crate::care_tasks::backdate(app, tenant, &plan.json["id"], &iso(day(-30))).await;
    record
}

/// The states of the person's plan tasks of `date`, in time order.
async fn states(app: &TestApp, tenant: &TestTenant, user: &TestUser, date: NaiveDate) -> Vec<String> {
    let tasks = app
        .get(&format!("/api/v1/establishments/{}/tasks?date={date}", tenant.establishments[0].id), &user.token)
        .await;
    assert_eq!(tasks.status, 200, "{}", tasks.text);
    tasks
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "care_plan")
        .map(|t| t["state"].as_str().unwrap().to_owned())
        .collect()
}

fn task_body(tasks: &Value, at: DateTime<Utc>) -> Value {
    let task = tasks.as_array().unwrap().iter().find(|t| t["scheduled_for"] == iso(at)).unwrap();
    json!({"plan_version_id": task["plan_version_id"], "action_id": task["action_id"], "scheduled_for": iso(at),
           "status": "done", "performed_at": iso(at)})
}

#[tokio::test]
async fn an_absence_suspends_the_persons_tasks_until_the_return() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let record = person_with_care(&app, &tenant, "Absente").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let (d, d1) = (day(-3), day(-2));
    // Past and not recorded: missed (the tenant's window, four hours by default).
    assert_eq!(states(&app, &tenant, &nurse, d.date_naive()).await, ["missed", "missed", "missed"]);

    // Hospitalised at 10:00 on day D, by ambulance, no return expected yet.
    let hospital = app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "hospitalisation", "starts_at": iso(d + Duration::hours(10)), "transport": "ambulance",
                   "destination": {"name": "CHU de Bordeaux", "service": "Cardiologie"}, "reason": "Douleur thoracique"}),
        )
        .await;
    assert_eq!(hospital.status, 201, "{}", hospital.text);
    assert_eq!(hospital.json["state"], "in_progress");
    assert_eq!(hospital.json["destination"]["service"], "Cardiologie");
    let absence = format!("{record}/absences/{}", hospital.json["id"].as_str().unwrap());
    // The tasks inside the absence are suspended, not missed; the one before stays missed.
    assert_eq!(states(&app, &tenant, &nurse, d.date_naive()).await, ["missed", "suspended", "suspended"]);
    assert_eq!(states(&app, &tenant, &nurse, d1.date_naive()).await, ["suspended", "suspended", "suspended"]);
    // The care assistant (who reads the care team's data) and the state filter agree.
    let suspended = app
        .get(&format!("/api/v1/establishments/{ehpad}/tasks?date={}&state=suspended", d.date_naive()), &assistant.token)
        .await;
    assert_eq!(suspended.json.as_array().unwrap().len(), 2, "{}", suspended.text);

    // Recording a task while away is refused, naming the occurrence; before the departure it
    // is recorded.
    let tasks = app.get(&format!("/api/v1/establishments/{ehpad}/tasks?date={}", d.date_naive()), &nurse.token).await;
    let refused =
        app.post(&format!("{record}/tasks"), &assistant.token, task_body(&tasks.json, d + Duration::hours(12))).await;
    let problem = refused.problem(422);
    assert_eq!(problem["errors"][0]["field"], "scheduled_for", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("away"), "{problem}");
    let done =
        app.post(&format!("{record}/tasks"), &assistant.token, task_body(&tasks.json, d + Duration::hours(8))).await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(states(&app, &tenant, &nurse, d.date_naive()).await, ["done", "suspended", "suspended"]);

    // Away already: another departure during it is refused.
    let again = app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "other", "starts_at": iso(d + Duration::hours(15))}),
        )
        .await;
    assert!(again.problem(409)["detail"].as_str().unwrap().contains("away"), "{}", again.text);

    // Back on D+1 at 11:00: the tasks from then on resume.
    let back = app
        .post(&format!("{absence}/return"), &nurse.token, json!({"returned_at": iso(d1 + Duration::hours(11))}))
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(
        (back.json["state"].as_str(), back.json["return_recorded_by"].as_str()),
        (Some("ended"), Some(nurse.id.to_string().as_str()))
    );
    assert_eq!(states(&app, &tenant, &nurse, d1.date_naive()).await, ["suspended", "missed", "missed"]);
    assert_eq!(states(&app, &tenant, &nurse, d.date_naive()).await, ["done", "suspended", "suspended"]);
    // Once: an ended absence is neither ended again nor cancelled.
    app.post(&format!("{absence}/return"), &nurse.token, json!({})).await.problem(409);
    app.post(&format!("{absence}/cancel"), &nurse.token, json!({})).await.problem(409);

    // Who was away that day, for the day's list: the absence, with whom.
    let away =
        app.get(&format!("/api/v1/establishments/{ehpad}/away?date={}", d1.date_naive()), &assistant.token).await;
    assert_eq!(away.status, 200, "{}", away.text);
    assert_eq!(away.json["absences"][0]["resident"]["family_name"], "Absente", "{}", away.text);
    assert_eq!(away.json["absences"][0]["kind"], "hospitalisation");
    let later =
        app.get(&format!("/api/v1/establishments/{ehpad}/away?date={}", day(-1).date_naive()), &assistant.token).await;
    assert_eq!(later.json["absences"], json!([]), "back the day before: {}", later.text);

    // A planned family stay: its days are suspended ahead; cancelled, they are not.
    let stay = app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "family_stay", "starts_at": iso(day(3) + Duration::hours(10)),
                   "expected_return_at": iso(day(5) + Duration::hours(10)), "transport": "family",
                   "reason": "Noël chez sa fille"}),
        )
        .await;
    assert_eq!(stay.status, 201, "{}", stay.text);
    assert_eq!(stay.json["state"], "planned");
    assert_eq!(states(&app, &tenant, &nurse, day(4).date_naive()).await, ["suspended", "suspended", "suspended"]);
    assert_eq!(states(&app, &tenant, &nurse, day(5).date_naive()).await, ["suspended", "pending", "pending"]);
    let planned = format!("{record}/absences/{}", stay.json["id"].as_str().unwrap());
    let too_soon = app.post(&format!("{planned}/return"), &nurse.token, json!({})).await;
    assert!(too_soon.problem(409)["detail"].as_str().unwrap().contains("not started"));
    let cancelled = app.post(&format!("{planned}/cancel"), &nurse.token, json!({})).await;
    assert_eq!((cancelled.status, cancelled.json["state"].as_str()), (200, Some("cancelled")), "{}", cancelled.text);
    assert_eq!(states(&app, &tenant, &nurse, day(4).date_naive()).await, ["pending", "pending", "pending"]);

    // The list keeps everything, newest first.
    let listed = app.get(&format!("{record}/absences"), &nurse.token).await;
    let listed: Vec<&str> = listed.json.as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap()).collect();
    assert_eq!(listed, ["cancelled", "ended"]);

    // Bad input names its field.
    for (body, field) in [
        (json!({"kind": "other", "starts_at": iso(day(10)), "expected_return_at": iso(day(9))}), "expected_return_at"),
        (json!({"kind": "other", "starts_at": iso(day(400))}), "starts_at"),
        (json!({"kind": "other", "reason": "x".repeat(2001)}), "reason"),
        (json!({"kind": "other", "starts_at": iso(day(20)), "destination": {"name": "a\u{7}b"}}), "destination/name"),
    ] {
        let refused = app.post(&format!("{record}/absences"), &nurse.token, body.clone()).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], field, "{body}: {}", refused.text);
    }
    let returned_before = app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "other", "starts_at": iso(day(-1) + Duration::hours(6))}),
        )
        .await;
    assert_eq!(returned_before.status, 201, "{}", returned_before.text);
    let early = app
        .post(
            &format!("{record}/absences/{}/return", returned_before.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"returned_at": iso(day(-1))}),
        )
        .await;
    assert_eq!(early.problem(422)["errors"][0]["field"], "returned_at");

    // The care team's data: the social worker neither records nor reads it, and learns that the
    // person is away only from the tasks.
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    app.post(&format!("{record}/absences"), &social.token, json!({"kind": "other"})).await.problem(403);
    assert_eq!(app.get(&format!("{record}/absences"), &social.token).await.json, json!([]));
    let away = app.get(&format!("/api/v1/establishments/{ehpad}/away?date={}", d1.date_naive()), &social.token).await;
    assert_eq!(away.json["absences"], json!([]), "{}", away.text);
    assert!(!away.text.contains("CHU"));
    // Someone of another establishment sees no day of this one.
    let elsewhere = app.user(&tenant, &[(Some(tenant.establishments[1].id), Role::Nurse)]).await;
    app.get(&format!("/api/v1/establishments/{ehpad}/away"), &elsewhere.token).await.problem(404);
}

#[tokio::test]
async fn an_appointment_outside_makes_its_absence_and_a_cancellation_cancels_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let record = person_with_care(&app, &tenant, "Rendezvous").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let d = day(2);

    // Outside without a return time: refused (the person's care would stay suspended).
    let body = json!({"starts_at": iso(d + Duration::hours(10)), "with_whom": "Dr Cœur, cardiologue",
                      "place": "Clinique du Parc, 3 rue des Lilas", "outside": true, "transport": "vsl",
                      "accompanied_by": "Sa fille", "departs_at": iso(d + Duration::hours(9) + Duration::minutes(30))});
    let refused = app.post(&format!("{record}/appointments"), &nurse.token, body.clone()).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "returns_at");
    let mut outside = body;
    outside["returns_at"] = json!(iso(d + Duration::hours(12) + Duration::minutes(30)));
    let booked = app.post(&format!("{record}/appointments"), &nurse.token, outside).await;
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert_eq!((booked.json["status"].as_str(), booked.json["transport"].as_str()), (Some("planned"), Some("vsl")));
    let absence_id = booked.json["absence_id"].as_str().unwrap().to_owned();
    let absences = app.get(&format!("{record}/absences"), &nurse.token).await;
    let absence = &absences.json[0];
    assert_eq!(
        (absence["id"].as_str(), absence["kind"].as_str(), absence["state"].as_str(), absence["transport"].as_str()),
        (Some(absence_id.as_str()), Some("consultation"), Some("planned"), Some("vsl"))
    );
    assert_eq!(absence["destination"]["name"], "Dr Cœur, cardiologue");
    assert_eq!(absence["starts_at"], iso(d + Duration::hours(9) + Duration::minutes(30)));
    // The 12:00 care falls while the person is out.
    assert_eq!(states(&app, &tenant, &nurse, d.date_naive()).await, ["pending", "suspended", "pending"]);

    // An appointment inside (the dentist comes): no absence.
    let dentist = app
        .post(
            &format!("{record}/appointments"),
            &nurse.token,
            json!({"starts_at": iso(d + Duration::hours(15)), "with_whom": "Dentiste", "notes": "À jeun non nécessaire"}),
        )
        .await;
    assert_eq!(dentist.status, 201, "{}", dentist.text);
    assert!(dentist.json["absence_id"].is_null());
    let inside_with_return = app
        .post(
            &format!("{record}/appointments"),
            &nurse.token,
            json!({"starts_at": iso(d + Duration::hours(16)), "with_whom": "Kiné", "returns_at": iso(d + Duration::hours(17))}),
        )
        .await;
    assert_eq!(inside_with_return.problem(422)["errors"][0]["field"], "returns_at");

    // The day's list: both appointments, and the consultation's absence.
    let away = app.get(&format!("/api/v1/establishments/{ehpad}/away?date={}", d.date_naive()), &nurse.token).await;
    assert_eq!(away.status, 200, "{}", away.text);
    let with: Vec<&str> =
        away.json["appointments"].as_array().unwrap().iter().map(|a| a["with_whom"].as_str().unwrap()).collect();
    assert_eq!(with, ["Dr Cœur, cardiologue", "Dentiste"]);
    assert_eq!(away.json["appointments"][0]["resident"]["family_name"], "Rendezvous");
    assert_eq!(away.json["absences"][0]["id"], absence_id.as_str());

    // Not done before its time; cancelled, it cancels its absence (the person did not leave).
    let appointment = format!("{record}/appointments/{}", booked.json["id"].as_str().unwrap());
    app.post(&format!("{appointment}/done"), &nurse.token, json!({})).await.problem(409);
    let cancelled = app.post(&format!("{appointment}/cancel"), &nurse.token, json!({})).await;
    assert_eq!(cancelled.json["status"], "cancelled", "{}", cancelled.text);
    app.post(&format!("{appointment}/cancel"), &nurse.token, json!({})).await.problem(409);
    let absences = app.get(&format!("{record}/absences"), &nurse.token).await;
    assert_eq!(absences.json[0]["state"], "cancelled", "{}", absences.text);
    assert_eq!(states(&app, &tenant, &nurse, d.date_naive()).await, ["pending", "pending", "pending"]);

    // An appointment that took place is marked done, once.
    let past = app
        .post(
            &format!("{record}/appointments"),
            &nurse.token,
            json!({"starts_at": iso(day(-1) + Duration::hours(14)), "with_whom": "Pédicure"}),
        )
        .await;
    assert_eq!(past.status, 201, "{}", past.text);
    let past = format!("{record}/appointments/{}", past.json["id"].as_str().unwrap());
    let done = app.post(&format!("{past}/done"), &nurse.token, json!({})).await;
    assert_eq!((done.status, done.json["status"].as_str()), (200, Some("done")), "{}", done.text);
    assert_eq!(done.json["status_changed_by"], nurse.id.to_string());
    app.post(&format!("{past}/done"), &nurse.token, json!({})).await.problem(409);
    let listed = app.get(&format!("{record}/appointments"), &nurse.token).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 3, "{}", listed.text);

    // The care team's data: a director as such neither books nor reads appointments.
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    app.post(&format!("{record}/appointments"), &director.token, json!({"starts_at": iso(d), "with_whom": "Dr X"}))
        .await
        .problem(403);
    assert_eq!(app.get(&format!("{record}/appointments"), &director.token).await.json, json!([]));
}

/// A retry of a departure with the same key gives the absence recorded first, although the
/// person is away by then: the retry is answered before the checks.
#[tokio::test]
async fn a_departure_sent_twice_with_its_key_is_recorded_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = person_with_care(&app, &tenant, "Deuxfois").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let body = json!({"kind": "hospitalisation", "transport": "ambulance"});
    let mut answers = Vec::new();
    for _ in 0..2 {
        let sent = app
            .request_with(
                Method::POST,
                &format!("{record}/absences"),
                Some(&nurse.token),
                Some(body.clone()),
                &[("Idempotency-Key", "depart-1")],
            )
            .await;
        assert!(sent.status == 201 || sent.status == 200, "{}", sent.text);
        answers.push(sent.json["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(app.get(&format!("{record}/absences"), &nurse.token).await.json.as_array().unwrap().len(), 1);
}
