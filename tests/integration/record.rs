//! The resident record beyond identity: stays and transfers, contacts, consents, the identity
//! status and its evidence, optimistic concurrency, duplicates and merges, the GDPR export.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse, TestTenant};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

/// The INS of the records of these tests: a woman born in May 1938 (as [`new_record`] makes).
pub(crate) fn ins() -> String {
    dui_testkit::nir(true, "1938-05-06", 1)
}
const OID_TEST: &str = "1.2.250.1.213.1.4.10";

async fn new_record(app: &TestApp, tenant: &TestTenant, birth_name: &str, ins: Option<&str>) -> String {
    let mut body = json!({"identity": identity(birth_name, "Jeanne", "1938-05-06"), "confirm_homonym": true});
    if let Some(ins) = ins {
        body["ins"] = json!({"matricule": ins, "oid": OID_TEST});
    }
    let created = admit(app, tenant, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["id"].as_str().unwrap().to_owned()
}

/// A write with `If-Match: "<version>"`.
async fn send_if(app: &TestApp, method: Method, path: &str, token: &str, version: &Value, body: Value) -> TestResponse {
    let etag = format!("\"{version}\"");
    app.request_with(method, path, Some(token), Some(body), &[("If-Match", &etag)]).await
}

/// A server calling a local INSi teleservice, and the teleservice.
async fn spawn_with_insi() -> (TestApp, dui_testkit::insi::InsiPeer, dui_testkit::insi::TestPki) {
    let pki = dui_testkit::insi::TestPki::new();
    let peer = dui_testkit::insi::InsiPeer::start(&pki, Vec::new()).await;
    let insi = dui_testkit::insi::config(&pki, &peer);
    let app = TestApp::spawn_with(move |config| config.insi = insi).await;
    (app, peer, pki)
}

/// The INSi teleservice knows the person of record `id` as the record has them (with
/// `matricule`), the record's INS is searched (with `first_name`, else the first given name),
/// and the search is confirmed at `version`: the confirmation's answer.
async fn retrieved_with_insi(
    app: &TestApp,
    peer: &dui_testkit::insi::InsiPeer,
    token: &str,
    id: &str,
    version: i64,
    matricule: &str,
    first_name: Option<&str>,
) -> TestResponse {
    use dui_domain::identity::{Sex, ins_form};
    let record = app.get(&format!("/api/v1/residents/{id}"), token).await;
    let identity = &record.json["identity"];
    let text = |field: &str| identity[field].as_str().map(str::to_owned);
    peer.add(dui_exchange::insi::Found {
        ins: dui_exchange::insi::InsiIns { matricule: matricule.to_owned(), oid: OID_TEST.to_owned() },
        traits: dui_exchange::insi::InsTraits {
            birth_name: ins_form(&text("birth_name").unwrap()),
            first_names: ins_form(&text("first_names").unwrap()),
            sex: if identity["sex"] == "male" { Sex::Male } else { Sex::Female },
            birth_date: text("birth_date").unwrap().parse().unwrap(),
            birth_place: text("birth_place"),
        },
        history: Vec::new(),
    });
    let path = format!("/api/v1/residents/{id}/ins");
    let found = app.post(&format!("{path}/retrieve"), token, json!({"first_name": first_name})).await;
    assert_eq!(found.json["outcome"], "found", "{}", found.text);
    send_if(
        app,
        Method::POST,
        &format!("{path}/confirm"),
        token,
        &json!(version),
        json!({"call_id": found.json["call_id"]}),
    )
    .await
}

#[tokio::test]
async fn stays_transfers_and_the_current_stay() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let wing = tenant.units[0].id;
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": ehpad, "unit_id": wing, "mode": "temporary", "admitted_on": "2026-11-02",
                   "identity": identity("Séjour", "Lucie", "1937-01-01")}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let first = created.json["current_stay"].clone();
    assert_eq!(first["establishment_id"], ehpad.to_string());
    assert_eq!(first["unit_id"], wing.to_string());
    assert_eq!((first["mode"].as_str(), first["admission_mode"].as_str()), (Some("temporary"), Some("new")));
    let first_id = first["id"].as_str().unwrap().to_owned();

    // A unit of another establishment is refused; so is an admission years ahead.
    let other_unit = tenant.units[1].id;
    let refused = app
        .post(
            &format!("/api/v1/residents/{id}/stays"),
            &tenant.admin.token,
            json!({"establishment_id": ehpad, "unit_id": other_unit, "mode": "permanent", "admitted_on": "2026-12-01"}),
        )
        .await;
    assert!(matches!(refused.status, 404 | 422), "{}", refused.text);
    app.post(
        &format!("/api/v1/residents/{id}/stays"),
        &tenant.admin.token,
        json!({"establishment_id": ehpad, "mode": "permanent", "admitted_on": "2030-01-01"}),
    )
    .await
    .problem(422);

    // A transfer to the home-care service closes the first stay the same day.
    let today = chrono::Utc::now().date_naive().to_string();
    let transfer = app
        .post(
            &format!("/api/v1/residents/{id}/stays"),
            &tenant.admin.token,
            json!({"establishment_id": saad, "mode": "at_home", "admitted_on": today, "transferred_from": first_id}),
        )
        .await;
    assert_eq!(transfer.status, 201, "{}", transfer.text);
    assert_eq!(transfer.json["admission_mode"], "transfer");
    assert_eq!(transfer.json["transferred_from"], first_id.as_str());
    let stays = app.get(&format!("/api/v1/residents/{id}/stays"), &tenant.admin.token).await;
    let stays = stays.json.as_array().unwrap().clone();
    assert_eq!(stays.len(), 2);
    let closed = stays.iter().find(|s| s["id"] == first_id.as_str()).unwrap();
    assert_eq!(
        (closed["discharged_on"].as_str(), closed["discharge_mode"].as_str()),
        (Some(today.as_str()), Some("transfer"))
    );
    let record = app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await;
    assert_eq!(record.json["current_stay"]["id"], transfer.json["id"]);

    // Listing by establishment, unit, and stay status.
    let other = new_record(&app, &tenant, "Resté", None).await;
    let in_saad = app.get(&format!("/api/v1/residents?establishment_id={saad}"), &tenant.admin.token).await;
    let ids: Vec<&str> = in_saad.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str()]);
    let in_wing = app.get(&format!("/api/v1/residents?unit_id={wing}"), &tenant.admin.token).await;
    assert_eq!(in_wing.json["items"].as_array().unwrap().len(), 1, "the first stay was in the wing");

    // Discharge: If-Match is required, a stale version is refused, then it closes.
    let stay_id = transfer.json["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/residents/{id}/stays/{stay_id}");
    let discharge = json!({"discharged_on": today, "discharge_mode": "hospital"});
    app.patch(&path, &tenant.admin.token, discharge.clone()).await.problem(428);
    send_if(&app, Method::PATCH, &path, &tenant.admin.token, &json!(7), discharge.clone()).await.problem(412);
    let bad = json!({"discharged_on": "2020-01-01", "discharge_mode": "hospital"});
    send_if(&app, Method::PATCH, &path, &tenant.admin.token, &json!(1), bad).await.problem(422);
    let closed = send_if(&app, Method::PATCH, &path, &tenant.admin.token, &json!(1), discharge.clone()).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.header("etag"), Some("\"2\""));
    send_if(&app, Method::PATCH, &path, &tenant.admin.token, &json!(2), discharge).await.problem(422);

    // Discharged today: no stay in progress tomorrow, but today the stay still counts.
    let current = app.get("/api/v1/residents?current=true", &tenant.admin.token).await;
    let current: Vec<&str> =
        current.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(current, [other.as_str()]);
    let former = app.get("/api/v1/residents?current=false", &tenant.admin.token).await;
    assert!(former.text.contains(&id));
}

