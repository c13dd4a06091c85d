//! Identity vigilance with the INSi teleservice, through the API, against the local teleservice
//! over mutual TLS: a search records what the service answered and changes nothing; only a
//! professional's confirmation puts the INS and the service's strict traits on the record (PROV
//! becomes RECUP, VALI becomes QUAL), once; the status change cannot claim a look-up; answers
//! that fail their checks, and a service that fails, leave the record as it was.

use chrono::NaiveDate;
use dui_domain::identity::Sex;
use dui_domain::people::Role;
use dui_exchange::insi::{Found, InsTraits, InsiIns};
use dui_testkit::insi::{FAULT, InsiPeer, TestPki, with_key};
use dui_testkit::{TestApp, TestResponse, TestTenant};
use reqwest::Method;
use serde_json::{Value, json};

const NIR: &str = "1.2.250.1.213.1.4.8";

fn person(birth_name: &str, first_names: &str, born: &str, place: &str, matricule: &str) -> Found {
    Found {
        ins: InsiIns { matricule: matricule.to_owned(), oid: NIR.to_owned() },
        traits: InsTraits {
            birth_name: birth_name.to_owned(),
            first_names: first_names.to_owned(),
            sex: Sex::Female,
            birth_date: NaiveDate::parse_from_str(born, "%Y-%m-%d").unwrap(),
            birth_place: Some(place.to_owned()),
        },
        history: Vec::new(),
    }
}

/// Mme Dupont's identity as typed at admission: the service knows her as DUPONT MARIE LOUISE,
/// born on 14 March 1931 in Paris (75056).
fn dupont() -> Value {
    json!({"birth_name": "Dupont", "first_names": "Marie Louise", "sex": "female", "birth_date": "1931-03-14",
           "birth_place": "75056"})
}

/// Mme Tchitchi, in the service's base with `matricule` and admitted to `tenant` without her
/// place of birth: her record's id.
async fn tchitchi(app: &TestApp, peer: &InsiPeer, tenant: &TestTenant, matricule: &str) -> String {
    peer.add(person("TCHITCHI", "CATARINA BELLA", "1938-05-06", "63220", matricule));
    admit(
        app,
        tenant,
        json!({"birth_name": "Tchitchi", "first_names": "Catarina Bella", "sex": "female", "birth_date": "1938-05-06"}),
    )
    .await
}

/// A server whose `[insi]` calls a local teleservice (with an empty national base).
struct WithInsi {
    app: TestApp,
    peer: InsiPeer,
    _pki: TestPki,
}

async fn spawn() -> WithInsi {
    let pki = TestPki::new();
    let peer = InsiPeer::start(&pki, Vec::new()).await;
    let insi = dui_testkit::insi::config(&pki, &peer);
    let app = TestApp::spawn_with(move |config| config.insi = insi).await;
    WithInsi { app, peer, _pki: pki }
}

