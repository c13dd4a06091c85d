//! Residents' records: identity with the INS, duplicates, search without plaintext, notes.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant, TestUser};
use serde_json::{Value, json};

pub fn identity(birth_name: &str, first_names: &str, birth_date: &str) -> Value {
    json!({"birth_name": birth_name, "first_names": first_names, "sex": "female", "birth_date": birth_date,
           "birth_place": "75056"})
}

pub async fn admit(app: &TestApp, tenant: &TestTenant, body: Value) -> dui_testkit::TestResponse {
    let mut body = body;
    body["establishment_id"] = json!(tenant.establishments[0].id);
    app.post("/api/v1/residents", &tenant.admin.token, body).await
}

async fn nurse(app: &TestApp, tenant: &TestTenant) -> TestUser {
    app.user(tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await
}

#[tokio::test]
async fn a_record_is_created_read_and_found_by_ins_or_identity() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let created = admit(
        &app,
        &tenant,
        // The national test INS of a woman born in August 1955.
        json!({"identity": identity("Lefèvre-d'Aubigné", "Marie Louise", "1955-08-03"),
               "ins": {"matricule": "2 55 08 14 168 025 38", "oid": "1.2.250.1.213.1.4.10"}}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // An INS typed in is kept, but only INSi makes an identity retrieved.
    assert_eq!(created.json["identity_status"], "PROV");
    let events = app
        .get(
            &format!("/api/v1/residents/{}/identity-events", created.json["id"].as_str().unwrap()),
            &tenant.admin.token,
        )
        .await;
    assert_eq!(events.json[0]["insi_lookup"], false, "{}", events.text);
    assert_eq!(created.json["ins"]["matricule"], "255081416802538");
    assert_eq!(created.json["identity"]["first_first_name"], "Marie");
    // The typed form is kept for display; the strict traits take the national form.
    assert_eq!(created.json["identity"]["birth_name"], "Lefèvre-d'Aubigné");
    assert_eq!(created.json["strict_traits"]["birth_name"], "LEFEVRE-D'AUBIGNE");
    assert_eq!(created.json["strict_traits"]["first_names"], "MARIE LOUISE");
    let id = created.json["id"].as_str().unwrap().to_owned();

    let nurse = nurse(&app, &tenant).await;
    let read = app.get(&format!("/api/v1/residents/{id}"), &nurse.token).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["identity"]["birth_name"], "Lefèvre-d'Aubigné");

    // Search: INS with or without spaces; birth name in any spelling that normalises alike.
    for body in [
        json!({"ins": "255081416802538"}),
        json!({"ins": "2 55 08 14 168 025 38"}),
        json!({"birth_name": "LEFEVRE D AUBIGNE", "birth_date": "1955-08-03"}),
        json!({"birth_name": "lefevre-d'aubigne", "birth_date": "1955-08-03"}),
    ] {
        let found = app.post("/api/v1/residents/search", &nurse.token, body.clone()).await;
        assert_eq!(found.status, 200, "{}", found.text);
        assert_eq!(found.json.as_array().unwrap().len(), 1, "{body}");
        assert_eq!(found.json[0]["id"], id.as_str());
    }
    for body in [json!({"ins": "279035121518989"}), json!({"birth_name": "Lefèvre", "birth_date": "1955-08-03"})] {
        let found = app.post("/api/v1/residents/search", &nurse.token, body).await;
        assert_eq!(found.json, json!([]));
    }
    for bad in
        [json!({}), json!({"ins": "1", "birth_name": "X", "birth_date": "1936-04-02"}), json!({"birth_name": "X"})]
    {
        app.post("/api/v1/residents/search", &nurse.token, bad).await.problem(422);
    }
    // What no record can hold is refused, naming the field, not searched for.
    for (bad, field) in [
        (json!({"birth_name": "L".repeat(101), "birth_date": "1955-08-03"}), "birth_name"),
        (json!({"birth_name": "x".repeat(200_000), "birth_date": "1955-08-03"}), "birth_name"),
        (json!({"ins": "2".repeat(31)}), "ins"),
    ] {
        let refused = app.post("/api/v1/residents/search", &nurse.token, bad).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], field, "{}", refused.text);
    }

    let listed =
        app.get(&format!("/api/v1/residents?establishment_id={}", tenant.establishments[0].id), &nurse.token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    let elsewhere =
        app.get(&format!("/api/v1/residents?establishment_id={}", tenant.establishments[1].id), &nurse.token).await;
    assert_eq!(elsewhere.json["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn duplicates_are_refused_with_the_existing_record() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ins = json!({"matricule": dui_testkit::nir(true, "1941-07-14", 7), "oid": "1.2.250.1.213.1.4.10"});
    let first = admit(&app, &tenant, json!({"identity": identity("Durand", "Jeanne", "1941-07-14"), "ins": ins})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let first_id = first.json["id"].clone();

    // The same INS, even under another name: refused, and confirm_homonym does not help.
    let same_ins = admit(
        &app,
        &tenant,
        json!({"identity": identity("Martin", "Paule", "1941-07-02"), "ins": ins, "confirm_homonym": true}),
    )
    .await;
    let problem = same_ins.problem(409);
    assert_eq!(problem["duplicates"], json!([first_id]));
    assert!(problem["detail"].as_str().unwrap().contains("INS"));

    // The same birth name (spelt differently) and birth date: refused unless confirmed.
    let homonym = admit(&app, &tenant, json!({"identity": identity("DURAND", "Jeanne Marie", "1941-07-14")})).await;
    assert_eq!(homonym.problem(409)["duplicates"], json!([first_id]));
    let confirmed = admit(
        &app,
        &tenant,
        json!({"identity": identity("DURAND", "Jeanne Marie", "1941-07-14"), "confirm_homonym": true}),
    )
    .await;
    assert_eq!(confirmed.status, 201, "{}", confirmed.text);
    // A different birth date is another person.
    let other = admit(&app, &tenant, json!({"identity": identity("Durand", "Jeanne", "1941-07-15")})).await;
    assert_eq!(other.status, 201);
}

#[tokio::test]
async fn bad_identities_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let response = admit(
        &app,
        &tenant,
        json!({"identity": {"birth_name": " ", "first_names": "Jeanne", "sex": "female", "birth_date": "2999-01-01",
                            "birth_place": "750"},
               "ins": {"matricule": "255081416802539", "oid": "1.2.250.1.213.1.4.8"}}),
    )
    .await;
    let problem = response.problem(422);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["identity/birth_name", "identity/birth_place", "identity/birth_date", "ins/matricule"]);
    let ins_error = &problem["errors"][3]["message"];
    assert!(ins_error.as_str().unwrap().contains("key"), "{ins_error}");
    // The expected key is not told (it would help forge a matricule).
    assert!(!ins_error.as_str().unwrap().contains("38"), "{ins_error}");

    // Names hold letters, spaces, hyphens and apostrophes only: no emoji, no invisible or
    // direction-changing character, no markup, no digit.
    for bad in ["Durand\u{1F600}", "Dur\u{202E}and", "Du\u{200B}rand", "<script>alert(1)</script>", "Durand2"] {
        let refused = admit(&app, &tenant, json!({"identity": identity(bad, "Jeanne", "1941-07-14")})).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], "identity/birth_name", "{bad:?}");
        let refused = admit(&app, &tenant, json!({"identity": identity("Durand", bad, "1941-07-14")})).await;
        assert_eq!(refused.problem(422)["errors"][0]["field"], "identity/first_names", "{bad:?}");
    }
    // Stored composed (NFC): a decomposed accent reads back composed.
    let composed = admit(&app, &tenant, json!({"identity": identity("Le\u{0301}onard", "Jeanne", "1941-07-14")})).await;
    assert_eq!(composed.json["identity"]["birth_name"], "Léonard", "{}", composed.text);

    // A matricule that does not agree with the traits it encodes: a woman born in 1930 with a
    // NIR of a man born in February 1940.
    let body = {
        let mut identity = identity("Durand", "Jeanne", "1930-02-11");
        identity["sex"] = json!("female");
        identity
    };
    let number: u64 = "1400275118012".parse().unwrap();
    let nir = format!("1400275118012{:02}", 97 - number % 97);
    let refused =
        admit(&app, &tenant, json!({"identity": body, "ins": {"matricule": nir, "oid": "1.2.250.1.213.1.4.8"}})).await;
    let problem = refused.problem(422);
    assert_eq!(problem["errors"][0]["field"], "ins/matricule");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("the sex") && message.contains("the year of birth"), "{message}");
    // Unknown sexes, OIDs and fields are shape errors.
    for identity_patch in [json!({"sex": "other"}), json!({"nickname": "Jeannette"})] {
        let mut body = identity("Durand", "Jeanne", "1941-07-14");
        for (k, v) in identity_patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        admit(&app, &tenant, json!({"identity": body})).await.problem(422);
    }
    admit(&app, &tenant, json!({"identity": identity("Durand", "Jeanne", "1941-07-14"), "ins": {"matricule": "255081416802538", "oid": "1.2.3"}}))
        .await
        .problem(422);
}