#[tokio::test]
async fn contacts_are_sealed_checked_and_versioned() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let id = new_record(&app, &tenant, "Contact", None).await;
    let path = format!("/api/v1/residents/{id}/contacts");
    let trusted = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "trusted_person", "emergency_contact": true,
                   "details": {"family_name": "Bernardin", "given_name": "Paul", "relationship": "neveu",
                               "phones": ["06 12 34 56 78"], "email": "paul.bernardin@example.org"}}),
        )
        .await;
    assert_eq!(trusted.status, 201, "{}", trusted.text);
    assert_eq!(trusted.json["details"]["family_name"], "Bernardin");

    // A legal representative acts under a protection measure; nobody else has one.
    let problem = app
        .post(&path, &tenant.admin.token, json!({"kind": "legal_representative", "details": {"family_name": "Tuteur"}}))
        .await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "protection_measure");
    let problem = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "relative", "protection_measure": "tutelle", "details": {"family_name": "Fils"}}),
        )
        .await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "protection_measure");
    let guardian = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "legal_representative", "protection_measure": "curatelle_renforcee",
                   "details": {"family_name": "UDAF 33", "relationship": "mandataire judiciaire"}}),
        )
        .await;
    assert_eq!(guardian.status, 201, "{}", guardian.text);
    // Every bad field is named.
    let problem = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "relative", "details": {"family_name": "", "email": "pas un courriel", "phones": ["abc"]}}),
        )
        .await;
    let fields: Vec<&str> =
        problem.problem(422)["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["details/family_name", "details/phones/0", "details/email"]);

    // Details are sealed at rest.
    let mut owner = app.db.connect(&app.db.owner_url).await;
    let tx = owner.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
    let raw: Vec<Vec<u8>> =
        tx.query("SELECT details FROM contacts", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(raw.len(), 2);
    assert!(
        raw.iter()
            .all(|r| !String::from_utf8_lossy(r).contains("Bernardin") && !String::from_utf8_lossy(r).contains("UDAF"))
    );
    tx.commit().await.unwrap();

    // Updates are versioned; ending a contact keeps it in the history.
    let contact = format!("{path}/{}", trusted.json["id"].as_str().unwrap());
    app.patch(&contact, &tenant.admin.token, json!({"ended": true})).await.problem(428);
    let changed = send_if(
        &app,
        Method::PATCH,
        &contact,
        &tenant.admin.token,
        &json!(1),
        json!({"details": {"family_name": "Bernardin", "phones": ["05 56 00 00 00"]}}),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["details"]["phones"], json!(["05 56 00 00 00"]));
    // One personne de confiance at a time: a second designation waits for the first to end.
    let second = json!({"kind": "trusted_person", "details": {"family_name": "Lacombe", "given_name": "Anne"}});
    let refused = app.post(&path, &tenant.admin.token, second.clone()).await;
    let problem = refused.problem(409);
    assert!(problem["detail"].as_str().unwrap().contains("personne de confiance"), "{problem}");
    send_if(&app, Method::PATCH, &contact, &tenant.admin.token, &json!(1), json!({"ended": true})).await.problem(412);
    let ended = send_if(&app, Method::PATCH, &contact, &tenant.admin.token, &json!(2), json!({"ended": true})).await;
    assert!(ended.json["ended_at"].is_string(), "{}", ended.text);
    let replaced = app.post(&path, &tenant.admin.token, second).await;
    assert_eq!(replaced.status, 201, "{}", replaced.text);
    let listed = app.get(&path, &tenant.admin.token).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 3, "the former designation stays in the history");
}

#[tokio::test]
async fn consents_and_oppositions_are_recorded_never_edited() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let id = new_record(&app, &tenant, "Consent", None).await;
    let path = format!("/api/v1/residents/{id}/consents");
    let opposition = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "dmp_feeding", "decision": "refused", "expressed_on": "2026-11-20", "expressed_by": "person"}),
        )
        .await;
    assert_eq!(opposition.status, 201, "{}", opposition.text);
    assert_eq!(opposition.json["recorded_by"], tenant.admin.id.to_string());
    let problem = app
        .post(&path, &tenant.admin.token, json!({"kind": "other", "decision": "granted", "expressed_by": "person"}))
        .await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "comment");
    let problem = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "image_rights", "decision": "granted", "expressed_by": "person", "expressed_on": "2999-01-01"}),
        )
        .await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "expressed_on");
    app.post(&path, &tenant.admin.token, json!({"kind": "dmp_feeding", "decision": "maybe", "expressed_by": "person"}))
        .await
        .problem(422);
    let other = app
        .post(
            &path,
            &tenant.admin.token,
            json!({"kind": "other", "decision": "granted", "expressed_by": "legal_representative",
                   "comment": "Sorties accompagnées au marché"}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_eq!(other.json["comment"], "Sorties accompagnées au marché");

    // Revoking is idempotent: the first revocation stays.
    let revoke = format!("{path}/{}/revoke", opposition.json["id"].as_str().unwrap());
    let revoked = app.post(&revoke, &tenant.admin.token, json!(null)).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let first = revoked.json["revoked_at"].clone();
    assert!(first.is_string());
    let again = app.post(&revoke, &tenant.admin.token, json!(null)).await;
    assert_eq!(again.json["revoked_at"], first);
    let listed = app.get(&path, &tenant.admin.token).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_identity_status_changes_only_with_its_evidence() {
    let (app, peer, _pki) = spawn_with_insi().await;
    let tenant = app.tenant("Alpha").await;
    let id = new_record(&app, &tenant, "Statut", None).await;
    let record = format!("/api/v1/residents/{id}");
    let status = format!("{record}/identity-status");
    let admin = &tenant.admin.token;

    // Provisional: the identity may be corrected, and the INS added.
    let read = app.get(&record, admin).await;
    assert_eq!(read.json["identity_status"], "PROV");
    assert_eq!(read.header("etag"), Some("\"1\""));
    let correction = json!({"identity": identity("Statut", "Jeanne Marie", "1938-05-06"), "ins": {"matricule": ins(), "oid": OID_TEST}});
    app.patch(&record, admin, correction.clone()).await.problem(428);
    let corrected = send_if(&app, Method::PATCH, &record, admin, &json!(1), correction.clone()).await;
    assert_eq!(corrected.status, 200, "{}", corrected.text);
    assert_eq!(corrected.json["identity"]["first_names"], "Jeanne Marie");
    assert_eq!(corrected.header("etag"), Some("\"2\""));
    // A wrong INS key is named.
    let wrong = json!({"identity": identity("Statut", "Jeanne", "1938-05-06"), "ins": {"matricule": "255081416802539", "oid": OID_TEST}});
    let problem = send_if(&app, Method::PATCH, &record, admin, &json!(2), wrong).await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "ins/matricule");

    // RECUP comes from a confirmed INSi search; QUAL needs an identity document as well.
    let problem = send_if(&app, Method::POST, &status, admin, &json!(2), json!({"to_status": "RECUP"})).await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "insi_lookup");
    retrieved_with_insi(&app, &peer, admin, &id, 1, &ins(), None).await.problem(412);
    let found = app.post(&format!("{record}/ins/retrieve"), admin, json!({})).await;
    let retrieved = send_if(
        &app,
        Method::POST,
        &format!("{record}/ins/confirm"),
        admin,
        &json!(2),
        json!({"call_id": found.json["call_id"]}),
    )
    .await;
    assert_eq!(retrieved.status, 200, "{}", retrieved.text);
    assert_eq!(retrieved.json["identity_status"], "RECUP");
    let problem = send_if(&app, Method::POST, &status, admin, &json!(3), json!({"to_status": "QUAL"})).await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "document");
    let qualified = send_if(
        &app,
        Method::POST,
        &status,
        admin,
        &json!(3),
        json!({"to_status": "QUAL", "document": "national_identity_card"}),
    )
    .await;
    assert_eq!(qualified.status, 200, "{}", qualified.text);
    assert_eq!(qualified.json["identity_status"], "QUAL");

    // A qualified identity's strict traits are not edited; the name used may change (not a
    // strict trait), and the identity stays qualified.
    let mut other_first_names = correction.clone();
    other_first_names["identity"]["first_names"] = json!("Jeanne");
    let problem = send_if(&app, Method::PATCH, &record, admin, &json!(4), other_first_names).await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "identity");
    let mut married = correction.clone();
    married["identity"]["used_name"] = json!("Martin-Statut");
    let renamed = send_if(&app, Method::PATCH, &record, admin, &json!(4), married).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json["identity"]["used_name"], "Martin-Statut");
    assert_eq!(renamed.json["identity_status"], "QUAL");
    // Going back to provisional needs a reason.
    let problem = send_if(&app, Method::POST, &status, admin, &json!(5), json!({"to_status": "PROV"})).await;
    assert_eq!(problem.problem(422)["errors"][0]["field"], "reason");
    let back = send_if(
        &app,
        Method::POST,
        &status,
        admin,
        &json!(5),
        json!({"to_status": "PROV", "reason": "Doute sur la date de naissance (collision signalée)"}),
    )
    .await;
    assert_eq!(back.json["identity_status"], "PROV");

    // Each change is an event with who, when and the evidence; each correction keeps what it
    // replaced; nothing was overwritten.
    let events = app.get(&format!("{record}/identity-events"), admin).await;
    let events = events.json.as_array().unwrap().clone();
    let steps: Vec<(Value, Value, Value, Value, Value)> = events
        .iter()
        .map(|e| {
            let (from, to) = (e["from_status"].clone(), e["to_status"].clone());
            (e["kind"].clone(), from, to, e["document"].clone(), e["insi_lookup"].clone())
        })
        .collect();
    assert_eq!(
        steps,
        [
            (json!("status"), json!(null), json!("PROV"), json!(null), json!(false)),
            (json!("correction"), json!("PROV"), json!("PROV"), json!(null), json!(false)),
            (json!("status"), json!("PROV"), json!("RECUP"), json!(null), json!(true)),
            (json!("status"), json!("RECUP"), json!("QUAL"), json!("national_identity_card"), json!(false)),
            (json!("correction"), json!("QUAL"), json!("QUAL"), json!(null), json!(false)),
            (json!("status"), json!("QUAL"), json!("PROV"), json!(null), json!(false)),
        ]
    );
    assert!(events.iter().skip(1).all(|e| e["recorded_by"] == tenant.admin.id.to_string()));
    // The first correction added the INS and the second names: the values before are kept.
    assert_eq!(events[1]["previous"]["ins"], json!(null));
    assert_eq!(events[1]["previous"]["identity"]["first_names"], "Jeanne");
    assert_eq!(events[4]["previous"]["ins"]["matricule"], ins());
    assert_eq!(events[4]["previous"]["identity"]["used_name"], json!(null));
    // A status change keeps nothing, but the confirmation of an INSi search, which replaced the
    // strict traits, keeps them.
    for event in events.iter().filter(|e| e["kind"] == "status") {
        assert_eq!(event["previous"].is_null(), event["insi_call_id"].is_null(), "{event}");
    }
    assert_eq!(events[2]["previous"]["identity"]["birth_name"], "Statut");
    assert_eq!(events[5]["comment"], "Doute sur la date de naissance (collision signalée)");
    // Kept sealed: the database holds no trait of them in clear.
    let mut owner = app.db.connect(&app.db.owner_url).await;
    let tx = owner.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
    let sealed: Vec<Vec<u8>> = tx
        .query("SELECT previous FROM identity_events WHERE previous IS NOT NULL", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit().await.unwrap();
    assert_eq!(sealed.len(), 3, "two corrections and the confirmed search");
    assert!(sealed.iter().all(|raw| !String::from_utf8_lossy(raw).contains("Statut")));

    // A care assistant sees the record but does not manage identities.
    let assistant = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::CareAssistant)]).await;
    send_if(
        &app,
        Method::POST,
        &status,
        &assistant.token,
        &json!(6),
        json!({"to_status": "VALI", "document": "passport"}),
    )
    .await
    .problem(403);
}