async fn admit(app: &TestApp, tenant: &TestTenant, identity: Value) -> String {
    let body = json!({"establishment_id": tenant.establishments[0].id, "identity": identity});
    let created = app.post("/api/v1/residents", &tenant.admin.token, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["id"].as_str().unwrap().to_owned()
}

async fn search(app: &TestApp, token: &str, id: &str, body: Value) -> TestResponse {
    app.post(&format!("/api/v1/residents/{id}/ins/retrieve"), token, body).await
}

async fn confirm(app: &TestApp, token: &str, id: &str, version: i64, call: &Value) -> TestResponse {
    let etag = format!("\"{version}\"");
    app.request_with(
        Method::POST,
        &format!("/api/v1/residents/{id}/ins/confirm"),
        Some(token),
        Some(json!({"call_id": call})),
        &[("If-Match", &etag)],
    )
    .await
}

/// The audit actions recorded about a record, oldest first.
async fn actions(app: &TestApp, tenant: &TestTenant, id: &str) -> Vec<String> {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner.query("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
    let id: uuid::Uuid = id.parse().unwrap();
    let rows = owner
        .query(
            "SELECT action FROM audit_events WHERE tenant_id = $1 AND resident_id = $2 ORDER BY occurred_at, id",
            &[&tenant.id.as_uuid(), &id],
        )
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn a_search_changes_nothing_until_a_professional_confirms_the_identity_found() {
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Vigilance").await;
    let admin = &tenant.admin.token;
    let matricule = with_key("2310375056123");
    peer.add(person("DUPONT", "MARIE LOUISE", "1931-03-14", "75056", &matricule));
    let id = admit(
        &app,
        &tenant,
        json!({"birth_name": "Dupont", "first_names": "Marie", "sex": "female", "birth_date": "1931-03-14",
               "birth_place": "75056", "used_name": "Martin"}),
    )
    .await;

    let found = search(&app, admin, &id, json!({})).await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json["outcome"], "found");
    assert_eq!(found.json["found"]["ins"]["matricule"], matricule.as_str());
    assert_eq!(found.json["found"]["birth_name"], "DUPONT");
    assert_eq!(found.json["guidance"], Value::Null);
    // The service was asked with the record's strict traits and its first given name.
    let asked = peer.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!((asked.query.birth_name.as_str(), asked.query.first_name.as_str()), ("DUPONT", "MARIE"));
    assert_eq!(asked.query.birth_place.as_deref(), Some("75056"));
    // Nothing changed on the record.
    let record = app.get(&format!("/api/v1/residents/{id}"), admin).await;
    assert_eq!(record.json["identity_status"], "PROV");
    assert_eq!(record.json["ins"], Value::Null);
    assert_eq!(record.header("etag"), Some("\"1\""));

    // Confirmed: the INS and the service's strict traits, the name used kept; PROV → RECUP.
    let call = found.json["call_id"].clone();
    confirm(&app, admin, &id, 2, &call).await.problem(412);
    let confirmed = confirm(&app, admin, &id, 1, &call).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.json["identity_status"], "RECUP");
    assert_eq!(confirmed.json["ins"]["matricule"], matricule.as_str());
    assert_eq!(confirmed.json["identity"]["birth_name"], "DUPONT");
    assert_eq!(confirmed.json["identity"]["first_names"], "MARIE LOUISE");
    assert_eq!(confirmed.json["identity"]["used_name"], "Martin");
    assert_eq!(confirmed.header("etag"), Some("\"2\""));
    // A search confirms once.
    confirm(&app, admin, &id, 2, &call).await.problem(409);

    // The event names the call and keeps the traits replaced.
    let events = app.get(&format!("/api/v1/residents/{id}/identity-events"), admin).await;
    let last = events.json.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to_status"], "RECUP");
    assert_eq!(last["insi_lookup"], true);
    assert_eq!(last["insi_call_id"], call);
    assert_eq!(last["previous"]["identity"]["birth_name"], "Dupont");
    // Both steps are in the trail.
    let trail = actions(&app, &tenant, &id).await;
    let at = |action: &str| trail.iter().position(|a| a == action);
    assert!(at("identity.insi_retrieve") < at("identity.insi_confirm"), "{trail:?}");
    assert!(at("identity.insi_retrieve").is_some(), "{trail:?}");

    // The person's export carries the call and what it found.
    let export = app.get(&format!("/api/v1/residents/{id}/export"), admin).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.json["record"]["insi_calls"][0]["found"]["ins"]["matricule"], matricule.as_str());
}

