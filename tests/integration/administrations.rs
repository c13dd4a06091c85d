//! Medication rounds: yesterday's plan of a nursing home from a prescription of three lines
//! (moments, an injection, a drug if needed); doses recorded once as given, partly given,
//! refused, not given; the care assistant's help with taking and the nurse's administration; a
//! record flagged in error and the dose recorded again; the maximum and the interval of a drug
//! given if needed; warnings to confirm; doses suspended while the person is away; the hand-over;
//! who may record; an idempotent retry.

use chrono::{DateTime, NaiveDate, Utc};
use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant};
use serde_json::{Value, json};

use crate::drugs::import_fixture;
use crate::prescriptions::fields;
use crate::residents::{admit, identity};

/// The instant of a local time of Paris, as the API writes instants.
async fn paris(app: &TestApp, day: NaiveDate, time: &str) -> String {
    let owner = app.db.connect(&app.db.owner_url).await;
    let sql = format!("SELECT '{day} {time}'::timestamp AT TIME ZONE 'Europe/Paris'");
    let at: DateTime<Utc> = owner.query_one(sql.as_str(), &[]).await.unwrap().get(0);
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Paracetamol morning, noon (half) and evening; an anticoagulant injection in the morning;
/// phloroglucinol if needed, twice a day at most, two hours apart.
fn three_lines(prescribed_on: NaiveDate) -> Value {
    json!({
        "prescriber": {"name": "Dr Claire Martin", "rpps": "10003456789"},
        "prescribed_on": prescribed_on,
        "source": "paper",
        "lines": [
            {"cis": "60234100", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
             "schedule": {"kind": "moments", "moments": [{"moment": "morning"}, {"moment": "noon", "quantity": 0.5},
                                                         {"moment": "evening"}]}},
            {"cis": "69000007", "dose": {"quantity": 1, "unit": "seringue"}, "route": "subcutaneous",
             "schedule": {"kind": "moments", "moments": [{"moment": "morning"}]}},
            {"cis": "69000009", "dose": {"quantity": 2, "unit": "comprimé"}, "route": "oral",
             "schedule": {"kind": "if_needed", "max_per_day": 2, "min_interval_hours": 2,
                          "condition": "si douleurs abdominales"}}
        ]
    })
}

struct Ward {
    app: TestApp,
    tenant: TestTenant,
    ehpad: String,
    record: String,
    nurse: String,
    assistant: String,
    version: String,
    yesterday: NaiveDate,
}

/// A person admitted a month ago, with the prescription above recorded three days ago.
async fn ward() -> Ward {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let today = app.local_today().await;
    let admitted = admit(
        &app,
        &tenant,
        json!({"identity": identity("Tournée", "Odette", "1931-01-01"),
               "admitted_on": today - chrono::Duration::days(30)}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await.token;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await.token;
    let created =
        app.post(&format!("{record}/prescriptions"), &nurse, three_lines(today - chrono::Duration::days(3))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let version = created.json["id"].as_str().unwrap().to_owned();
    // Recorded three days ago: yesterday's doses were all owed.
    let superuser = dui_storage::cluster::url_for(&app.db.admin_url, "postgres", &app.db.name).unwrap();
    let superuser = app.db.connect(&superuser).await;
    let backdate = format!("UPDATE prescriptions SET recorded_at = now() - interval '3 days' WHERE id = '{version}'");
    superuser.batch_execute(&backdate).await.unwrap();
    Ward {
        app,
        tenant,
        ehpad: ehpad.to_string(),
        record,
        nurse,
        assistant,
        version,
        yesterday: today - chrono::Duration::days(1),
    }
}

impl Ward {
    fn dose(&self, line: u32, slot: Option<&str>, outcome: &str) -> Value {
        let mut body = json!({"prescription_version_id": self.version, "line": line, "outcome": outcome});
        if let Some(slot) = slot {
            body["due_on"] = json!(self.yesterday);
            body["slot"] = json!(slot);
        }
        body
    }

    async fn at(&self, time: &str) -> String {
        paris(&self.app, self.yesterday, time).await
    }

    async fn plan(&self, query: &str) -> Value {
        let plan = self
            .app
            .get(&format!("/api/v1/establishments/{}/doses?date={}{query}", self.ehpad, self.yesterday), &self.nurse)
            .await;
        assert_eq!(plan.status, 200, "{}", plan.text);
        plan.json
    }
}

fn states(plan: &Value) -> Vec<(u64, String, String)> {
    plan["doses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["slot"].as_str().unwrap().to_owned(),
                d["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_round_lists_the_doses_owed_and_each_is_recorded_once() {
    let w = ward().await;
    let (app, doses) = (&w.app, format!("{}/administrations", w.record));

    // Yesterday's plan: four planned doses, all missed by now, in time order; the drug given if
    // needed apart.
    let plan = w.plan("").await;
    let own =
        |s: &[(u64, &str, &str)]| s.iter().map(|(l, s, t)| (*l, s.to_string(), t.to_string())).collect::<Vec<_>>();
    assert_eq!(
        states(&plan),
        own(&[(1, "morning", "missed"), (2, "morning", "missed"), (1, "noon", "missed"), (1, "evening", "missed")])
    );
    let first = &plan["doses"][0];
    assert_eq!(first["resident"]["family_name"], "Tournée");
    assert!(first["drug"].as_str().unwrap().starts_with("DOLIPRANE 500 mg"));
    assert_eq!((first["dose"]["quantity"].as_f64(), first["nurse_only"].as_bool()), (Some(1.0), Some(false)));
    assert_eq!(plan["doses"][1]["nurse_only"], true, "an injection is a nurse's");
    assert_eq!(plan["doses"][2]["dose"]["quantity"], 0.5, "the noon dose is half a tablet");
    assert_eq!(first["due_at"].as_str().unwrap(), w.at("08:00").await);
    assert_eq!(plan["if_needed"].as_array().unwrap().len(), 1);
    assert_eq!(
        (plan["if_needed"][0]["given"].as_u64(), plan["if_needed"][0]["max_per_day"].as_u64()),
        (Some(0), Some(2))
    );
    // One round.
    let morning = w.plan("&round=morning").await;
    assert_eq!(states(&morning), own(&[(1, "morning", "missed"), (2, "morning", "missed")]));
    assert_eq!(w.plan("&state=missed").await["doses"].as_array().unwrap().len(), 4);
    // One person's doses; another person of the home has none.
    let person = w.record.trim_start_matches("/api/v1/residents/").to_owned();
    assert_eq!(w.plan(&format!("&resident_id={person}")).await["doses"].as_array().unwrap().len(), 4);
    let other = admit(app, &w.tenant, json!({"identity": identity("Voisine", "Rose", "1930-03-03")})).await;
    let other = other.json["id"].as_str().unwrap().to_owned();
    let theirs = w.plan(&format!("&resident_id={other}")).await;
    assert_eq!((theirs["doses"].as_array().unwrap().len(), theirs["if_needed"].as_array().unwrap().len()), (0, 0));

    // The care assistant helps with taking the tablet, not with the injection (which they may
    // record as refused).
    let mut tablet = w.dose(1, Some("morning"), "given");
    tablet["given_at"] = json!(w.at("08:10").await);
    let helped = app.post(&doses, &w.assistant, tablet.clone()).await;
    assert_eq!(helped.status, 201, "{}", helped.text);
    assert_eq!((helped.json["act"].as_str(), helped.json["quantity"].as_f64()), (Some("help_with_taking"), Some(1.0)));
    assert_eq!(helped.json["due_at"].as_str().unwrap(), w.at("08:00").await);
    assert_eq!(fields(&app.post(&doses, &w.assistant, w.dose(2, Some("morning"), "given")).await), ["line"]);
    let refused = app.post(&doses, &w.assistant, w.dose(2, Some("morning"), "refused")).await;
    assert_eq!(refused.status, 201, "{}", refused.text);
    // Once: a second record of the same dose is refused, whoever makes it.
    let twice = app.post(&doses, &w.nurse, tablet.clone()).await;
    assert!(twice.problem(409)["detail"].as_str().unwrap().contains("recorded already"), "{}", twice.text);
    // Flagged in error, the dose is owed again; the nurse records it, as an administration.
    let flag = format!("{doses}/{}/entered-in-error", helped.json["id"].as_str().unwrap());
    assert_eq!(fields(&app.post(&flag, &w.nurse, json!({"reason": "x"})).await), ["reason"]);
    let flagged = app.post(&flag, &w.nurse, json!({"reason": "Enregistré pour la mauvaise personne"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert!(flagged.json["error_at"].is_string());
    app.post(&flag, &w.nurse, json!({"reason": "Encore une fois"})).await.problem(409);
    let again = app.post(&doses, &w.nurse, tablet.clone()).await;
    assert_eq!((again.status, again.json["act"].as_str()), (201, Some("administration")), "{}", again.text);

    // What the rules refuse, by field.
    let mut early = w.dose(1, Some("noon"), "given");
    early["given_at"] = json!(w.at("09:30").await);
    assert_eq!(fields(&app.post(&doses, &w.nurse, early).await), ["given_at"]);
    assert_eq!(fields(&app.post(&doses, &w.nurse, w.dose(1, Some("bedtime"), "given")).await), ["slot"]);
    assert_eq!(fields(&app.post(&doses, &w.nurse, w.dose(7, Some("noon"), "given")).await), ["line"]);
    assert_eq!(fields(&app.post(&doses, &w.nurse, w.dose(1, None, "given")).await), ["slot"]);
    assert_eq!(fields(&app.post(&doses, &w.nurse, w.dose(1, Some("evening"), "not_given")).await), ["reason"]);
    let mut stranger = w.dose(1, Some("noon"), "given");
    stranger["prescription_version_id"] = json!(uuid::Uuid::now_v7());
    assert_eq!(fields(&app.post(&doses, &w.nurse, stranger).await), ["prescription_version_id"]);

    // Half of the noon half-tablet; the evening dose not given, asleep.
    let mut partly = w.dose(1, Some("noon"), "partly_given");
    partly["quantity"] = json!(0.25);
    partly["note"] = json!("A recraché la moitié");
    partly["given_at"] = json!(w.at("12:20").await);
    let partly = app.post(&doses, &w.nurse, partly).await;
    assert_eq!(partly.status, 201, "{}", partly.text);
    let mut asleep = w.dose(1, Some("evening"), "not_given");
    asleep["reason"] = json!("asleep");
    asleep["given_at"] = json!(w.at("18:30").await);
    assert_eq!(app.post(&doses, &w.nurse, asleep).await.status, 201);
    assert_eq!(
        states(&w.plan("").await),
        own(&[
            (1, "morning", "given"),
            (2, "morning", "refused"),
            (1, "noon", "partly_given"),
            (1, "evening", "not_given")
        ])
    );

    // If needed: twice a day at most, two hours apart; a refusal does not count.
    let if_needed = |at: String, outcome: &str| {
        let mut body = w.dose(3, None, outcome);
        body["given_at"] = json!(at);
        body
    };
    assert_eq!(app.post(&doses, &w.nurse, if_needed(w.at("10:00").await, "given")).await.status, 201);
    assert_eq!(fields(&app.post(&doses, &w.nurse, if_needed(w.at("11:00").await, "given")).await), ["given_at"]);
    assert_eq!(app.post(&doses, &w.assistant, if_needed(w.at("13:00").await, "given")).await.status, 201);
    let third = app.post(&doses, &w.nurse, if_needed(w.at("16:00").await, "given")).await;
    assert_eq!(fields(&third), ["line"]);
    assert!(third.text.contains("the maximum is 2 a day"), "{}", third.text);
    assert_eq!(app.post(&doses, &w.nurse, if_needed(w.at("16:00").await, "refused")).await.status, 201);
    let not_given = app.post(&doses, &w.nurse, if_needed(w.at("16:00").await, "not_given")).await;
    assert!(fields(&not_given).contains(&"outcome".to_owned()), "{}", not_given.text);
    let plan = w.plan("").await;
    assert_eq!(plan["if_needed"][0]["given"], 2);
    assert_eq!(plan["if_needed"][0]["last_given_at"].as_str().unwrap(), w.at("13:00").await);

    // The hand-over tells the care team what was not given as prescribed.
    let feed =
        app.get(&format!("/api/v1/establishments/{}/handover?since=2020-01-01T00:00:00Z", w.ehpad), &w.assistant).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let mut told: Vec<(String, String)> = feed.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source_type"] == "administration")
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["summary"].as_str().unwrap().to_owned()))
        .collect();
    told.sort();
    let kinds: Vec<&str> = told.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["dose_not_given", "dose_not_given", "dose_refused", "dose_refused"], "{told:?}");
    assert!(
        told.iter()
            .any(|(_, s)| s.contains("(midi) : pris en partie (0.25 comprimé sur la dose) — A recraché la moitié")),
        "{told:?}"
    );
    assert!(told.iter().any(|(_, s)| s.ends_with("(soir) : non donné — endormi")), "{told:?}");

    // The person's history: every record, the one in error flagged.
    let today = app.local_today().await;
    let history = app.get(&format!("{doses}?from={}&to={today}", w.yesterday), &w.nurse).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let records = history.json.as_array().unwrap();
    assert_eq!(records.len(), 8, "{}", history.text);
    assert_eq!(records.iter().filter(|r| r["error_at"].is_string()).count(), 1);
}

#[tokio::test]
async fn warnings_are_confirmed_and_doses_are_suspended_while_the_person_is_away() {
    let w = ward().await;
    let (app, doses) = (&w.app, format!("{}/administrations", w.record));
    // An allergy to paracetamol recorded after the prescription: the tablet asks for a
    // confirmation before it is recorded given (a refusal does not).
    let allergy = app
        .post(
            &format!("{}/allergies", w.record),
            &w.nurse,
            json!({"kind": "allergy", "substance": "paracétamol", "severity": "severe", "source": "medical_record"}),
        )
        .await;
    assert_eq!(allergy.status, 201, "{}", allergy.text);
    // The round's plan shows it on the tablet's doses before anyone prepares them.
    let plan = w.plan("&round=morning").await;
    assert_eq!(plan["doses"][0]["warnings"][0]["kind"], "allergy", "{plan}");
    assert_eq!(plan["doses"][0]["warnings"][0]["allergy_substance"], "paracétamol");
    assert_eq!(plan["doses"][1]["warnings"].as_array().unwrap().len(), 0, "the injection is not paracetamol");
    let mut tablet = w.dose(1, Some("morning"), "given");
    tablet["given_at"] = json!(w.at("08:05").await);
    let unconfirmed = app.post(&doses, &w.nurse, tablet.clone()).await;
    assert_eq!(fields(&unconfirmed), ["confirm"]);
    tablet["confirm"] = json!(true);
    let confirmed = app.post(&doses, &w.nurse, tablet).await;
    assert_eq!(confirmed.status, 201, "{}", confirmed.text);
    assert_eq!(confirmed.json["confirmed_warnings"], true);

    // Hospitalised yesterday at 09:00, not back: the doses after are suspended, not missed.
    let away = app
        .post(
            &format!("{}/absences", w.record),
            &w.nurse,
            json!({"kind": "hospitalisation", "starts_at": w.at("09:00").await, "transport": "ambulance"}),
        )
        .await;
    assert_eq!(away.status, 201, "{}", away.text);
    let plan = w.plan("").await;
    let states: Vec<(u64, &str, &str)> = plan["doses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["slot"].as_str().unwrap(), d["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [(1, "morning", "given"), (2, "morning", "missed"), (1, "noon", "suspended"), (1, "evening", "suspended")]
    );
    // A dose given while the person is in hospital is a mistake; not given, hospitalised, it is.
    let mut noon = w.dose(1, Some("noon"), "given");
    noon["given_at"] = json!(w.at("12:05").await);
    noon["confirm"] = json!(true);
    let refused = app.post(&doses, &w.nurse, noon.clone()).await;
    assert_eq!(fields(&refused), ["outcome"]);
    assert!(refused.text.contains("hospitalisation"), "{}", refused.text);
    noon["outcome"] = json!("not_given");
    noon["reason"] = json!("hospitalised");
    noon["confirm"] = json!(false);
    assert_eq!(app.post(&doses, &w.nurse, noon).await.status, 201);
    let plan = w.plan("&round=noon").await;
    assert_eq!(plan["doses"][0]["state"], "not_given", "{plan}");
}

#[tokio::test]
async fn who_records_doses_and_what_a_version_owes() {
    let w = ward().await;
    let (app, doses) = (&w.app, format!("{}/administrations", w.record));
    // A director of the home is not of the care team: no dose listed, none recorded.
    let ehpad = w.tenant.establishments[0].id;
    let director = app.user(&w.tenant, &[(Some(ehpad), Role::Director)]).await.token;
    let plan = app.get(&format!("/api/v1/establishments/{}/doses?date={}", w.ehpad, w.yesterday), &director).await;
    assert_eq!(plan.status, 200, "{}", plan.text);
    assert_eq!(plan.json["doses"].as_array().unwrap().len(), 0, "{}", plan.text);
    app.post(&doses, &director, w.dose(1, Some("morning"), "given")).await.problem(403);
    // Another tenant's nurse: neither the establishment nor the person is theirs.
    let tenant = app.tenant("Beta").await;
    let stranger = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await.token;
    app.get(&format!("/api/v1/establishments/{}/doses", w.ehpad), &stranger).await.problem(404);
    app.post(&doses, &stranger, w.dose(1, Some("morning"), "given")).await.problem(404);

    // A version recorded now owes nothing yesterday, though its lines started before.
    let today = app.local_today().await;
    let created = app
        .post(&format!("{}/prescriptions", w.record), &w.nurse, three_lines(today - chrono::Duration::days(3)))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let mut stale = w.dose(1, Some("morning"), "given");
    stale["prescription_version_id"] = created.json["id"].clone();
    assert_eq!(fields(&app.post(&doses, &w.nurse, stale).await), ["due_on"]);

    // A retry with the same key answers the record made, even for a drug given if needed whose
    // maximum the first attempt reached.
    let key = [("Idempotency-Key", "tournee-matin-spasfon")];
    let mut body = w.dose(3, None, "given");
    body["given_at"] = json!(w.at("10:00").await);
    let first = app.request_with(reqwest::Method::POST, &doses, Some(&w.nurse), Some(body.clone()), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    body["given_at"] = json!(w.at("12:00").await);
    assert_eq!(app.post(&doses, &w.nurse, body.clone()).await.status, 201);
    body["given_at"] = json!(w.at("10:00").await);
    let retried = app.request_with(reqwest::Method::POST, &doses, Some(&w.nurse), Some(body), &key).await;
    assert_eq!((retried.status, retried.header("idempotent-replayed")), (201, Some("true")), "{}", retried.text);
    assert_eq!(retried.json["id"], first.json["id"]);
}