/// Evidence counts only since the identity last went back to provisional: after a doubt, or
/// after the traits or INS that INSi returned were corrected by hand, what was checked before
/// no longer stands (RNIV).
#[tokio::test]
async fn evidence_given_before_a_doubt_or_a_correction_no_longer_counts() {
    let (app, peer, _pki) = spawn_with_insi().await;
    let tenant = app.tenant("Alpha").await;
    let admin = &tenant.admin.token;
    let id = new_record(&app, &tenant, "Preuve", Some(&ins())).await;
    let record = format!("/api/v1/residents/{id}");
    let status = format!("{record}/identity-status");
    let post = |version: i64, body: Value| {
        let (app, status) = (&app, status.clone());
        async move { send_if(app, Method::POST, &status, admin, &json!(version), body).await }
    };
    // RECUP, then QUAL with a passport.
    assert_eq!(retrieved_with_insi(&app, &peer, admin, &id, 1, &ins(), None).await.status, 200);
    assert_eq!(post(2, json!({"to_status": "QUAL", "document": "passport"})).await.status, 200);
    // A doubt: back to provisional. New traits and a new INS are typed in.
    let doubt = post(3, json!({"to_status": "PROV", "reason": "Homonymie découverte"})).await;
    assert_eq!(doubt.json["identity_status"], "PROV");
    let new_ins = dui_testkit::nir(true, "1938-05-06", 2);
    let corrected = send_if(
        &app,
        Method::PATCH,
        &record,
        admin,
        &json!(4),
        json!({"identity": identity("Preuve", "Jeanne Paule", "1938-05-06"),
               "ins": {"matricule": new_ins, "oid": OID_TEST}}),
    )
    .await;
    assert_eq!(corrected.status, 200, "{}", corrected.text);
    // VALI with a passport; QUAL would need the new INS checked by INSi: the look-up made
    // before the doubt no longer counts.
    assert_eq!(post(5, json!({"to_status": "VALI", "document": "passport"})).await.status, 200);
    let refused = post(6, json!({"to_status": "QUAL"})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "insi_lookup");
    let qualified = retrieved_with_insi(&app, &peer, admin, &id, 6, &new_ins, Some("Paule")).await;
    assert_eq!(qualified.json["identity_status"], "QUAL", "{}", qualified.text);

    // The INS is withdrawn (INSi no longer returns it): QUAL goes back to VALI, with a reason; the
    // INS is removed, and the event keeps it.
    let refused = post(7, json!({"to_status": "VALI"})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "reason");
    let withdrawn = post(7, json!({"to_status": "VALI", "reason": "INS désactivé par l'INSi"})).await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    assert_eq!(withdrawn.json["identity_status"], "VALI");
    assert_eq!(withdrawn.json["ins"], json!(null));
    let events = app.get(&format!("{record}/identity-events"), admin).await.json;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["from_status"].clone(), last["to_status"].clone()), (json!("QUAL"), json!("VALI")));
    assert_eq!(last["previous"]["ins"]["matricule"], new_ins.as_str());
    // Searching by the withdrawn INS finds nothing; QUAL again needs an INS.
    let found = app.post("/api/v1/residents/search", admin, json!({"ins": new_ins})).await;
    assert_eq!(found.json, json!([]));
    let refused = post(8, json!({"to_status": "QUAL"})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "ins");

    // A retrieved identity whose strict traits are corrected by hand goes back to provisional,
    // with an event that says why; the look-up no longer counts.
    let other = new_record(&app, &tenant, "Récupérée", Some(&dui_testkit::nir(true, "1938-05-06", 3))).await;
    let other_record = format!("/api/v1/residents/{other}");
    let other_status = format!("{other_record}/identity-status");
    let retrieved =
        retrieved_with_insi(&app, &peer, admin, &other, 1, &dui_testkit::nir(true, "1938-05-06", 3), None).await;
    assert_eq!(retrieved.json["identity_status"], "RECUP", "{}", retrieved.text);
    let typed = send_if(
        &app,
        Method::PATCH,
        &other_record,
        admin,
        &json!(2),
        json!({"identity": identity("Récupérée", "Jeanne", "1938-05-07"),
               "ins": {"matricule": dui_testkit::nir(true, "1938-05-06", 3), "oid": OID_TEST}}),
    )
    .await;
    assert_eq!(typed.status, 200, "{}", typed.text);
    assert_eq!(typed.json["identity_status"], "PROV");
    let events = app.get(&format!("{other_record}/identity-events"), admin).await.json;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["from_status"].clone(), last["to_status"].clone()), (json!("RECUP"), json!("PROV")));
    assert_eq!(last["kind"], "correction");
    assert_eq!(last["previous"]["identity"]["birth_date"], "1938-05-06");
    assert!(last["comment"].as_str().unwrap().contains("INSi"), "{last}");
    let refused = send_if(
        &app,
        Method::POST,
        &other_status,
        admin,
        &json!(3),
        json!({"to_status": "QUAL", "document": "passport"}),
    )
    .await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "to_status", "QUAL follows RECUP or VALI");
    let validated = send_if(
        &app,
        Method::POST,
        &other_status,
        admin,
        &json!(3),
        json!({"to_status": "VALI", "document": "passport"}),
    )
    .await;
    assert_eq!(validated.status, 200);
    let refused = send_if(&app, Method::POST, &other_status, admin, &json!(4), json!({"to_status": "QUAL"})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "insi_lookup");
    // Only a document that proves an adult's identity validates an adult's.
    let minor_only = new_record(&app, &tenant, "Livret", None).await;
    let refused = send_if(
        &app,
        Method::POST,
        &format!("/api/v1/residents/{minor_only}/identity-status"),
        admin,
        &json!(1),
        json!({"to_status": "VALI", "document": "family_record_book"}),
    )
    .await;
    let problem = refused.problem(422);
    assert_eq!(problem["errors"][0]["field"], "document");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("minor"), "{problem}");
}

/// The usual slips of a typed identity are found on demand, through the blind index alone: a
/// birth date a day or a digit off or with day and month swapped, the first name typed as the
/// birth name, the used name typed as the birth name. Admission still stops only on the same
/// INS or the same birth name and date.
#[tokio::test]
async fn near_duplicates_are_found_on_demand() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let person = json!({"birth_name": "Lambert", "first_names": "Odette Marie", "used_name": "Vasseur",
                        "sex": "female", "birth_date": "1936-04-02", "birth_place": "75056"});
    let original = admit(&app, &tenant, json!({"identity": person})).await;
    assert_eq!(original.status, 201, "{}", original.text);
    let original = original.json["id"].as_str().unwrap().to_owned();
    let slips = [
        (identity("Lambert", "Odette", "1936-04-03"), "near_birth_date"),
        (identity("Lambert", "Odette", "1938-04-02"), "near_birth_date"),
        (identity("Lambert", "Odette", "1936-02-04"), "near_birth_date"),
        (identity("Odette", "Lambert", "1936-04-02"), "swapped_names"),
        (identity("Vasseur", "Odette", "1936-04-02"), "used_name_as_birth_name"),
    ];
    let mut expected = Vec::new();
    for (slip, likeness) in slips {
        // None of them is stopped at admission: only a near likeness.
        let created = admit(&app, &tenant, json!({"identity": slip})).await;
        assert_eq!(created.status, 201, "{likeness}: {}", created.text);
        expected.push((created.json["id"].as_str().unwrap().to_owned(), likeness));
    }
    // Another person altogether: two digits off.
    let other = admit(&app, &tenant, json!({"identity": identity("Lambert", "Odette", "1946-05-02")})).await;
    assert_eq!(other.status, 201);

    let found = app.get(&format!("/api/v1/residents/{original}/duplicates"), &tenant.admin.token).await;
    assert_eq!(found.status, 200, "{}", found.text);
    let mut found: Vec<(String, String)> = found
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["likeness"].as_str().unwrap().to_owned()))
        .collect();
    found.sort();
    let mut expected: Vec<(String, String)> = expected.into_iter().map(|(id, l)| (id, l.to_owned())).collect();
    expected.sort();
    assert_eq!(found, expected);
    // From a slip's side, the original is found too (its date is near the slip's).
    let (slip, _) = &expected[0];
    let back = app.get(&format!("/api/v1/residents/{slip}/duplicates"), &tenant.admin.token).await;
    assert!(back.json.as_array().unwrap().iter().any(|c| c["id"] == original.as_str()), "{}", back.text);
}