#[tokio::test]
async fn nobody_several_and_unusable_answers_leave_the_record_as_it_was() {
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Homonymes").await;
    let admin = &tenant.admin.token;
    let (first, second) = (with_key("2400175056111"), with_key("2400113055222"));
    peer.add(person("MARTIN", "JEANNE", "1940-01-01", "75056", &first));
    peer.add(person("MARTIN", "JEANNE LOUISE", "1940-01-01", "13055", &second));
    let id = admit(
        &app,
        &tenant,
        json!({"birth_name": "Martin", "first_names": "Jeanne Louise", "sex": "female", "birth_date": "1940-01-01"}),
    )
    .await;

    // 02: two people match; the guidance says how to search again.
    let several = search(&app, admin, &id, json!({})).await;
    assert_eq!(several.json["outcome"], "several", "{}", several.text);
    assert!(several.json["guidance"].as_str().unwrap().contains("other given names"));
    confirm(&app, admin, &id, 1, &several.json["call_id"]).await.problem(409);
    // With the other given name of birth: one.
    let one = search(&app, admin, &id, json!({"first_name": "louise"})).await;
    assert_eq!(one.json["outcome"], "found", "{}", one.text);
    assert_eq!(one.json["found"]["ins"]["matricule"], second.as_str());
    // Only the record's own given names.
    let stranger = search(&app, admin, &id, json!({"first_name": "Paule"})).await;
    assert_eq!(stranger.problem(422)["errors"][0]["field"], "first_name");

    // 01: nobody.
    let unknown = admit(
        &app,
        &tenant,
        json!({"birth_name": "Inconnue", "first_names": "Rose", "sex": "female", "birth_date": "1932-02-02"}),
    )
    .await;
    let none = search(&app, admin, &unknown, json!({})).await;
    assert_eq!(none.json["outcome"], "none_found", "{}", none.text);
    assert!(none.json["guidance"].as_str().unwrap().contains("another given name"));

    // An INS whose key is wrong is not kept: nothing to confirm; the problem names no value.
    let mut wrong = with_key("2350275056333");
    let key: u32 = wrong[13..].parse().unwrap();
    wrong.replace_range(13.., &format!("{:02}", (key % 96) + 1));
    peer.add(person("CLEFAUSSE", "ANNE", "1935-02-02", "75056", &wrong));
    let typo = admit(
        &app,
        &tenant,
        json!({"birth_name": "Clefausse", "first_names": "Anne", "sex": "female", "birth_date": "1935-02-02"}),
    )
    .await;
    let failed = search(&app, admin, &typo, json!({})).await;
    assert_eq!(failed.json["outcome"], "failed", "{}", failed.text);
    assert_eq!(failed.json["found"], Value::Null);
    let problem = failed.json["problem"].as_str().unwrap();
    assert!(problem.contains("key") && !problem.contains(&wrong[..13]), "{problem}");
    confirm(&app, admin, &typo, 1, &failed.json["call_id"]).await.problem(409);

    // The service failing: recorded as such, the record untouched, no trait in the problem.
    let broken = admit(
        &app,
        &tenant,
        json!({"birth_name": FAULT, "first_names": "Anne", "sex": "female", "birth_date": "1936-03-03"}),
    )
    .await;
    let failed = search(&app, admin, &broken, json!({})).await;
    assert_eq!(failed.json["outcome"], "failed", "{}", failed.text);
    assert!(!failed.text.contains(FAULT), "{}", failed.text);
    let record = app.get(&format!("/api/v1/residents/{broken}"), admin).await;
    assert_eq!((record.json["identity_status"].as_str(), record.header("etag")), (Some("PROV"), Some("\"1\"")));
}