#[tokio::test]
async fn who_may_admit_read_and_write_notes() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let created = admit(&app, &tenant, json!({"identity": identity("Petit", "Louise", "1933-03-03")})).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let nurse = nurse(&app, &tenant).await;
    let helper = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;

    // A home helper of another service sees nothing of this resident.
    app.get(&format!("/api/v1/residents/{id}"), &helper.token).await.problem(404);
    app.post(&format!("/api/v1/residents/{id}/notes"), &helper.token, json!({"text": "x"})).await.problem(404);
    // A care assistant reads and writes notes, but does not admit.
    let note =
        app.post(&format!("/api/v1/residents/{id}/notes"), &assistant.token, json!({"text": "A bien mangé."})).await;
    assert_eq!(note.status, 201, "{}", note.text);
    let refused = app
        .post(
            "/api/v1/residents",
            &assistant.token,
            json!({"establishment_id": ehpad, "identity": identity("X", "Y", "1930-01-01")}),
        )
        .await;
    refused.problem(403);
    // A nurse admits; nobody admits into an establishment they do not belong to.
    let admitted = app
        .post(
            "/api/v1/residents",
            &nurse.token,
            json!({"establishment_id": ehpad, "identity": identity("Roux", "Ida", "1929-02-02")}),
        )
        .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    app.post(
        "/api/v1/residents",
        &nurse.token,
        json!({"establishment_id": saad, "identity": identity("Roux", "Ida", "1929-02-02")}),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn notes_are_listed_newest_first_and_validated() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let created = admit(&app, &tenant, json!({"identity": identity("Petit", "Louise", "1933-03-03")})).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let nurse = nurse(&app, &tenant).await;
    for i in 0..5 {
        let note = app
            .post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": format!("Transmission {i}")}))
            .await;
        assert_eq!(note.status, 201, "{}", note.text);
        assert_eq!(note.json["author_id"], nurse.id.to_string());
    }
    let first = app.get(&format!("/api/v1/residents/{id}/notes?limit=3"), &nurse.token).await;
    let texts: Vec<&str> =
        first.json["items"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Transmission 4", "Transmission 3", "Transmission 2"]);
    let cursor = first.json["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/api/v1/residents/{id}/notes?limit=3&cursor={cursor}"), &nurse.token).await;
    let texts: Vec<&str> =
        second.json["items"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Transmission 1", "Transmission 0"]);

    app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": "   "})).await.problem(422);
    app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": "x".repeat(20_001)}))
        .await
        .problem(422);
    app.post(
        &format!("/api/v1/residents/{id}/notes"),
        &nurse.token,
        json!({"text": "plus tard", "facts_at": "2999-01-01T00:00:00Z"}),
    )
    .await
    .problem(422);
    let past = app
        .post(
            &format!("/api/v1/residents/{id}/notes"),
            &nurse.token,
            json!({"text": "cette nuit", "facts_at": "2026-11-30T03:00:00Z"}),
        )
        .await;
    assert_eq!(past.json["facts_at"], "2026-11-30T03:00:00Z");
}

/// A common identity: the duplicate check reads at most fifty homonyms, however many there are,
/// and a confirmed homonym is still filed.
#[tokio::test]
async fn the_duplicate_check_stops_at_fifty_homonyms() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    for _ in 0..52 {
        let created = admit(
            &app,
            &tenant,
            json!({"identity": identity("Commun", "Marie", "1935-06-07"), "confirm_homonym": true}),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let refused = admit(&app, &tenant, json!({"identity": identity("Commun", "Marie", "1935-06-07")})).await;
    let duplicates = refused.problem(409)["duplicates"].as_array().unwrap().len();
    assert_eq!(duplicates, 50);
    let confirmed =
        admit(&app, &tenant, json!({"identity": identity("Commun", "Marie", "1935-06-07"), "confirm_homonym": true}))
            .await;
    assert_eq!(confirmed.status, 201, "{}", confirmed.text);
}