/// Identities made RECUP by an INS typed at admission, before only INSi could make them so, go
/// back to provisional in the maintenance pass, each with an identity event saying why; an
/// identity retrieved through a look-up stays RECUP, and a second pass finds nothing.
#[tokio::test]
async fn identities_an_ins_typed_at_admission_made_retrieved_go_back_to_provisional() {
    let (app, peer, _pki) = spawn_with_insi().await;
    let tenant = app.tenant("Alpha").await;
    let admin = &tenant.admin.token;
    let legacy = new_record(&app, &tenant, "Ancienne", Some(&ins())).await;
    let looked_up = new_record(&app, &tenant, "Cherchée", Some(&dui_testkit::nir(true, "1938-05-06", 9))).await;
    let retrieved =
        retrieved_with_insi(&app, &peer, admin, &looked_up, 1, &dui_testkit::nir(true, "1938-05-06", 9), None).await;
    assert_eq!(retrieved.status, 200, "{}", retrieved.text);
    // The state the former admission left: RECUP, its first event claiming a look-up.
    let mut owner = app.db.connect(&app.db.owner_url).await;
    let tx = owner.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
    let id: uuid::Uuid = legacy.parse().unwrap();
    tx.execute("UPDATE residents SET identity_status = 'RECUP' WHERE id = $1", &[&id]).await.unwrap();
    tx.execute("UPDATE identity_events SET to_status = 'RECUP', insi_lookup = true WHERE resident_id = $1", &[&id])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(app.store.lower_typed_retrievals_everywhere().await.unwrap(), 1);
    let record = app.get(&format!("/api/v1/residents/{legacy}"), admin).await;
    assert_eq!(record.json["identity_status"], "PROV");
    let events = app.get(&format!("/api/v1/residents/{legacy}/identity-events"), admin).await.json;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["from_status"].clone(), last["to_status"].clone()), (json!("RECUP"), json!("PROV")));
    assert!(last["comment"].as_str().unwrap().contains("INSi"), "{last}");
    assert_eq!(last["recorded_by"], json!(null), "recorded by the system");
    let kept = app.get(&format!("/api/v1/residents/{looked_up}"), admin).await;
    assert_eq!(kept.json["identity_status"], "RECUP", "a look-up stands");
    assert_eq!(app.store.lower_typed_retrievals_everywhere().await.unwrap(), 0);
}

/// A merge moves the duplicate's identity events into the history of the record kept, but its
/// evidence does not count there, nor does its first event void the record kept's.
#[tokio::test]
async fn a_merge_neither_voids_nor_lends_identity_evidence() {
    let (app, peer, _pki) = spawn_with_insi().await;
    let tenant = app.tenant("Alpha").await;
    let admin = &tenant.admin.token;
    let referent = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::IdentityVigilance)]).await;
    let status = |id: &str| format!("/api/v1/residents/{id}/identity-status");
    let merge = |kept: &str, duplicate: &str| {
        let (app, referent) = (&app, &referent);
        let (path, duplicate) = (format!("/api/v1/residents/{kept}/merge"), duplicate.to_owned());
        async move {
            let body = json!({"duplicate_id": duplicate, "reason": "Même personne"});
            let merged = app.post(&path, &referent.token, body).await;
            assert_eq!(merged.status, 200, "{}", merged.text);
        }
    };

    // Kept: retrieved with INSi. Its duplicate, created later, starts provisional.
    let kept = new_record(&app, &tenant, "Fusion", Some(&ins())).await;
    let retrieved = retrieved_with_insi(&app, &peer, admin, &kept, 1, &ins(), None).await;
    assert_eq!(retrieved.status, 200, "{}", retrieved.text);
    let duplicate = new_record(&app, &tenant, "Fusion", None).await;
    merge(&kept, &duplicate).await;
    // The INSi look-up of the record kept still stands: a document qualifies it.
    let qualified = send_if(
        &app,
        Method::POST,
        &status(&kept),
        admin,
        &json!(2),
        json!({"to_status": "QUAL", "document": "passport"}),
    )
    .await;
    assert_eq!(qualified.json["identity_status"], "QUAL", "{}", qualified.text);
    let events = app.get(&format!("/api/v1/residents/{kept}/identity-events"), admin).await.json;
    assert!(events.as_array().unwrap().iter().any(|e| e["merged_from"] == duplicate.as_str()), "{events}");

    // Kept: provisional with a typed INS. Its duplicate was retrieved with INSi: that look-up
    // was about the other record, and does not qualify this one.
    let other_ins = dui_testkit::nir(true, "1938-05-06", 5);
    let second = new_record(&app, &tenant, "Seconde", Some(&other_ins)).await;
    let lender = new_record(&app, &tenant, "Seconde", Some(&dui_testkit::nir(true, "1938-05-06", 6))).await;
    let lent =
        retrieved_with_insi(&app, &peer, admin, &lender, 1, &dui_testkit::nir(true, "1938-05-06", 6), None).await;
    assert_eq!(lent.status, 200, "{}", lent.text);
    merge(&second, &lender).await;
    let validated = send_if(
        &app,
        Method::POST,
        &status(&second),
        admin,
        &json!(1),
        json!({"to_status": "VALI", "document": "passport"}),
    )
    .await;
    assert_eq!(validated.status, 200, "{}", validated.text);
    let refused = send_if(&app, Method::POST, &status(&second), admin, &json!(2), json!({"to_status": "QUAL"})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "insi_lookup");
}