#[tokio::test]
async fn a_validated_identity_is_qualified_by_a_confirmed_search_and_no_status_claims_a_look_up() {
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Qualité").await;
    let admin = &tenant.admin.token;
    let matricule = with_key("2380563220456");
    let id = tchitchi(&app, &peer, &tenant, &matricule).await;
    let status = format!("/api/v1/residents/{id}/identity-status");
    let post_status = |version: i64, body: Value| {
        let (app, status) = (&app, status.clone());
        async move {
            let etag = format!("\"{version}\"");
            app.request_with(Method::POST, &status, Some(admin), Some(body), &[("If-Match", &etag)]).await
        }
    };
    // RECUP and the look-up cannot be claimed: they come from the service.
    let claimed = post_status(1, json!({"to_status": "RECUP", "insi_lookup": true})).await;
    assert!(matches!(claimed.status, 400 | 422), "{}", claimed.text);
    let refused = post_status(1, json!({"to_status": "RECUP"})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "insi_lookup");
    // A professional of the team who does not manage identities is refused, and the refusal
    // recorded.
    let psychologist = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Psychologist)]).await;
    search(&app, &psychologist.token, &id, json!({})).await.problem(403);
    assert!(actions(&app, &tenant, &id).await.iter().any(|a| a == "identity.insi_retrieve"));

    // VALI with a passport, then the search confirmed: QUAL.
    let validated = post_status(1, json!({"to_status": "VALI", "document": "passport"})).await;
    assert_eq!(validated.json["identity_status"], "VALI", "{}", validated.text);
    let found = search(&app, admin, &id, json!({})).await;
    assert_eq!(found.json["outcome"], "found", "{}", found.text);
    let qualified = confirm(&app, admin, &id, 2, &found.json["call_id"]).await;
    assert_eq!(qualified.json["identity_status"], "QUAL", "{}", qualified.text);
    assert_eq!(qualified.json["ins"]["matricule"], matricule.as_str());
    // Once qualified, a search does not confirm again: a doubt comes first.
    let again = search(&app, admin, &id, json!({})).await;
    confirm(&app, admin, &id, 3, &again.json["call_id"]).await.problem(422);
}

#[tokio::test]
async fn without_a_service_configured_a_search_is_refused_and_recorded_nowhere() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Sans INSi").await;
    let id = admit(
        &app,
        &tenant,
        json!({"birth_name": "Hors", "first_names": "Ligne", "sex": "female", "birth_date": "1939-09-09"}),
    )
    .await;
    let refused = search(&app, &tenant.admin.token, &id, json!({})).await;
    assert!(refused.problem(409)["detail"].as_str().unwrap().contains("not configured"));
    assert!(!actions(&app, &tenant, &id).await.iter().any(|a| a.starts_with("identity.insi")));
}

async fn verify(app: &TestApp, token: &str, id: &str) -> TestResponse {
    app.post(&format!("/api/v1/residents/{id}/ins/verify"), token, json!({})).await
}

/// The identity-vigilance list as `token` sees it: (reason, resident, call, other) of each item.
async fn vigilance(app: &TestApp, token: &str) -> Vec<(String, String, Value, Value)> {
    let list = app.get("/api/v1/identity-vigilance", token).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["truncated"], false);
    list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["reason"].as_str().unwrap().to_owned(),
                item["resident_id"].as_str().unwrap().to_owned(),
                item["call_id"].clone(),
                item["other_resident_id"].clone(),
            )
        })
        .collect()
}