#[tokio::test]
async fn duplicates_are_found_on_demand_and_merged() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let kept = new_record(&app, &tenant, "Doublon", Some(&ins())).await;
    let duplicate = new_record(&app, &tenant, "Doublon", None).await;
    let unrelated = new_record(&app, &tenant, "Autre", None).await;
    for (id, text) in [(&kept, "note du dossier gardé"), (&duplicate, "note du doublon")] {
        let note = app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": text})).await;
        assert_eq!(note.status, 201, "{}", note.text);
    }
    let contact = app
        .post(
            &format!("/api/v1/residents/{duplicate}/contacts"),
            &tenant.admin.token,
            json!({"kind": "relative", "details": {"family_name": "Doublon", "given_name": "Marc"}}),
        )
        .await;
    assert_eq!(contact.status, 201);
    // Each record has its personne de confiance in force.
    for (id, name) in [(&kept, "Confiance-Gardé"), (&duplicate, "Confiance-Doublon")] {
        let trusted = app
            .post(
                &format!("/api/v1/residents/{id}/contacts"),
                &tenant.admin.token,
                json!({"kind": "trusted_person", "details": {"family_name": name}}),
            )
            .await;
        assert_eq!(trusted.status, 201, "{}", trusted.text);
    }
    // Care data on both: each has a plan in force, the duplicate an assessment and a measurement.
    for id in [&kept, &duplicate] {
        let plan = format!("/api/v1/residents/{id}/care-plan");
        let created =
            app.post(&plan, &nurse.token, json!({"content": {"expectations": format!("Plan de {id}")}})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let version = format!("{plan}/versions/{}", created.json["id"].as_str().unwrap());
        let activate = format!("{version}/activate");
        let etag = crate::care_plans::validated(&app, &version, &nurse.token).await;
        let active = app.request_with(Method::POST, &activate, Some(&nurse.token), None, &[("If-Match", &etag)]).await;
        assert_eq!(active.status, 200, "{}", active.text);
    }
    let assessed = app
        .post(
            &format!("/api/v1/residents/{duplicate}/assessments"),
            &nurse.token,
            json!({"instrument": "algoplus", "assessed_on": "2026-11-02",
                   "answers": {"visage": "yes", "regard": "no", "plaintes": "no", "corps": "no", "comportements": "no"}}),
        )
        .await;
    assert_eq!(assessed.status, 201, "{}", assessed.text);
    let measured = app
        .post(
            &format!("/api/v1/residents/{duplicate}/measurements"),
            &nurse.token,
            json!({"kind": "pulse", "value": 64}),
        )
        .await;
    assert_eq!(measured.status, 201, "{}", measured.text);
    let allergic = app
        .post(
            &format!("/api/v1/residents/{duplicate}/allergies"),
            &nurse.token,
            json!({"kind": "allergy", "substance": "Arachide", "severity": "life_threatening", "source": "family"}),
        )
        .await;
    assert_eq!(allergic.status, 201, "{}", allergic.text);
    let fallen = app
        .post(
            &format!("/api/v1/residents/{duplicate}/falls"),
            &nurse.token,
            json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "room", "discovery": "witnessed",
                   "circumstances": "Chute du doublon", "consequences": ["none"]}),
        )
        .await;
    assert_eq!(fallen.status, 201, "{}", fallen.text);
    let found = app.get(&format!("/api/v1/residents/{kept}/duplicates"), &tenant.admin.token).await;
    assert_eq!(found.json, json!([{"id": duplicate, "same_ins": false, "likeness": "same_birth_identity"}]));
    let none = app.get(&format!("/api/v1/residents/{unrelated}/duplicates"), &tenant.admin.token).await;
    assert_eq!(none.json, json!([]));

    // Only the identity-vigilance referent merges, with a reason; a record is not merged into
    // itself.
    let merge = format!("/api/v1/residents/{kept}/merge");
    let reason = "Même personne, doublon créé à l'admission";
    let referent = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::IdentityVigilance)]).await;
    let assistant = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::CareAssistant)]).await;
    for refused in [&assistant.token, &tenant.admin.token, &nurse.token] {
        app.post(&merge, refused, json!({"duplicate_id": duplicate, "reason": reason})).await.problem(403);
    }
    app.post(&merge, &referent.token, json!({"duplicate_id": kept, "reason": reason})).await.problem(422);
    let unreasoned = app.post(&merge, &referent.token, json!({"duplicate_id": duplicate, "reason": " "})).await;
    assert_eq!(unreasoned.problem(422)["errors"][0]["field"], "reason");
    app.post(&merge, &referent.token, json!({"duplicate_id": duplicate})).await.problem(422);
    let merged = app.post(&merge, &referent.token, json!({"duplicate_id": duplicate, "reason": reason})).await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    // The record kept's identity history says who merged which record, and why.
    let events = app.get(&format!("/api/v1/residents/{kept}/identity-events"), &tenant.admin.token).await.json;
    let merge_event = events.as_array().unwrap().iter().find(|e| e["kind"] == "merge").cloned().unwrap();
    assert_eq!(merge_event["merged_record_id"], duplicate.as_str());
    assert_eq!(merge_event["comment"], reason);
    assert_eq!(merge_event["recorded_by"], referent.id.to_string());

    // Everything moved; the duplicate remains, marked, pointing at the record kept.
    let notes = app.get(&format!("/api/v1/residents/{kept}/notes"), &nurse.token).await;
    assert_eq!(notes.json["items"].as_array().unwrap().len(), 2);
    let contacts = app.get(&format!("/api/v1/residents/{kept}/contacts"), &tenant.admin.token).await;
    let contacts = contacts.json.as_array().unwrap().clone();
    assert!(contacts.iter().any(|c| c["details"]["given_name"] == "Marc"));
    // One personne de confiance in force: the record kept's; the duplicate's ended with the merge.
    let trusted: Vec<(&str, bool)> = contacts
        .iter()
        .filter(|c| c["kind"] == "trusted_person")
        .map(|c| (c["details"]["family_name"].as_str().unwrap(), c["ended_at"].is_null()))
        .collect();
    assert_eq!(trusted.len(), 2, "{trusted:?}");
    assert!(trusted.contains(&("Confiance-Gardé", true)) && trusted.contains(&("Confiance-Doublon", false)));
    let stays = app.get(&format!("/api/v1/residents/{kept}/stays"), &tenant.admin.token).await;
    assert_eq!(stays.json.as_array().unwrap().len(), 2);
    let assessments = app.get(&format!("/api/v1/residents/{kept}/assessments"), &nurse.token).await;
    assert_eq!(assessments.json.as_array().unwrap().len(), 1, "{}", assessments.text);
    let measurements = app.get(&format!("/api/v1/residents/{kept}/measurements"), &nurse.token).await;
    assert_eq!(measurements.json[0]["value"], 64);
    // The person's allergy and fall follow: whoever opens the record kept sees them first.
    let alerts = app.get(&format!("/api/v1/residents/{kept}/alerts"), &nurse.token).await;
    assert_eq!(alerts.json[0]["allergy"]["substance"]["text"], "Arachide", "{}", alerts.text);
    let falls = app.get(&format!("/api/v1/residents/{kept}/falls?from=2026-01-01T00:00:00Z"), &nurse.token).await;
    assert_eq!(falls.json["falls"][0]["details"]["circumstances"], "Chute du doublon", "{}", falls.text);
    // One plan in force: the record kept's; the duplicate's is closed, and kept.
    let plans = app.get(&format!("/api/v1/residents/{kept}/care-plan"), &nurse.token).await;
    let mut statuses: Vec<(String, &str)> = plans
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["content"]["expectations"].as_str().unwrap().to_owned(), v["status"].as_str().unwrap()))
        .collect();
    statuses.sort();
    let mut expected = vec![(format!("Plan de {duplicate}"), "closed"), (format!("Plan de {kept}"), "active")];
    expected.sort();
    assert_eq!(statuses, expected);
    let old = app.get(&format!("/api/v1/residents/{duplicate}"), &tenant.admin.token).await;
    assert_eq!(
        (old.json["record_status"].as_str(), old.json["merged_into"].as_str()),
        (Some("merged"), Some(kept.as_str()))
    );
    // A merged record takes no more writes, and is merged only once.
    app.post(&format!("/api/v1/residents/{duplicate}/notes"), &nurse.token, json!({"text": "trop tard"}))
        .await
        .problem(409);
    let again = app.post(&merge, &referent.token, json!({"duplicate_id": duplicate, "reason": reason})).await;
    assert!(matches!(again.status, 404 | 409), "{}", again.text);
    // Lists show the surviving record only.
    let listed = app.get("/api/v1/residents", &tenant.admin.token).await;
    assert!(!listed.text.contains(&duplicate));

    // The merge was a mistake: the referent undoes it, with a reason. A note written on the
    // record kept since stays there.
    let since =
        app.post(&format!("/api/v1/residents/{kept}/notes"), &nurse.token, json!({"text": "après fusion"})).await;
    assert_eq!(since.status, 201, "{}", since.text);
    let unmerge = format!("/api/v1/residents/{kept}/unmerge");
    let undo = json!({"duplicate_id": duplicate, "reason": "Deux sœurs jumelles, pas la même personne"});
    app.post(&unmerge, &tenant.admin.token, undo.clone()).await.problem(403);
    let refused = app.post(&unmerge, &referent.token, json!({"duplicate_id": duplicate, "reason": ""})).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "reason");
    let undone = app.post(&unmerge, &referent.token, undo.clone()).await;
    assert_eq!(undone.status, 200, "{}", undone.text);
    let back = app.get(&format!("/api/v1/residents/{duplicate}"), &tenant.admin.token).await;
    assert_eq!(back.json["record_status"], "active", "{}", back.text);
    assert_eq!(back.json["merged_into"], json!(null));
    // Each record has its own rows again.
    let texts = |id: &str| {
        let (app, token) = (&app, nurse.token.clone());
        let path = format!("/api/v1/residents/{id}/notes");
        async move {
            let notes = app.get(&path, &token).await.json;
            let mut texts: Vec<String> =
                notes["items"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap().to_owned()).collect();
            texts.sort();
            texts
        }
    };
    assert_eq!(texts(&kept).await, ["après fusion", "note du dossier gardé"]);
    assert_eq!(texts(&duplicate).await, ["note du doublon"]);
    let stays = app.get(&format!("/api/v1/residents/{duplicate}/stays"), &tenant.admin.token).await;
    assert_eq!(stays.json.as_array().unwrap().len(), 1);
    let assessments = app.get(&format!("/api/v1/residents/{duplicate}/assessments"), &nurse.token).await;
    assert_eq!(assessments.json.as_array().unwrap().len(), 1, "{}", assessments.text);
    let alerts = app.get(&format!("/api/v1/residents/{duplicate}/alerts"), &nurse.token).await;
    assert_eq!(alerts.json.as_array().unwrap().len(), 1, "{}", alerts.text);
    let falls = app.get(&format!("/api/v1/residents/{duplicate}/falls?from=2026-01-01T00:00:00Z"), &nurse.token).await;
    assert_eq!(falls.json["falls"].as_array().unwrap().len(), 1, "{}", falls.text);
    assert_eq!(app.get(&format!("/api/v1/residents/{kept}/alerts"), &nurse.token).await.json, json!([]));
    // What the merge ended is in force again: the duplicate's personne de confiance and plan.
    let contacts = app.get(&format!("/api/v1/residents/{duplicate}/contacts"), &tenant.admin.token).await.json;
    let trusted = contacts.as_array().unwrap().iter().find(|c| c["kind"] == "trusted_person").cloned().unwrap();
    assert_eq!(trusted["details"]["family_name"], "Confiance-Doublon");
    assert!(trusted["ended_at"].is_null(), "{trusted}");
    let plan = app.get(&format!("/api/v1/residents/{duplicate}/care-plan"), &nurse.token).await.json;
    assert!(plan.as_array().unwrap().iter().any(|v| v["status"] == "active"), "{plan}");
    // The identity histories: the duplicate's events are its own again; the record kept keeps
    // the merge and its undoing, with who and why.
    let events = app.get(&format!("/api/v1/residents/{duplicate}/identity-events"), &tenant.admin.token).await.json;
    assert!(events.as_array().unwrap().iter().all(|e| e["merged_from"].is_null()), "{events}");
    let events = app.get(&format!("/api/v1/residents/{kept}/identity-events"), &tenant.admin.token).await.json;
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.ends_with(&["merge", "unmerge"]), "{kinds:?}");
    let last = events.as_array().unwrap().last().unwrap();
    assert_eq!(last["comment"], "Deux sœurs jumelles, pas la même personne");
    assert_eq!(last["recorded_by"], referent.id.to_string());
    // Nothing is left to undo.
    app.post(&unmerge, &referent.token, undo).await.problem(422);
    // The trail has the merge and its undoing by the referent, and the refusals of the others.
    let report = app.get(&format!("/api/v1/residents/{kept}/access-report"), &tenant.admin.token).await.json;
    let trail: Vec<(&str, &str, &str)> = report
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| matches!(e["action"].as_str(), Some("resident.merge" | "resident.unmerge")))
        .map(|e| (e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap(), e["actor_id"].as_str().unwrap_or("")))
        .collect();
    let referent_id = referent.id.to_string();
    assert!(trail.contains(&("resident.merge", "success", referent_id.as_str())), "{trail:?}");
    assert!(trail.contains(&("resident.unmerge", "success", referent_id.as_str())), "{trail:?}");
    let nurse_id = nurse.id.to_string();
    assert!(trail.contains(&("resident.merge", "denied", nurse_id.as_str())), "{trail:?}");
}

/// People of a record filled in every section (see [`fill_record`]).
pub(crate) struct Filled {
    pub id: String,
    pub nurse: dui_testkit::TestUser,
    pub director: dui_testkit::TestUser,
}

/// A record with something in every section: a note, a contact, a consent, an emergency
/// opening, an assessment, a plan in force, a measurement, an allergy, an alert, a fall and its
/// correction, an assignment, a task record, an absence, an appointment outside (and its
/// absence), a restraint and its reassessment, a wound (assessed, with a protocol), a diet, an
/// ended watch and an intake.
pub(crate) async fn fill_record(app: &TestApp, tenant: &TestTenant, birth_name: &str, ins: Option<&str>) -> Filled {
    let id = new_record(app, tenant, birth_name, ins).await;
    let nurse = app.user(tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    app.post(
        &format!("/api/v1/residents/{id}/notes"),
        &nurse.token,
        json!({"text": "Transmission exportée", "scope": "medical"}),
    )
    .await;
    app.post(
        &format!("/api/v1/residents/{id}/contacts"),
        &tenant.admin.token,
        json!({"kind": "trusted_person", "details": {"family_name": "Confiance"}}),
    )
    .await;
    app.post(
        &format!("/api/v1/residents/{id}/consents"),
        &tenant.admin.token,
        json!({"kind": "image_rights", "decision": "refused", "expressed_by": "person"}),
    )
    .await;

    // A search of the INSi teleservice that found the person, as the search records it (the
    // teleservice itself is exercised in `identity_insi`).
    let scope = dui_domain::scope::TenantScope::new(
        tenant.id,
        tenant.admin.id,
        vec![dui_domain::scope::Grant { establishment: None, role: Role::TenantAdmin }],
    );
    let found = dui_domain::insi::FoundIdentity {
        ins: dui_domain::identity::Ins { matricule: self::ins(), oid: dui_domain::identity::InsOid::NirTest },
        birth_name: dui_domain::identity::ins_form(birth_name),
        first_names: "JEANNE".to_owned(),
        sex: dui_domain::identity::Sex::Female,
        birth_date: chrono::NaiveDate::from_ymd_opt(1938, 5, 6).unwrap(),
        birth_place: Some("75056".to_owned()),
    };
    let resident: dui_domain::ResidentId = id.parse().unwrap();
    dui_storage::insi_calls::record(
        app.store.begin(&scope, dui_storage::Mode::Write),
        resident,
        uuid::Uuid::now_v7(),
        dui_domain::insi::InsiOutcome::Found,
        Some(&found),
    )
    .await
    .unwrap();

    let visitor = app.user(tenant, &[(Some(tenant.establishments[1].id), Role::Nurse)]).await;
    let opened = app
        .post(
            &format!("/api/v1/residents/{id}/emergency-access"),
            &visitor.token,
            json!({"reason": "Remplacement de nuit, chute"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);

    let assessed = app
        .post(
            &format!("/api/v1/residents/{id}/assessments"),
            &nurse.token,
            json!({"instrument": "algoplus", "assessed_on": "2026-11-02",
                   "answers": {"visage": "yes", "regard": "yes", "plaintes": "no", "corps": "no", "comportements": "no"}}),
        )
        .await;
    assert_eq!(assessed.status, 201, "{}", assessed.text);
    let planned = app
        .post(
            &format!("/api/v1/residents/{id}/care-plan"),
            &tenant.admin.token,
            json!({"content": {"expectations": "Rester proche de sa famille"}}),
        )
        .await;
    assert_eq!(planned.status, 403, "tenant admins do not draw up plans: {}", planned.text);
    let director = app.user(tenant, &[(Some(tenant.establishments[0].id), Role::Director)]).await;
    let planned = app
        .post(
            &format!("/api/v1/residents/{id}/care-plan"),
            &director.token,
            json!({"content": {"expectations": "Rester proche de sa famille", "actions": [
                {"what": "Toilette", "who": {"role": "nurse"}, "schedule": {"kind": "daily", "times": ["08:00"]}}]}}),
        )
        .await;
    assert_eq!(planned.status, 201, "{}", planned.text);
    let version = format!("/api/v1/residents/{id}/care-plan/versions/{}", planned.json["id"].as_str().unwrap());
    let etag = crate::care_plans::validated(app, &version, &director.token).await;
    let active = app
        .request_with(
            reqwest::Method::POST,
            &format!("{version}/activate"),
            Some(&director.token),
            None,
            &[("If-Match", &etag)],
        )
        .await;
    assert_eq!(active.status, 200, "{}", active.text);
    let measured = app
        .post(&format!("/api/v1/residents/{id}/measurements"), &nurse.token, json!({"kind": "weight", "value": 61.5}))
        .await;
    assert_eq!(measured.status, 201, "{}", measured.text);
    // A glucose entered in mmol/L, then flagged as entered in error, with the reason.
    let glucose = app
        .post(
            &format!("/api/v1/residents/{id}/measurements"),
            &nurse.token,
            json!({"kind": "blood_glucose", "value": 5.5, "unit": "mmol/L"}),
        )
        .await;
    assert_eq!(glucose.status, 201, "{}", glucose.text);
    let flagged = app
        .post(
            &format!("/api/v1/residents/{id}/measurements/{}/entered-in-error", glucose.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"reason": "Glycémie d'un autre résident"}),
        )
        .await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    // An allergy, a major alert, and a fall with its correction.
    for (kind, body) in [
        (
            "allergies",
            json!({"kind": "allergy", "substance": "Pénicilline", "substance_code": {"system": "atc", "code": "J01CE"},
                             "reaction": "Urticaire", "severity": "severe", "source": "medical_record"}),
        ),
        (
            "alerts",
            json!({"kind": "isolation_precautions", "precautions": ["contact", "droplet"],
                          "detail": "Jusqu'au résultat du prélèvement"}),
        ),
    ] {
        let recorded = app.post(&format!("/api/v1/residents/{id}/{kind}"), &nurse.token, body).await;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
    }
    let fall = json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "bathroom", "discovery": "found_on_floor",
                      "circumstances": "Retrouvée au sol", "consequences": ["bruise"],
                      "family_informed_at": "2026-11-01T08:00:00Z", "family_informed": "Sa fille"});
    let fallen = app.post(&format!("/api/v1/residents/{id}/falls"), &nurse.token, fall.clone()).await;
    assert_eq!(fallen.status, 201, "{}", fallen.text);
    let mut corrected = fall;
    corrected["consequences"] = json!(["fracture_suspected", "hospital_transfer"]);
    let amended = app
        .post(
            &format!("/api/v1/residents/{id}/falls/{}/amendments", fallen.json["id"].as_str().unwrap()),
            &nurse.token,
            corrected,
        )
        .await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    let helper = app.user(tenant, &[(Some(tenant.establishments[0].id), Role::HomeHelper)]).await;
    let assigned =
        app.post(&format!("/api/v1/residents/{id}/assignments"), &director.token, json!({"user_id": helper.id})).await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    // In force since the admission: today's task is the plan's whatever the hour.
    crate::care_tasks::backdate(app, tenant, &planned.json["id"], "2026-06-01T00:00:00Z").await;
    let tasks = app.get(&format!("/api/v1/establishments/{}/tasks", tenant.establishments[0].id), &nurse.token).await;
    let task = &tasks.json[0];
    let recorded = app
        .post(
            &format!("/api/v1/residents/{id}/tasks"),
            &nurse.token,
            json!({"plan_version_id": task["plan_version_id"], "action_id": task["action_id"],
                   "scheduled_for": task["scheduled_for"], "status": "refused", "reason": "Préfère le soir"}),
        )
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);

    // A hospitalisation that ended, an appointment outside (with its absence), a restraint
    // recorded from an outside physician's prescription and reassessed.
    let now = chrono::Utc::now();
    let hospital = app
        .post(
            &format!("/api/v1/residents/{id}/absences"),
            &nurse.token,
            json!({"kind": "hospitalisation", "starts_at": now - chrono::Duration::days(3), "transport": "ambulance",
                   "destination": {"name": "CHU", "service": "Gériatrie", "address": "1 place de l'Hôpital"},
                   "reason": "Chute, suspicion de fracture"}),
        )
        .await;
    assert_eq!(hospital.status, 201, "{}", hospital.text);
    let back = app
        .post(
            &format!("/api/v1/residents/{id}/absences/{}/return", hospital.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"returned_at": now - chrono::Duration::days(2)}),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    let appointment = app
        .post(
            &format!("/api/v1/residents/{id}/appointments"),
            &nurse.token,
            json!({"starts_at": now + chrono::Duration::days(5), "ends_at": now + chrono::Duration::days(5) + chrono::Duration::hours(1),
                   "with_whom": "Dr Os, orthopédie", "place": "Clinique", "outside": true, "transport": "taxi",
                   "returns_at": now + chrono::Duration::days(5) + chrono::Duration::hours(3),
                   "accompanied_by": "Son fils", "notes": "Apporter les radios"}),
        )
        .await;
    assert_eq!(appointment.status, 201, "{}", appointment.text);
    let restraint = app
        .post(
            &format!("/api/v1/residents/{id}/restraints"),
            &nurse.token,
            json!({"kind": "other", "device": "Drap de maintien", "planned_end_at": now + chrono::Duration::days(2),
                   "reason": "Glissements du fauteuil", "conditions": {"when": "Au fauteuil", "max_minutes_each_time": 120},
                   "external_prescriber": {"name": "Dr Martin", "rpps": "10003456789"}}),
        )
        .await;
    assert_eq!(restraint.status, 201, "{}", restraint.text);
    let reassessed = app
        .post(
            &format!("/api/v1/residents/{id}/restraints/{}/reassessments", restraint.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"outcome": "continue", "skin": "redness", "agitation": "agitated", "consent": "refuses",
                   "comment": "Rougeur au bassin, coussin ajouté"}),
        )
        .await;
    assert_eq!(reassessed.status, 201, "{}", reassessed.text);

    // A wound, assessed, with its care protocol; a diet, a food and fluid watch and a meal.
    let wounds = format!("/api/v1/residents/{id}/wounds");
    let wound = app
        .post(
            &wounds,
            &nurse.token,
            json!({"kind": "pressure_ulcer", "site": "other", "site_detail": "Pavillon de l'oreille", "origin": "acquired",
                   "stage": "stage_2", "description": "Lunettes à oxygène"}),
        )
        .await;
    assert_eq!(wound.status, 201, "{}", wound.text);
    let wound = format!("{wounds}/{}", wound.json["id"].as_str().unwrap());
    let assessed = app
        .post(
            &format!("{wound}/assessments"),
            &nurse.token,
            json!({"length_cm": 1.5, "width_cm": 1, "depth_cm": 0.2, "stage": "stage_2", "exudate": "low", "pain": 2,
                   "bed": {"necrosis": 0, "fibrin": 20, "granulation": 80, "epithelialisation": 0},
                   "infection_signs": ["erythema"], "observations": "Berges propres"}),
        )
        .await;
    assert_eq!(assessed.status, 201, "{}", assessed.text);
    let protocol = app
        .post(
            &format!("{wound}/protocol"),
            &nurse.token,
            json!({"products": ["Hydrocolloïde mince"], "frequency": "Tous les 3 jours", "instructions": "Protéger l'oreille",
                   "schedule": {"kind": "every_days", "every": 3, "from_date": "2026-11-01", "time": "10:00"},
                   "from": "2026-11-01", "to": "2027-01-31"}),
        )
        .await;
    assert_eq!(protocol.status, 201, "{}", protocol.text);
    let diet = app
        .post(
            &format!("/api/v1/residents/{id}/diet"),
            &nurse.token,
            json!({"diets": ["diabetic", "other"], "other_diet": "Sans porc", "food_texture": "hache",
                   "drink_texture": "iddsi_1", "decided_by": "attending_physician", "decided_by_name": "Dr Médecin",
                   "comment": "Aime le café"}),
        )
        .await;
    assert_eq!(diet.status, 201, "{}", diet.text);
    let watch = app
        .post(
            &format!("/api/v1/residents/{id}/nutrition-watches"),
            &nurse.token,
            json!({"covers": "both", "reason": "Perte de poids", "hydration_threshold_ml": 1200, "food_alert_days": 2}),
        )
        .await;
    assert_eq!(watch.status, 201, "{}", watch.text);
    let ended = app
        .post(
            &format!("/api/v1/residents/{id}/nutrition-watches/{}/end", watch.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({}),
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    let intake = app
        .post(
            &format!("/api/v1/residents/{id}/intakes"),
            &nurse.token,
            json!({"meal": "breakfast", "eaten": "three_quarters", "drinks_ml": 250, "comment": "Aidée"}),
        )
        .await;
    assert_eq!(intake.status, 201, "{}", intake.text);
    // The medical file: a problem, a vaccination, the attending physician.
    for (kind, body) in [
        (
            "problems",
            json!({"kind": "active_problem", "text": "Diabète de type 2", "cim10": "E11.9", "onset": "1998-04"}),
        ),
        (
            "vaccinations",
            json!({"vaccine": "Vaxigrip Tetra", "given_on": "2026-10-20", "dose": 1, "batch": "X4521",
                                "code": "3400930000000", "given_by": "IDE Durand"}),
        ),
        (
            "physicians",
            json!({"role": "attending", "name": "Dr Claire Martin", "rpps": "10003456789",
                              "phone": "01 23 45 67 89", "email": "c.martin@example.org", "since": "2020-03-01"}),
        ),
    ] {
        let recorded = app.post(&format!("/api/v1/residents/{id}/medical/{kind}"), &nurse.token, body).await;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
    }
    // A prescription changed once (two versions, the first superseded), of drugs of the
    // referential.
    crate::drugs::import_fixture(app).await;
    let prescription = |replaces: Option<&Value>, quantity: f64| {
        let mut body = json!({"prescriber": {"name": "Dr Claire Martin", "rpps": "10003456789"},
            "prescribed_on": "2026-11-30", "source": "paper",
            "lines": [{"cis": "60234100", "dose": {"quantity": quantity, "unit": "comprimé"}, "route": "oral",
                       "schedule": {"kind": "moments", "moments": [{"moment": "morning"}, {"moment": "evening"}]},
                       "crushable": true, "notes": "Avec un grand verre d'eau"},
                      {"cis": "69000009", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                       "schedule": {"kind": "if_needed", "max_per_day": 3, "condition": "si douleurs"}}]});
        if let Some(replaces) = replaces {
            body["replaces"] = replaces.clone();
        }
        body
    };
    let prescriptions = format!("/api/v1/residents/{id}/prescriptions");
    let first = app.post(&prescriptions, &nurse.token, prescription(None, 1.0)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let versions = format!("{prescriptions}/{}/versions", first.json["prescription_id"].as_str().unwrap());
    let changed = app.post(&versions, &nurse.token, prescription(Some(&first.json["id"]), 0.5)).await;
    assert_eq!(changed.status, 201, "{}", changed.text);
    // A dose of its drug given if needed.
    let dose = json!({"prescription_version_id": changed.json["id"], "line": 2, "outcome": "given",
                      "note": "Donné avec une compote"});
    let given = app.post(&format!("/api/v1/residents/{id}/administrations"), &nurse.token, dose).await;
    assert_eq!(given.status, 201, "{}", given.text);

    // A document attached to the record, in two chunks.
    let document = crate::documents::upload(
        app,
        &nurse.token,
        &format!("/api/v1/residents/{id}"),
        "kind=advance_directives&title=Directives%20anticip%C3%A9es",
        "application/pdf",
        crate::documents::large_pdf(300 * 1024),
        &[],
    )
    .await;
    assert_eq!(document.status, 201, "{}", document.text);

    // A document about the person, waiting to leave.
    crate::outbox::enqueue(app, tenant.id, crate::outbox::message(Some(id.parse().unwrap()), &format!("about-{id}")))
        .await;
    Filled { id, nurse, director }
}

#[tokio::test]
async fn the_whole_record_is_exported_for_the_person_and_the_export_is_recorded() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let Filled { id, nurse, director } = fill_record(&app, &tenant, "Portabilité", Some(&ins())).await;
    // A duplicate record of the person, merged into this one: its stay and first identity event
    // join the record, and the merge is listed.
    let duplicate = new_record(&app, &tenant, "Portabilité", None).await;
    let referent = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::IdentityVigilance)]).await;
    let merged = app
        .post(
            &format!("/api/v1/residents/{id}/merge"),
            &referent.token,
            json!({"duplicate_id": duplicate, "reason": "Doublon créé à l'admission"}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);

    // Carers do not export; the director of the establishment does.
    app.get(&format!("/api/v1/residents/{id}/export"), &nurse.token).await.problem(403);
    let export = app.get(&format!("/api/v1/residents/{id}/export"), &director.token).await;
    assert_eq!(export.status, 200, "{}", export.text);
    let document = &export.json;
    assert_eq!((document["format"].as_str(), document["version"].as_i64()), (Some("dui-resident-export"), Some(1)));
    let record = &document["record"];
    assert_eq!(record["resident"]["identity"]["birth_name"], "Portabilité");
    assert_eq!(record["resident"]["ins"]["matricule"], ins());
    for (section, count) in [
        ("stays", 2),
        ("contacts", 1),
        ("consents", 1),
        ("insi_calls", 1),
        ("identity_events", 3),
        ("merges", 1),
        ("notes", 1),
        ("emergency_accesses", 1),
        ("assessments", 1),
        ("care_plan_versions", 1),
        ("assignments", 1),
        ("care_task_records", 1),
        ("measurements", 2),
        ("allergies", 1),
        ("major_alerts", 1),
        ("falls", 2),
        ("medical_problems", 1),
        ("vaccinations", 1),
        ("physicians", 1),
        ("prescriptions", 2),
        ("administrations", 1),
        ("absences", 2),
        ("appointments", 1),
        ("restraints", 1),
        ("restraint_reassessments", 1),
        ("wounds", 1),
        ("wound_assessments", 1),
        ("wound_protocols", 1),
        ("diet_prescriptions", 1),
        ("nutrition_watches", 1),
        ("nutrition_intakes", 1),
        ("outgoing_messages", 1),
    ] {
        assert_eq!(record[section].as_array().map(Vec::len), Some(count), "{section}: {record}");
    }
    // Every section the features declare is there (the catalog test checks that every table
    // holding a person's rows declares one), and the trail of the record is in it.
    for section in dui_storage::resident_export::sections() {
        assert!(record[section].is_array(), "{section} is missing");
    }
    let accessed = record["access_events"].as_array().unwrap();
    assert!(accessed.iter().any(|e| e["action"] == "note.create" && e["actor_id"] == nurse.id.to_string()));
    assert!(accessed.iter().any(|e| e["action"] == "resident.export" && e["outcome"] == "success"));
    // Every note is in it, whatever its confidentiality scope: it is the person's record.
    assert_eq!(record["notes"][0]["text"], "Transmission exportée");
    // Measurements as entered, in their reference unit, and the reason of an error.
    let glucose = &record["measurements"][1];
    assert_eq!((&glucose["value"], &glucose["unit"]), (&json!(5.5), &json!("mmol/L")), "{glucose}");
    assert_eq!(glucose["reference"], json!({"value": 0.99, "unit": "g/L"}));
    assert_eq!(glucose["entered_in_error_reason"], "Glycémie d'un autre résident");
    // Every field it holds is documented, in its section of the schema.
    let schema = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/resident-export.md")).unwrap();
    for (section, value) in record.as_object().unwrap() {
        let text = schema_section(&schema, section);
        let sample = value.as_array().map_or(value, |items| &items[0]);
        if let Some(object) = sample.as_object() {
            assert_documented(text, section, object);
        }
    }

    // Both the refusal and the export are in the trail.
    let report = app.get(&format!("/api/v1/residents/{id}/access-report"), &director.token).await;
    let actions: Vec<(&str, &str)> = report
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "resident.export")
        .map(|e| (e["outcome"].as_str().unwrap(), e["actor_id"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("denied", nurse.id.to_string().as_str()), ("success", director.id.to_string().as_str())]);
}