/// Moves the INSi calls about `id` `days` into the past, as if made then.
async fn age_calls(app: &TestApp, tenant: &TestTenant, id: &str, days: i32) {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner.query("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
    let id: uuid::Uuid = id.parse().unwrap();
    owner
        .execute(
            "UPDATE insi_calls SET requested_at = requested_at - make_interval(days => $3), \
             confirmed_at = confirmed_at - make_interval(days => $3) WHERE tenant_id = $1 AND resident_id = $2",
            &[&tenant.id.as_uuid(), &id, &days],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_verification_keeps_a_confirmed_ins_and_a_mismatch_lowers_the_identity_into_the_vigilance_list() {
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Vérification").await;
    let admin = &tenant.admin.token;
    let matricule = with_key("2310375056123");
    peer.add(person("DUPONT", "MARIE LOUISE", "1931-03-14", "75056", &matricule));
    let id = admit(&app, &tenant, dupont()).await;
    // A provisional identity holds no INS from the service: nothing to verify.
    verify(&app, admin, &id).await.problem(409);
    let found = search(&app, admin, &id, json!({})).await;
    let confirmed = confirm(&app, admin, &id, 1, &found.json["call_id"]).await;
    assert_eq!(confirmed.json["identity_status"], "RECUP", "{}", confirmed.text);
    // Retrieved, its document still to check: in the list.
    assert_eq!(
        vigilance(&app, admin).await,
        vec![("waiting_for_document".to_owned(), id.clone(), Value::Null, Value::Null)]
    );

    // Verified: the service was sent the INS and the traits; nothing changes.
    let verified = verify(&app, admin, &id).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!((verified.json["kind"].as_str(), verified.json["outcome"].as_str()), (Some("verify"), Some("verified")));
    assert_eq!(verified.json["identity_lowered"], false);
    let asked = peer.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(asked.ins.as_ref().map(|ins| ins.matricule.as_str()), Some(matricule.as_str()));
    assert_eq!(asked.query.birth_name, "DUPONT");
    let record = app.get(&format!("/api/v1/residents/{id}"), admin).await;
    assert_eq!((record.json["identity_status"].as_str(), record.header("etag")), (Some("RECUP"), Some("\"2\"")));

    // The service no longer knows this INS with these traits: the INS is withdrawn, RECUP goes
    // back to PROV with an event naming the call, and the record is an alert.
    peer.remove(&matricule);
    let mismatch = verify(&app, admin, &id).await;
    assert_eq!(mismatch.json["outcome"], "mismatch", "{}", mismatch.text);
    assert_eq!(mismatch.json["identity_lowered"], true);
    assert!(mismatch.json["guidance"].as_str().unwrap().contains("withdrawn"));
    let record = app.get(&format!("/api/v1/residents/{id}"), admin).await;
    assert_eq!((record.json["identity_status"].as_str(), &record.json["ins"]), (Some("PROV"), &Value::Null));
    let events = app.get(&format!("/api/v1/residents/{id}/identity-events"), admin).await;
    let last = events.json.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["from_status"].as_str(), last["to_status"].as_str()), (Some("RECUP"), Some("PROV")), "{last}");
    assert_eq!(last["insi_call_id"], mismatch.json["call_id"]);
    assert_eq!(last["previous"]["ins"]["matricule"], matricule.as_str());
    // The record's calls, oldest first, for whoever sees the record.
    let calls = app.get(&format!("/api/v1/residents/{id}/ins/calls"), admin).await;
    assert_eq!(calls.status, 200, "{}", calls.text);
    let listed: Vec<(&str, &str)> = calls
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("retrieve", "found"), ("verify", "verified"), ("verify", "mismatch")]);
    assert_eq!(calls.json[0]["found"]["ins"]["matricule"], matricule.as_str());
    assert_eq!(calls.json[0]["confirmed_by"], tenant.admin.id.to_string());
    assert!(calls.json[2]["guidance"].is_string());
    // The person's export carries the calls and the event with what the record held.
    let export = app.get(&format!("/api/v1/residents/{id}/export"), admin).await;
    assert_eq!(export.status, 200, "{}", export.text);
    let kinds: Vec<&str> =
        export.json["record"]["insi_calls"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["retrieve", "verify", "verify"]);
    let exported = export.json["record"]["identity_events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(exported["previous"]["ins"]["matricule"], matricule.as_str(), "{exported}");
    assert_eq!(exported["comment"].as_str().map(|c| c.contains("INSi")), Some(true), "{exported}");
    assert_eq!(
        vigilance(&app, admin).await,
        vec![("insi_mismatch".to_owned(), id.clone(), mismatch.json["call_id"].clone(), Value::Null)]
    );
    // Lowered, it holds no INS to verify; its evidence went with the doubt.
    verify(&app, admin, &id).await.problem(409);

    // Settled by a search confirmed again (the person's INS is back at the service).
    peer.add(person("DUPONT", "MARIE LOUISE", "1931-03-14", "75056", &matricule));
    let found = search(&app, admin, &id, json!({})).await;
    let confirmed = confirm(&app, admin, &id, 3, &found.json["call_id"]).await;
    assert_eq!(confirmed.json["identity_status"], "RECUP", "{}", confirmed.text);
    let reasons: Vec<String> = vigilance(&app, admin).await.into_iter().map(|item| item.0).collect();
    assert_eq!(reasons, vec!["waiting_for_document"]);

    // The list is for identity vigilance, administrators and directors, of the records they see.
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    app.get("/api/v1/identity-vigilance", &nurse.token).await.problem(403);
    let elsewhere = app.user(&tenant, &[(Some(tenant.establishments[1].id), Role::Director)]).await;
    assert!(vigilance(&app, &elsewhere.token).await.is_empty());
    let referent = app.user(&tenant, &[(None, Role::IdentityVigilance)]).await;
    assert_eq!(vigilance(&app, &referent.token).await.len(), 1);
    let other = app.tenant("Autre").await;
    assert!(vigilance(&app, &other.admin.token).await.is_empty(), "another tenant's list is its own");
    app.post(&format!("/api/v1/residents/{id}/ins/verify"), &other.admin.token, json!({})).await.problem(404);
    // A nurse of the team verifies; a psychologist may not, and the refusal is recorded.
    assert_eq!(verify(&app, &nurse.token, &id).await.json["outcome"], "verified");
    let psychologist = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Psychologist)]).await;
    verify(&app, &psychologist.token, &id).await.problem(403);
    let recorded = actions(&app, &tenant, &id).await;
    assert!(recorded.iter().filter(|a| *a == "identity.insi_verify").count() >= 4, "{recorded:?}");
    assert!(recorded.iter().any(|a| a == "identity.vigilance_list"), "{recorded:?}");
}