/// The part of the export's schema under `### \`section\``.
fn schema_section<'a>(schema: &'a str, section: &str) -> &'a str {
    let heading = format!("### `{section}");
    let start = schema.find(&heading).unwrap_or_else(|| panic!("{section} is not documented"));
    let rest = &schema[start + heading.len()..];
    &rest[..rest.find("\n#").unwrap_or(rest.len())]
}

fn assert_documented(text: &str, path: &str, object: &serde_json::Map<String, Value>) {
    for (key, value) in object {
        assert!(
            text.contains(&format!("`{key}`"))
                || text.contains(&format!(".{key}`"))
                || text.contains(&format!("`{key},")),
            "{path}.{key} is exported but not documented"
        );
        // Nested objects (identity, INS, contact details) are documented field by field, except
        // the current stay, which has the shape documented under `stays`.
        // Answers are keyed by the instrument's items, documented by `/instruments`.
        if let Some(inner) = value.as_object().filter(|_| key != "current_stay" && key != "answers") {
            assert_documented(text, &format!("{path}.{key}"), inner);
        }
    }
}

/// Every table that holds a person's rows (a `resident_id`, or a key to `residents`) is in the
/// person's export, and says what a merge does with its rows: read from PostgreSQL's catalog, so
/// a table added without declaring its part fails here.
#[tokio::test]
async fn every_table_holding_a_persons_rows_is_in_their_export_and_their_merge() {
    let db = dui_testkit::TestDb::new().await;
    let owner = db.connect(&db.owner_url).await;
    let holding: Vec<String> = owner
        .query(
            "SELECT table_name::text FROM information_schema.columns WHERE table_schema = 'public' \
               AND column_name = 'resident_id' \
             UNION SELECT conrelid::regclass::text FROM pg_constraint \
               WHERE contype = 'f' AND confrelid = 'public.residents'::regclass \
             UNION SELECT 'residents' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(holding.len() >= 13, "the catalog shows the person's tables: {holding:?}");
    for table in &holding {
        let declared = dui_storage::features::tables()
            .find(|t| t.name == table)
            .unwrap_or_else(|| panic!("{table} holds a person's rows but no feature declares it"));
        let rows =
            declared.resident.as_ref().unwrap_or_else(|| panic!("{table} does not say how its rows are a person's"));
        match &rows.export {
            dui_storage::feature::ResidentExport::Section { .. } | dui_storage::feature::ResidentExport::Record => {}
            dui_storage::feature::ResidentExport::Omitted(why) => panic!("{table} is left out of the export: {why}"),
        }
        if let dui_storage::feature::Merge::Keep(why) = rows.merge {
            assert!(why.len() > 20, "{table} keeps its rows in a merge without saying why");
        }
    }
}

/// The residents present in a unit or an establishment today, as the nurse's list shows them:
/// not those who left (today included), nor those whose admission is planned, nor those of
/// another unit or establishment; a page at a time.
#[tokio::test]
async fn the_residents_present_in_a_place_are_those_with_a_stay_there_today() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let (wing, round) = (tenant.units[0].id, tenant.units[1].id);
    let garden = app
        .post(&format!("/api/v1/establishments/{ehpad}/units"), &tenant.admin.token, json!({"name": "Jardin"}))
        .await;
    assert_eq!(garden.status, 201, "{}", garden.text);
    let garden = garden.json["id"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive();
    let admit_to = |name: &'static str, establishment: String, unit: String, on: chrono::NaiveDate| {
        let body = json!({"establishment_id": establishment, "unit_id": unit, "admitted_on": on.to_string(),
                          "confirm_homonym": true, "identity": identity(name, "Jeanne", "1938-05-06")});
        let app = &app;
        let token = tenant.admin.token.clone();
        async move {
            let created = app.post("/api/v1/residents", &token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            (
                created.json["id"].as_str().unwrap().to_owned(),
                created.json["current_stay"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let long_ago = today - chrono::Duration::days(400);
    let mut present = Vec::new();
    for name in ["Présente", "Présente deux", "Présente trois"] {
        present.push(admit_to(name, ehpad.to_string(), wing.to_string(), long_ago).await.0);
    }
    present.sort();
    let (left, stay) = admit_to("Partie", ehpad.to_string(), wing.to_string(), long_ago).await;
    let discharged = send_if(
        &app,
        Method::PATCH,
        &format!("/api/v1/residents/{left}/stays/{stay}"),
        &tenant.admin.token,
        &json!(1),
        json!({"discharged_on": today, "discharge_mode": "home"}),
    )
    .await;
    assert_eq!(discharged.status, 200, "{}", discharged.text);
    let (planned, _) =
        admit_to("Attendue", ehpad.to_string(), wing.to_string(), today + chrono::Duration::days(20)).await;
    let (in_garden, _) = admit_to("Jardin", ehpad.to_string(), garden.clone(), long_ago).await;
    let (at_home, _) = admit_to("Domicile", saad.to_string(), round.to_string(), long_ago).await;

    let ids = |page: &TestResponse| -> Vec<String> {
        page.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    let wing_now = app.get(&format!("/api/v1/residents?unit_id={wing}&current=true"), &tenant.admin.token).await;
    assert_eq!(ids(&wing_now), present, "{}", wing_now.text);
    let mut ehpad_expected = [present.clone(), vec![in_garden.clone()]].concat();
    ehpad_expected.sort();
    let ehpad_now =
        app.get(&format!("/api/v1/residents?establishment_id={ehpad}&current=true"), &tenant.admin.token).await;
    assert_eq!(ids(&ehpad_now), ehpad_expected);
    for absent in [&left, &planned, &at_home] {
        assert!(!ehpad_now.text.contains(absent.as_str()));
    }
    // A unit named with another establishment has nobody present.
    let mismatch = app
        .get(&format!("/api/v1/residents?establishment_id={saad}&unit_id={wing}&current=true"), &tenant.admin.token)
        .await;
    assert_eq!(ids(&mismatch), Vec::<String>::new());
    // Page by page, in id order.
    let first = app.get(&format!("/api/v1/residents?unit_id={wing}&current=true&limit=2"), &tenant.admin.token).await;
    assert_eq!(ids(&first), present[..2]);
    let cursor = first.json["next_cursor"].as_str().expect("a next page").to_owned();
    let second = app
        .get(&format!("/api/v1/residents?unit_id={wing}&current=true&limit=2&cursor={cursor}"), &tenant.admin.token)
        .await;
    assert_eq!(ids(&second), present[2..]);
    // Each one listed is recorded as read, by the reader.
    let report = app.get(&format!("/api/v1/residents/{}/access-report", present[0]), &tenant.admin.token).await;
    assert!(report.text.contains("resident.list"), "{}", report.text);
}