#[tokio::test]
async fn a_qualified_identity_whose_ins_fails_verification_goes_back_to_validated() {
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Qualifiée").await;
    let admin = &tenant.admin.token;
    let matricule = with_key("2380563220456");
    let id = tchitchi(&app, &peer, &tenant, &matricule).await;
    let etag = "\"1\"";
    let validated = app
        .request_with(
            Method::POST,
            &format!("/api/v1/residents/{id}/identity-status"),
            Some(admin),
            Some(json!({"to_status": "VALI", "document": "passport"})),
            &[("If-Match", etag)],
        )
        .await;
    assert_eq!(validated.json["identity_status"], "VALI", "{}", validated.text);
    let found = search(&app, admin, &id, json!({})).await;
    let qualified = confirm(&app, admin, &id, 2, &found.json["call_id"]).await;
    assert_eq!(qualified.json["identity_status"], "QUAL", "{}", qualified.text);
    assert!(vigilance(&app, admin).await.is_empty(), "a qualified identity needs nothing");

    peer.remove(&matricule);
    let mismatch = verify(&app, admin, &id).await;
    assert_eq!(
        (mismatch.json["outcome"].as_str(), &mismatch.json["identity_lowered"]),
        (Some("mismatch"), &json!(true))
    );
    let record = app.get(&format!("/api/v1/residents/{id}"), admin).await;
    assert_eq!((record.json["identity_status"].as_str(), &record.json["ins"]), (Some("VALI"), &Value::Null));
    // The document still stands: once the service finds the person again, a confirmed search
    // qualifies the identity again.
    peer.add(person("TCHITCHI", "CATARINA BELLA", "1938-05-06", "63220", &matricule));
    let found = search(&app, admin, &id, json!({})).await;
    let requalified = confirm(&app, admin, &id, 4, &found.json["call_id"]).await;
    assert_eq!(requalified.json["identity_status"], "QUAL", "{}", requalified.text);
}

#[tokio::test]
async fn a_search_that_finds_an_ins_another_record_holds_is_a_probable_duplicate() {
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Doublons").await;
    let admin = &tenant.admin.token;
    let matricule = with_key("2310375056123");
    peer.add(person("DUPONT", "MARIE LOUISE", "1931-03-14", "75056", &matricule));
    let identity = dupont();
    let first = admit(&app, &tenant, identity.clone()).await;
    let found = search(&app, admin, &first, json!({})).await;
    assert_eq!(found.json["held_by"], Value::Null);
    confirm(&app, admin, &first, 1, &found.json["call_id"]).await;

    let body = json!({"establishment_id": tenant.establishments[0].id, "identity": identity, "confirm_homonym": true});
    let second = app.post("/api/v1/residents", admin, body).await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second = second.json["id"].as_str().unwrap().to_owned();
    let found = search(&app, admin, &second, json!({})).await;
    assert_eq!(found.json["held_by"], first.as_str(), "{}", found.text);
    let items = vigilance(&app, admin).await;
    let duplicate = ("ins_held_by_another".to_owned(), second.clone(), found.json["call_id"].clone(), json!(first));
    assert!(items.contains(&duplicate), "{items:?}");
    // Confirming it is refused: a merge settles it.
    confirm(&app, admin, &second, 1, &found.json["call_id"]).await.problem(409);
}

#[tokio::test]
async fn the_periodic_pass_verifies_again_the_ins_not_confirmed_for_the_period() {
    let WithInsi { app, peer, _pki } = spawn().await;
    let tenant = app.tenant("Revérification").await;
    let admin = &tenant.admin.token;
    let use_cases = app.app().with_insi(app.config.insi.service().unwrap().unwrap());
    let (kept, withdrawn) = (with_key("2310375056123"), with_key("2450275056321"));
    peer.add(person("DUPONT", "MARIE LOUISE", "1931-03-14", "75056", &kept));
    peer.add(person("ROUX", "JEANNE", "1945-02-20", "75056", &withdrawn));
    let mut ids = Vec::new();
    for (name, first, born) in [("Dupont", "Marie Louise", "1931-03-14"), ("Roux", "Jeanne", "1945-02-20")] {
        let id = admit(
            &app,
            &tenant,
            json!({"birth_name": name, "first_names": first, "sex": "female", "birth_date": born, "birth_place": "75056"}),
        )
        .await;
        let found = search(&app, admin, &id, json!({})).await;
        confirm(&app, admin, &id, 1, &found.json["call_id"]).await;
        ids.push(id);
    }
    // Confirmed today: nothing is due.
    assert_eq!(dui_app::insi::verify_due(&use_cases, tenant.id, 50).await.unwrap(), (0, 0));
    // A year and more later, both are due; one INS the service no longer holds.
    for id in &ids {
        age_calls(&app, &tenant, id, 400).await;
    }
    let due: Vec<String> = vigilance(&app, admin)
        .await
        .into_iter()
        .filter(|item| item.0 == "verification_due")
        .map(|item| item.1)
        .collect();
    assert_eq!(due.len(), 2, "{due:?}");
    peer.remove(&withdrawn);
    assert_eq!(dui_app::insi::verify_due(&use_cases, tenant.id, 50).await.unwrap(), (2, 1));
    let status = |id: &String| {
        let (app, path) = (&app, format!("/api/v1/residents/{id}"));
        async move { app.get(&path, admin).await.json["identity_status"].as_str().unwrap().to_owned() }
    };
    assert_eq!((status(&ids[0]).await, status(&ids[1]).await), ("RECUP".to_owned(), "PROV".to_owned()));
    let reasons: Vec<(String, String)> =
        vigilance(&app, admin).await.into_iter().map(|item| (item.0, item.1)).collect();
    assert!(reasons.contains(&("insi_mismatch".to_owned(), ids[1].clone())), "{reasons:?}");
    assert!(!reasons.iter().any(|item| item.0 == "verification_due"), "{reasons:?}");
    // Verified, or tried, today: the next pass has nothing to do.
    assert_eq!(dui_app::insi::verify_due(&use_cases, tenant.id, 50).await.unwrap(), (0, 0));
}

/// What the server logs, kept (the global subscriber of this test's process).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn nothing_the_server_logs_about_insi_calls_names_a_trait_or_an_ins() {
    let logs = Captured::default();
    let filter = "info,dui=debug,dui_api=debug,dui_app=debug,dui_storage=debug,dui_exchange=debug";
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(logs.clone())
        .init();
    let WithInsi { app, peer, .. } = spawn().await;
    let tenant = app.tenant("Discrétion").await;
    let admin = &tenant.admin.token;
    let matricule = with_key("2310375056123");
    peer.add(person("VAUQUELIN", "MARGUERITE ODILE", "1931-03-14", "75056", &matricule));
    let identity = json!({"birth_name": "Vauquelin", "first_names": "Marguerite Odile", "sex": "female",
                          "birth_date": "1931-03-14", "birth_place": "75056"});
    let id = admit(&app, &tenant, identity).await;
    // Found and confirmed, verified, then a mismatch, an answer with a wrong key, a fault.
    let found = search(&app, admin, &id, json!({})).await;
    confirm(&app, admin, &id, 1, &found.json["call_id"]).await;
    verify(&app, admin, &id).await;
    peer.remove(&matricule);
    assert_eq!(verify(&app, admin, &id).await.json["outcome"], "mismatch");
    let mut wrong_key = matricule.clone();
    wrong_key.replace_range(13..15, if &matricule[13..15] == "01" { "02" } else { "01" });
    peer.add(person("VAUQUELIN", "MARGUERITE ODILE", "1931-03-14", "75056", &wrong_key));
    assert_eq!(search(&app, admin, &id, json!({})).await.json["outcome"], "failed");
    let faulty = admit(
        &app,
        &tenant,
        json!({"birth_name": FAULT, "first_names": "Odile", "sex": "female", "birth_date": "1940-01-01"}),
    )
    .await;
    assert_eq!(search(&app, admin, &faulty, json!({})).await.json["outcome"], "failed");

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // The server's own warnings were captured: a mismatch, answers that could not be used.
    assert!(logged.contains("identity lowered"), "{logged}");
    assert!(logged.contains("an INSi search gave no usable answer"), "{logged}");
    let lowered = logged.to_lowercase();
    for secret in ["vauquelin", "marguerite", "odile", "1931-03-14", &matricule[..13], &wrong_key[..13]] {
        assert!(!lowered.contains(&secret.to_lowercase()), "the logs name {secret}");
    }
}

#[tokio::test]
async fn each_tenant_calls_as_its_own_structure_when_it_has_one() {
    let WithInsi { app, peer, _pki: pki } = spawn().await;
    let matricule = with_key("2310375056123");
    peer.add(person("DUPONT", "MARIE LOUISE", "1931-03-14", "75056", &matricule));
    let (installation, own, stranger) =
        (app.tenant("Plateforme").await, app.tenant("Propre").await, app.tenant("Intrus").await);
    let mut insi = dui_testkit::insi::config(&pki, &peer);
    let structure = |name: &str, emitter: &str| dui::config::InsiStructure {
        certificate_file: pki.path(&format!("{name}.pem")),
        key_file: pki.path(&format!("{name}.key")),
        emitter: emitter.to_owned(),
    };
    insi.tenants.insert(own.id.as_uuid(), structure("client", "750000002"));
    // A certificate the service does not trust: that tenant's calls fail, the others' do not.
    insi.tenants.insert(stranger.id.as_uuid(), structure("stranger", "999999999"));
    let use_cases = app.app().with_insi(insi.service().unwrap().unwrap());
    let identity = dupont();
    let mut outcomes = Vec::new();
    for tenant in [&installation, &own, &stranger] {
        let id = admit(&app, tenant, identity.clone()).await;
        let before = peer.received.lock().unwrap().len();
        let command = dui_app::insi::Retrieve { resident: id.parse().unwrap(), first_name: None };
        let scope = dui_domain::scope::TenantScope::console(tenant.id);
        let retrieval = dui_app::insi::retrieve(&use_cases, &scope, command).await.unwrap();
        let received = peer.received.lock().unwrap();
        let emitter = received[before..].last().map(|request| request.emitter.clone());
        outcomes.push((retrieval.call.outcome.as_str().to_owned(), emitter));
    }
    assert_eq!(
        outcomes,
        vec![
            ("found".to_owned(), Some("330000001".to_owned())),
            ("found".to_owned(), Some("750000002".to_owned())),
            ("failed".to_owned(), None),
        ]
    );
}
