//! Tenant isolation over HTTP: tenant B's administrator, the most privileged user of B, tries
//! every tenant endpoint on tenant A's ids and must get 404 — indistinguishable from absence —
//! and A's data must be untouched. A route added without a line here fails the coverage check.

use std::collections::BTreeSet;

use dui_domain::people::Role;
use dui_domain::{EstablishmentId, OutboxMessageId, UnitId, UserId};
use dui_testkit::{FakeIdp, TestApp, TestTenant, TestUser};
use reqwest::Method;
use serde_json::{Value, json};

struct Attempt {
    method: Method,
    /// The route template, as in the OpenAPI document.
    route: &'static str,
    path: String,
    body: Option<Value>,
}

fn attempt(method: Method, route: &'static str, path: String, body: Option<Value>) -> Attempt {
    Attempt { method, route, path, body }
}

/// Tenant routes that take no id: they are checked by listing instead.
const LIST_ROUTES: [(&str, &str); 16] = [
    // The drug referential is national public data, the same for every tenant, with no tenant
    // data behind it (drugs::the_referential_is_the_same_for_every_tenant).
    ("get", "/api/v1/drugs"),
    ("get", "/api/v1/drugs/{cis}"),
    // Each tenant's own settings (assessments::the_roles_that_validate_the_gir_are_a_setting_of_the_tenant).
    ("get", "/api/v1/settings"),
    ("patch", "/api/v1/settings"),
    ("get", "/api/v1/identity-vigilance"),
    ("get", "/api/v1/emergency-accesses"),
    ("get", "/api/v1/outbox"),
    ("get", "/api/v1/audit/export"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/establishments"),
    ("post", "/api/v1/establishments"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/residents"),
    ("post", "/api/v1/residents"),
    ("post", "/api/v1/residents/search"),
];

/// One of each of tenant A's things an id designates, and the nurse who wrote them.
struct Targets {
    a_nurse: TestUser,
    a_est: EstablishmentId,
    a_unit: UnitId,
    a_user: UserId,
    a_membership: String,
    a_provider: String,
    a_resident: String,
    a_note: String,
    a_assessment: String,
    a_plan: String,
    a_measurement: String,
    a_absence: String,
    a_appointment: String,
    a_restraint: String,
    a_allergy: String,
    a_alert: String,
    a_fall: String,
    a_problem: String,
    a_vaccination: String,
    a_physician: String,
    a_document: String,
    a_prescription: String,
    a_prescription_version: String,
    a_administration: String,
    a_wound: String,
    a_watch: String,
    some_record: uuid::Uuid,
    a_contact: String,
    a_consent: String,
    a_stay: String,
    a_emergency: String,
    a_message: OutboxMessageId,
}

/// What the intruder has of his own: an establishment where he works, himself, and a record
/// he reaches (for the attempts that mix his ids with the target's).
struct Own {
    b_est: EstablishmentId,
    b_user: UserId,
    b_resident: String,
}

/// Tenant A's things, in its first establishment: a nurse, a record with a note, an
/// assessment, a plan, a measurement, a contact, a consent and its stay, an emergency opening by
/// a nurse of A's other establishment, a provider and a linked identity, a message about to
/// leave.
async fn seed(app: &TestApp, a: &TestTenant, idp: &FakeIdp) -> Targets {
    let a_nurse = app.user(a, &[(Some(a.establishments[0].id), Role::Nurse)]).await;
    let memberships = app.get(&format!("/api/v1/users/{}/memberships", a_nurse.id), &a.admin.token).await;
    let a_membership = memberships.json[0]["id"].as_str().unwrap().to_owned();
    let (_, operator) = app.operator().await;
    let provider = app
        .post(
            &format!("/platform/v1/tenants/{}/identity-providers", a.id),
            &operator,
            json!({"label": "IdP A", "issuer": idp.issuer, "audience": "a", "jwks_url": idp.jwks_url}),
        )
        .await;
    let a_provider = provider.json["id"].as_str().unwrap().to_owned();
    let linked = app
        .put(
            &format!("/api/v1/users/{}/external-identities/{a_provider}", a_nurse.id),
            &a.admin.token,
            json!({"subject": "s-a"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);

    let a_resident = app
        .post(
            "/api/v1/residents",
            &a.admin.token,
            json!({"establishment_id": a.establishments[0].id, "identity": {"birth_name": "Isolée", "first_names": "Anne",
                   "sex": "female", "birth_date": "1930-01-01"}, "ins": {"matricule": dui_testkit::nir(true, "1930-01-01", 1), "oid": "1.2.250.1.213.1.4.10"}}),
        )
        .await;
    assert_eq!(a_resident.status, 201, "{}", a_resident.text);
    let a_resident = a_resident.json["id"].as_str().unwrap().to_owned();
    let a_note =
        app.post(&format!("/api/v1/residents/{a_resident}/notes"), &a.admin.token, json!({"text": "Note A"})).await;
    // The tenant admin is not a carer: the note is written by a nurse of A.
    assert_eq!(a_note.status, 403);
    let a_note =
        app.post(&format!("/api/v1/residents/{a_resident}/notes"), &a_nurse.token, json!({"text": "Note de A"})).await;
    assert_eq!(a_note.status, 201, "{}", a_note.text);
    let a_note = a_note.json["id"].as_str().unwrap().to_owned();
    let a_assessment = app
        .post(
            &format!("/api/v1/residents/{a_resident}/assessments"),
            &a_nurse.token,
            json!({"instrument": "algoplus", "assessed_on": "2026-11-02",
                   "answers": {"visage": "no", "regard": "no", "plaintes": "no", "corps": "no", "comportements": "no"}}),
        )
        .await;
    assert_eq!(a_assessment.status, 201, "{}", a_assessment.text);
    let a_assessment = a_assessment.json["id"].as_str().unwrap().to_owned();
    let a_plan = app
        .post(
            &format!("/api/v1/residents/{a_resident}/care-plan"),
            &a_nurse.token,
            json!({"content": {"expectations": "Rester chez elle"}}),
        )
        .await;
    assert_eq!(a_plan.status, 201, "{}", a_plan.text);
    let a_plan = a_plan.json["id"].as_str().unwrap().to_owned();
    let a_measurement = app
        .post(
            &format!("/api/v1/residents/{a_resident}/measurements"),
            &a_nurse.token,
            json!({"kind": "pulse", "value": 72}),
        )
        .await;
    assert_eq!(a_measurement.status, 201, "{}", a_measurement.text);
    let a_measurement = a_measurement.json["id"].as_str().unwrap().to_owned();
    // An absence, an appointment and a restraint (an outside physician's prescription, which
    // the nurse records).
    let a_absence = app
        .post(
            &format!("/api/v1/residents/{a_resident}/absences"),
            &a_nurse.token,
            json!({"kind": "family_stay", "starts_at": chrono::Utc::now() + chrono::Duration::days(40),
                   "reason": "Séjour chez sa sœur"}),
        )
        .await;
    assert_eq!(a_absence.status, 201, "{}", a_absence.text);
    let a_absence = a_absence.json["id"].as_str().unwrap().to_owned();
    let a_appointment = app
        .post(
            &format!("/api/v1/residents/{a_resident}/appointments"),
            &a_nurse.token,
            json!({"starts_at": chrono::Utc::now() + chrono::Duration::days(30), "with_whom": "Dr Cœur"}),
        )
        .await;
    assert_eq!(a_appointment.status, 201, "{}", a_appointment.text);
    let a_appointment = a_appointment.json["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let a_restraint = app
        .post(
            &format!("/api/v1/residents/{a_resident}/restraints"),
            &a_nurse.token,
            json!({"kind": "bed_rails", "planned_end_at": now + chrono::Duration::days(2), "reason": "Chutes nocturnes",
                   "conditions": {"when": "La nuit"},
                   "external_prescriber": {"name": "Dr Martin", "rpps": "10003456789"}}),
        )
        .await;
    assert_eq!(a_restraint.status, 201, "{}", a_restraint.text);
    let a_restraint = a_restraint.json["id"].as_str().unwrap().to_owned();
    let created = |kind: &'static str, body: Value| {
        let (app, token, resident) = (app, a_nurse.token.clone(), a_resident.clone());
        async move {
            let created = app.post(&format!("/api/v1/residents/{resident}/{kind}"), &token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            created.json["id"].as_str().unwrap().to_owned()
        }
    };
    let a_allergy = created(
        "allergies",
        json!({"kind": "allergy", "substance": "Pénicilline", "severity": "severe", "source": "medical_record"}),
    )
    .await;
    let a_alert = created("alerts", json!({"kind": "swallowing_disorder"})).await;
    let a_fall = created(
        "falls",
        json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "room", "discovery": "found_on_floor",
               "circumstances": "Retrouvée au sol", "consequences": ["none"]}),
    )
    .await;
    let a_problem =
        created("medical/problems", json!({"kind": "active_problem", "text": "Hypertension", "cim10": "I10"})).await;
    let a_vaccination =
        created("medical/vaccinations", json!({"vaccine": "Vaxigrip Tetra", "given_on": "2026-10-20"})).await;
    let a_physician = created("medical/physicians", json!({"role": "attending", "name": "Dr Claire Martin"})).await;
    let a_document = crate::documents::upload(
        app,
        &a_nurse.token,
        &format!("/api/v1/residents/{a_resident}"),
        "kind=advance_directives&title=Directives",
        "application/pdf",
        crate::documents::tiny_pdf(),
        &[],
    )
    .await;
    assert_eq!(a_document.status, 201, "{}", a_document.text);
    let a_document = a_document.json["id"].as_str().unwrap().to_owned();
    // A prescription, of a drug of the referential.
    crate::drugs::import_fixture(app).await;
    let a_prescription = app
        .post(
            &format!("/api/v1/residents/{a_resident}/prescriptions"),
            &a_nurse.token,
            json!({"prescriber": {"name": "Dr Claire Martin"}, "prescribed_on": "2026-11-30", "source": "paper",
                   "lines": [{"cis": "60234100", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                              "schedule": {"kind": "moments", "moments": [{"moment": "morning"}]}},
                             {"cis": "69000009", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                              "schedule": {"kind": "if_needed", "max_per_day": 3, "condition": "si douleurs"}}]}),
        )
        .await;
    assert_eq!(a_prescription.status, 201, "{}", a_prescription.text);
    let a_prescription_version = a_prescription.json["id"].as_str().unwrap().to_owned();
    let a_prescription = a_prescription.json["prescription_id"].as_str().unwrap().to_owned();
    // A dose of it, given if needed.
    let a_administration = app
        .post(
            &format!("/api/v1/residents/{a_resident}/administrations"),
            &a_nurse.token,
            json!({"prescription_version_id": a_prescription_version, "line": 2, "outcome": "given"}),
        )
        .await;
    assert_eq!(a_administration.status, 201, "{}", a_administration.text);
    let a_administration = a_administration.json["id"].as_str().unwrap().to_owned();
    // A wound and a food and fluid watch.
    let a_wound = app
        .post(
            &format!("/api/v1/residents/{a_resident}/wounds"),
            &a_nurse.token,
            json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired", "stage": "stage_2"}),
        )
        .await;
    assert_eq!(a_wound.status, 201, "{}", a_wound.text);
    let a_wound = a_wound.json["id"].as_str().unwrap().to_owned();
    let a_watch = app
        .post(
            &format!("/api/v1/residents/{a_resident}/nutrition-watches"),
            &a_nurse.token,
            json!({"covers": "both", "reason": "Perte de poids"}),
        )
        .await;
    assert_eq!(a_watch.status, 201, "{}", a_watch.text);
    let a_watch = a_watch.json["id"].as_str().unwrap().to_owned();
    // A has no task record yet; the amendment is tried on A's record with a made-up id.
    let some_record = uuid::Uuid::now_v7();

    // A's record gets a contact, a consent, and an emergency opening by a nurse of A's other
    // establishment.
    let a_contact = app
        .post(
            &format!("/api/v1/residents/{a_resident}/contacts"),
            &a.admin.token,
            json!({"kind": "relative", "details": {"family_name": "Isolée", "given_name": "Marc", "relationship": "fils"}}),
        )
        .await;
    assert_eq!(a_contact.status, 201, "{}", a_contact.text);
    let a_contact = a_contact.json["id"].as_str().unwrap().to_owned();
    let a_consent = app
        .post(
            &format!("/api/v1/residents/{a_resident}/consents"),
            &a.admin.token,
            json!({"kind": "image_rights", "decision": "granted", "expressed_by": "person"}),
        )
        .await;
    assert_eq!(a_consent.status, 201, "{}", a_consent.text);
    let a_consent = a_consent.json["id"].as_str().unwrap().to_owned();
    let a_stay = app.get(&format!("/api/v1/residents/{a_resident}/stays"), &a.admin.token).await;
    let a_stay = a_stay.json[0]["id"].as_str().unwrap().to_owned();
    let a_other_nurse = app.user(a, &[(Some(a.establishments[1].id), Role::Nurse)]).await;
    let a_emergency = app
        .post(
            &format!("/api/v1/residents/{a_resident}/emergency-access"),
            &a_other_nurse.token,
            json!({"reason": "Remplacement de nuit, chute signalée"}),
        )
        .await;
    assert_eq!(a_emergency.status, 201, "{}", a_emergency.text);
    let a_emergency = a_emergency.json["id"].as_str().unwrap().to_owned();
    // A message of A about to leave, about A's resident.
    let a_message =
        crate::outbox::enqueue(app, a.id, crate::outbox::message(Some(a_resident.parse().unwrap()), "isolation"))
            .await
            .id;
    Targets {
        a_est: a.establishments[0].id,
        a_unit: a.units[0].id,
        a_user: a_nurse.id,
        a_nurse,
        a_membership,
        a_provider,
        a_resident,
        a_note,
        a_assessment,
        a_plan,
        a_measurement,
        a_absence,
        a_appointment,
        a_restraint,
        a_allergy,
        a_alert,
        a_fall,
        a_problem,
        a_vaccination,
        a_physician,
        a_document,
        a_prescription,
        a_prescription_version,
        a_administration,
        a_wound,
        a_watch,
        some_record,
        a_contact,
        a_consent,
        a_stay,
        a_emergency,
        a_message,
    }
}

/// Every tenant route taking an id, tried on the targets' ids (and some with the intruder's
/// own ids mixed in).
fn attempts(targets: &Targets, own: &Own) -> Vec<Attempt> {
    let Targets {
        a_est,
        a_unit,
        a_user,
        a_membership,
        a_provider,
        a_resident,
        a_note,
        a_assessment,
        a_plan,
        a_measurement,
        a_absence,
        a_appointment,
        a_restraint,
        a_allergy,
        a_alert,
        a_fall,
        a_problem,
        a_vaccination,
        a_physician,
        a_document,
        a_prescription,
        a_prescription_version,
        a_administration,
        a_wound,
        a_watch,
        some_record,
        a_contact,
        a_consent,
        a_stay,
        a_emergency,
        a_message,
        ..
    } = targets;
    let Own { b_est, b_user, b_resident } = own;
    // Valid times: a body is checked before the record is looked for.
    let soon = chrono::Utc::now() + chrono::Duration::days(3);
    vec![
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}",
            format!("/api/v1/establishments/{a_est}"),
            None,
        ),
        attempt(
            Method::PATCH,
            "/api/v1/establishments/{establishment_id}",
            format!("/api/v1/establishments/{a_est}"),
            Some(json!({"name": "hijacked"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/units",
            format!("/api/v1/establishments/{a_est}/units"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/establishments/{establishment_id}/units",
            format!("/api/v1/establishments/{a_est}/units"),
            Some(json!({"name": "intruder"})),
        ),
        attempt(Method::GET, "/api/v1/units/{unit_id}", format!("/api/v1/units/{a_unit}"), None),
        attempt(
            Method::PATCH,
            "/api/v1/units/{unit_id}",
            format!("/api/v1/units/{a_unit}"),
            Some(json!({"name": "hijacked"})),
        ),
        attempt(Method::GET, "/api/v1/users/{user_id}", format!("/api/v1/users/{a_user}"), None),
        attempt(
            Method::PATCH,
            "/api/v1/users/{user_id}",
            format!("/api/v1/users/{a_user}"),
            Some(json!({"status": "disabled"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/users/{user_id}/memberships",
            format!("/api/v1/users/{a_user}/memberships"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/users/{user_id}/memberships",
            format!("/api/v1/users/{a_user}/memberships"),
            Some(json!({"establishment_id": b_est, "role": "director"})),
        ),
        // B's own user, given a role in A's establishment.
        attempt(
            Method::POST,
            "/api/v1/users/{user_id}/memberships",
            format!("/api/v1/users/{b_user}/memberships"),
            Some(json!({"establishment_id": a_est, "role": "nurse"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/memberships/{membership_id}/end",
            format!("/api/v1/memberships/{a_membership}/end"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/users/{user_id}/external-identities",
            format!("/api/v1/users/{a_user}/external-identities"),
            None,
        ),
        attempt(
            Method::PUT,
            "/api/v1/users/{user_id}/external-identities/{provider_id}",
            format!("/api/v1/users/{a_user}/external-identities/{a_provider}"),
            Some(json!({"subject": "s-b"})),
        ),
        // B's own user, linked through A's provider.
        attempt(
            Method::PUT,
            "/api/v1/users/{user_id}/external-identities/{provider_id}",
            format!("/api/v1/users/{b_user}/external-identities/{a_provider}"),
            Some(json!({"subject": "s-b"})),
        ),
        attempt(
            Method::DELETE,
            "/api/v1/users/{user_id}/external-identities/{provider_id}",
            format!("/api/v1/users/{a_user}/external-identities/{a_provider}"),
            None,
        ),
        attempt(Method::GET, "/api/v1/residents/{resident_id}", format!("/api/v1/residents/{a_resident}"), None),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/notes",
            format!("/api/v1/residents/{a_resident}/notes"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/notes",
            format!("/api/v1/residents/{a_resident}/notes"),
            Some(json!({"text": "intrusion"})),
        ),
        attempt(
            Method::PATCH,
            "/api/v1/residents/{resident_id}",
            format!("/api/v1/residents/{a_resident}"),
            Some(json!({"identity": {"birth_name": "Volée", "first_names": "Anne", "sex": "female",
                        "birth_date": "1930-01-01"}})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/identity-events",
            format!("/api/v1/residents/{a_resident}/identity-events"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/identity-status",
            format!("/api/v1/residents/{a_resident}/identity-status"),
            Some(json!({"to_status": "PROV", "reason": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/ins/retrieve",
            format!("/api/v1/residents/{a_resident}/ins/retrieve"),
            Some(json!({})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/ins/confirm",
            format!("/api/v1/residents/{a_resident}/ins/confirm"),
            Some(json!({"call_id": uuid::Uuid::now_v7()})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/ins/calls",
            format!("/api/v1/residents/{a_resident}/ins/calls"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/ins/verify",
            format!("/api/v1/residents/{a_resident}/ins/verify"),
            Some(json!({})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/stays",
            format!("/api/v1/residents/{a_resident}/stays"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/stays",
            format!("/api/v1/residents/{a_resident}/stays"),
            Some(json!({"establishment_id": b_est, "mode": "temporary", "admitted_on": "2026-01-01"})),
        ),
        // B's own record, moved into A's establishment.
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/stays",
            format!("/api/v1/residents/{b_resident}/stays"),
            Some(json!({"establishment_id": a_est, "mode": "temporary", "admitted_on": "2026-01-01"})),
        ),
        attempt(
            Method::PATCH,
            "/api/v1/residents/{resident_id}/stays/{stay_id}",
            format!("/api/v1/residents/{a_resident}/stays/{a_stay}"),
            Some(json!({"discharged_on": "2026-12-01", "discharge_mode": "death"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/assignments",
            format!("/api/v1/residents/{a_resident}/assignments"),
            Some(json!({"user_id": b_user})),
        ),
        // B's own record, given A's nurse.
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/assignments",
            format!("/api/v1/residents/{b_resident}/assignments"),
            Some(json!({"user_id": a_user})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/contacts",
            format!("/api/v1/residents/{a_resident}/contacts"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/contacts",
            format!("/api/v1/residents/{a_resident}/contacts"),
            Some(json!({"kind": "relative", "details": {"family_name": "Intrus"}})),
        ),
        attempt(
            Method::PATCH,
            "/api/v1/residents/{resident_id}/contacts/{contact_id}",
            format!("/api/v1/residents/{a_resident}/contacts/{a_contact}"),
            Some(json!({"ended": true})),
        ),
        // A's contact, reached through B's own record.
        attempt(
            Method::PATCH,
            "/api/v1/residents/{resident_id}/contacts/{contact_id}",
            format!("/api/v1/residents/{b_resident}/contacts/{a_contact}"),
            Some(json!({"ended": true})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/consents",
            format!("/api/v1/residents/{a_resident}/consents"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/consents",
            format!("/api/v1/residents/{a_resident}/consents"),
            Some(json!({"kind": "dmp_feeding", "decision": "refused", "expressed_by": "person"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/consents/{consent_id}/revoke",
            format!("/api/v1/residents/{a_resident}/consents/{a_consent}/revoke"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/consents/{consent_id}/revoke",
            format!("/api/v1/residents/{b_resident}/consents/{a_consent}/revoke"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/emergency-access",
            format!("/api/v1/residents/{a_resident}/emergency-access"),
            Some(json!({"reason": "Je veux voir ce dossier"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/emergency-accesses/{emergency_access_id}/review",
            format!("/api/v1/emergency-accesses/{a_emergency}/review"),
            Some(json!({"outcome": "unjustified", "comment": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/duplicates",
            format!("/api/v1/residents/{a_resident}/duplicates"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/merge",
            format!("/api/v1/residents/{a_resident}/merge"),
            Some(json!({"duplicate_id": b_resident, "reason": "Même personne, doublon créé à l'admission"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/unmerge",
            format!("/api/v1/residents/{a_resident}/unmerge"),
            Some(json!({"duplicate_id": b_resident, "reason": "Erreur de fusion"})),
        ),
        // A's record, swallowed by B's.
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/merge",
            format!("/api/v1/residents/{b_resident}/merge"),
            Some(json!({"duplicate_id": a_resident, "reason": "Même personne, doublon créé à l'admission"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/access-report",
            format!("/api/v1/residents/{a_resident}/access-report"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/export",
            format!("/api/v1/residents/{a_resident}/export"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/notes/{note_id}/amendments",
            format!("/api/v1/residents/{a_resident}/notes/{a_note}/amendments"),
            Some(json!({"text": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/notes/{note_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/notes/{a_note}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/handover",
            format!("/api/v1/establishments/{a_est}/handover"),
            None,
        ),
        attempt(
            Method::PUT,
            "/api/v1/establishments/{establishment_id}/handover/read-marker",
            format!("/api/v1/establishments/{a_est}/handover/read-marker"),
            Some(json!({"up_to": a_note})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/assessments",
            format!("/api/v1/residents/{a_resident}/assessments"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/assessments",
            format!("/api/v1/residents/{a_resident}/assessments"),
            Some(json!({"instrument": "aggir", "assessed_on": "2026-11-02", "answers": {"variables": {
                "coherence": "A", "orientation": "A", "toilette": "A", "habillage": "A", "alimentation": "A",
                "elimination": "A", "transferts": "A", "deplacement_interieur": "A", "deplacement_exterieur": "A",
                "alerter": "A"}}})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/assessments/{assessment_id}",
            format!("/api/v1/residents/{a_resident}/assessments/{a_assessment}"),
            None,
        ),
        attempt(
            Method::PUT,
            "/api/v1/residents/{resident_id}/assessments/{assessment_id}",
            format!("/api/v1/residents/{a_resident}/assessments/{a_assessment}"),
            Some(json!({"assessed_on": "2026-11-02", "answers": {"visage": "yes", "regard": "no", "plaintes": "no",
                        "corps": "no", "comportements": "no"}})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/assessments/{assessment_id}/validate",
            format!("/api/v1/residents/{a_resident}/assessments/{a_assessment}/validate"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/gir-history",
            format!("/api/v1/residents/{a_resident}/gir-history"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/care-plan",
            format!("/api/v1/residents/{a_resident}/care-plan"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/care-plan",
            format!("/api/v1/residents/{a_resident}/care-plan"),
            Some(json!({"content": {"expectations": "intrusion"}})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/care-plan/versions/{version_id}",
            format!("/api/v1/residents/{a_resident}/care-plan/versions/{a_plan}"),
            None,
        ),
        attempt(
            Method::PUT,
            "/api/v1/residents/{resident_id}/care-plan/versions/{version_id}",
            format!("/api/v1/residents/{a_resident}/care-plan/versions/{a_plan}"),
            Some(json!({"content": {"expectations": "intrusion"}})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/care-plan/versions/{version_id}/activate",
            format!("/api/v1/residents/{a_resident}/care-plan/versions/{a_plan}/activate"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/care-plan/versions/{version_id}/validation",
            format!("/api/v1/residents/{a_resident}/care-plan/versions/{a_plan}/validation"),
            Some(json!({"by": "person", "name": "Intrus", "on": "2026-11-02", "method": "oral"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/care-plan/versions/{version_id}/close",
            format!("/api/v1/residents/{a_resident}/care-plan/versions/{a_plan}/close"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/care-plan/reviews",
            format!("/api/v1/residents/{a_resident}/care-plan/reviews"),
            Some(
                json!({"version_id": a_plan, "review": {"date": "2026-11-02", "participants": ["x"], "outcomes": []}}),
            ),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/care-plans/due",
            format!("/api/v1/establishments/{a_est}/care-plans/due"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/measurements",
            format!("/api/v1/residents/{a_resident}/measurements"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/measurements",
            format!("/api/v1/residents/{a_resident}/measurements"),
            Some(json!({"kind": "pulse", "value": 70})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/measurements/{measurement_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/measurements/{a_measurement}/entered-in-error"),
            Some(json!({"reason": "Mesure d'un autre résident"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/nutrition-status",
            format!("/api/v1/residents/{a_resident}/nutrition-status"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/absences",
            format!("/api/v1/residents/{a_resident}/absences"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/absences",
            format!("/api/v1/residents/{a_resident}/absences"),
            Some(json!({"kind": "hospitalisation"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/absences/{absence_id}/return",
            format!("/api/v1/residents/{a_resident}/absences/{a_absence}/return"),
            Some(json!({})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/absences/{absence_id}/cancel",
            format!("/api/v1/residents/{a_resident}/absences/{a_absence}/cancel"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/appointments",
            format!("/api/v1/residents/{a_resident}/appointments"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/appointments",
            format!("/api/v1/residents/{a_resident}/appointments"),
            Some(json!({"starts_at": soon, "with_whom": "Intrus"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/appointments/{appointment_id}/done",
            format!("/api/v1/residents/{a_resident}/appointments/{a_appointment}/done"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/appointments/{appointment_id}/cancel",
            format!("/api/v1/residents/{a_resident}/appointments/{a_appointment}/cancel"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/away",
            format!("/api/v1/establishments/{a_est}/away"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/restraints",
            format!("/api/v1/residents/{a_resident}/restraints"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/restraints",
            format!("/api/v1/residents/{a_resident}/restraints"),
            Some(
                json!({"kind": "wrist", "planned_end_at": soon, "reason": "intrusion", "conditions": {"when": "toujours"}}),
            ),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/restraints/{restraint_id}/reassessments",
            format!("/api/v1/residents/{a_resident}/restraints/{a_restraint}/reassessments"),
            Some(json!({"outcome": "stop", "skin": "intact", "agitation": "calm", "consent": "refuses",
                        "comment": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/restraints/{restraint_id}/stop",
            format!("/api/v1/residents/{a_resident}/restraints/{a_restraint}/stop"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/restraints/overdue",
            format!("/api/v1/establishments/{a_est}/restraints/overdue"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/drugs/{cis}/allergy-check",
            format!("/api/v1/residents/{a_resident}/drugs/60234100/allergy-check"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/alerts",
            format!("/api/v1/residents/{a_resident}/alerts?status=all"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/alerts",
            format!("/api/v1/residents/{a_resident}/alerts"),
            Some(json!({"kind": "fall_risk"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/alerts/{alert_id}/end",
            format!("/api/v1/residents/{a_resident}/alerts/{a_alert}/end"),
            Some(json!({})),
        ),
        // A's alert, reached through B's own record.
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/alerts/{alert_id}/end",
            format!("/api/v1/residents/{b_resident}/alerts/{a_alert}/end"),
            Some(json!({})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/alerts/{alert_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/alerts/{a_alert}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/allergies",
            format!("/api/v1/residents/{a_resident}/allergies"),
            Some(json!({"kind": "allergy", "substance": "Latex", "severity": "mild", "source": "observed"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/allergies/{allergy_id}/resolve",
            format!("/api/v1/residents/{a_resident}/allergies/{a_allergy}/resolve"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/allergies/{allergy_id}/resolve",
            format!("/api/v1/residents/{b_resident}/allergies/{a_allergy}/resolve"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/allergies/{allergy_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/allergies/{a_allergy}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/falls",
            format!("/api/v1/residents/{a_resident}/falls?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/falls",
            format!("/api/v1/residents/{a_resident}/falls"),
            Some(json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "room", "discovery": "witnessed",
                        "circumstances": "intrusion", "consequences": ["none"]})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/falls/{fall_id}/amendments",
            format!("/api/v1/residents/{a_resident}/falls/{a_fall}/amendments"),
            Some(json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "room", "discovery": "witnessed",
                        "circumstances": "intrusion", "consequences": ["none"]})),
        ),
        // A's fall, corrected through B's own record.
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/falls/{fall_id}/amendments",
            format!("/api/v1/residents/{b_resident}/falls/{a_fall}/amendments"),
            Some(json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "room", "discovery": "witnessed",
                        "circumstances": "intrusion", "consequences": ["none"]})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/falls/{fall_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/falls/{a_fall}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/medical",
            format!("/api/v1/residents/{a_resident}/medical"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/problems",
            format!("/api/v1/residents/{a_resident}/medical/problems"),
            Some(json!({"kind": "history", "text": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/problems/{problem_id}/resolve",
            format!("/api/v1/residents/{a_resident}/medical/problems/{a_problem}/resolve"),
            Some(json!({})),
        ),
        // A's problem, resolved through B's own record.
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/problems/{problem_id}/resolve",
            format!("/api/v1/residents/{b_resident}/medical/problems/{a_problem}/resolve"),
            Some(json!({})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/problems/{problem_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/medical/problems/{a_problem}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/vaccinations",
            format!("/api/v1/residents/{a_resident}/medical/vaccinations"),
            Some(json!({"vaccine": "intrusion", "given_on": "2026-10-20"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/vaccinations/{vaccination_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/medical/vaccinations/{a_vaccination}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/physicians",
            format!("/api/v1/residents/{a_resident}/medical/physicians"),
            Some(json!({"role": "specialist", "name": "intrusion", "speciality": "intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/physicians/{physician_id}/end",
            format!("/api/v1/residents/{a_resident}/medical/physicians/{a_physician}/end"),
            Some(json!({})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/medical/physicians/{physician_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/medical/physicians/{a_physician}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/documents",
            format!("/api/v1/residents/{a_resident}/documents"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/documents",
            format!("/api/v1/residents/{a_resident}/documents?kind=other&title=intrusion"),
            Some(json!({"intrusion": true})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/documents/{document_id}",
            format!("/api/v1/residents/{a_resident}/documents/{a_document}"),
            None,
        ),
        // A's document, through B's own record.
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/documents/{document_id}",
            format!("/api/v1/residents/{b_resident}/documents/{a_document}"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/documents/{document_id}/content",
            format!("/api/v1/residents/{a_resident}/documents/{a_document}/content"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/documents/{document_id}/content",
            format!("/api/v1/residents/{b_resident}/documents/{a_document}/content"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/documents/{document_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/documents/{a_document}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/prescriptions",
            format!("/api/v1/residents/{a_resident}/prescriptions"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/prescriptions",
            format!("/api/v1/residents/{a_resident}/prescriptions"),
            Some(json!({"prescriber": {"name": "intrusion"}, "prescribed_on": "2026-11-30", "source": "paper",
                        "lines": [{"cis": "60234100", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                                   "schedule": {"kind": "moments", "moments": [{"moment": "morning"}]}}]})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/prescriptions/{prescription_id}",
            format!("/api/v1/residents/{a_resident}/prescriptions/{a_prescription}"),
            None,
        ),
        // A's prescription, read through B's own record.
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/prescriptions/{prescription_id}",
            format!("/api/v1/residents/{b_resident}/prescriptions/{a_prescription}"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/prescriptions/{prescription_id}/versions",
            format!("/api/v1/residents/{a_resident}/prescriptions/{a_prescription}/versions"),
            Some(json!({"replaces": a_prescription_version, "prescriber": {"name": "intrusion"},
                        "prescribed_on": "2026-11-30", "source": "paper",
                        "lines": [{"cis": "60234100", "dose": {"quantity": 9, "unit": "comprimé"}, "route": "oral",
                                   "schedule": {"kind": "moments", "moments": [{"moment": "noon"}]}}]})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/prescriptions/{prescription_id}/stop",
            format!("/api/v1/residents/{a_resident}/prescriptions/{a_prescription}/stop"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/doses",
            format!("/api/v1/establishments/{a_est}/doses"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/administrations",
            format!("/api/v1/residents/{a_resident}/administrations?from=2026-11-01&to=2026-11-30"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/administrations",
            format!("/api/v1/residents/{a_resident}/administrations"),
            Some(json!({"prescription_version_id": a_prescription_version, "line": 2, "outcome": "given"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/administrations/{administration_id}/entered-in-error",
            format!("/api/v1/residents/{a_resident}/administrations/{a_administration}/entered-in-error"),
            Some(json!({"reason": "intrusion"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/falls",
            format!("/api/v1/establishments/{a_est}/falls"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/wounds",
            format!("/api/v1/residents/{a_resident}/wounds?status=all"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/wounds",
            format!("/api/v1/residents/{a_resident}/wounds"),
            Some(json!({"kind": "skin_tear", "site": "elbow", "origin": "acquired"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/wounds/{wound_id}/assessments",
            format!("/api/v1/residents/{a_resident}/wounds/{a_wound}/assessments"),
            Some(json!({"stage": "stage_4"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/wounds/{wound_id}/protocol",
            format!("/api/v1/residents/{a_resident}/wounds/{a_wound}/protocol"),
            Some(
                json!({"products": ["Intrus"], "frequency": "Jamais", "schedule": {"kind": "daily", "times": ["08:00"]}}),
            ),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/wounds/{wound_id}/close",
            format!("/api/v1/residents/{a_resident}/wounds/{a_wound}/close"),
            Some(json!({"outcome": "entered_in_error"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/pressure-ulcers",
            format!("/api/v1/establishments/{a_est}/pressure-ulcers"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/diet",
            format!("/api/v1/residents/{a_resident}/diet"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/diet",
            format!("/api/v1/residents/{a_resident}/diet"),
            Some(
                json!({"diets": ["normal"], "food_texture": "mixe", "drink_texture": "iddsi_0", "decided_by": "team"}),
            ),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/nutrition-watches",
            format!("/api/v1/residents/{a_resident}/nutrition-watches"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/nutrition-watches",
            format!("/api/v1/residents/{a_resident}/nutrition-watches"),
            Some(json!({"covers": "fluids", "reason": "Intrusion"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/nutrition-watches/{watch_id}/end",
            format!("/api/v1/residents/{a_resident}/nutrition-watches/{a_watch}/end"),
            Some(json!({})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/intakes",
            format!("/api/v1/residents/{a_resident}/intakes"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/intakes",
            format!("/api/v1/residents/{a_resident}/intakes"),
            Some(json!({"meal": "lunch", "eaten": "none"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/nutrition",
            format!("/api/v1/residents/{a_resident}/nutrition"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/tasks",
            format!("/api/v1/establishments/{a_est}/tasks"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/tasks",
            format!("/api/v1/residents/{a_resident}/tasks?from=2026-11-01T00:00:00Z&to=2026-11-30T00:00:00Z"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/tasks",
            format!("/api/v1/residents/{a_resident}/tasks"),
            Some(
                json!({"plan_version_id": a_plan, "action_id": a_plan, "scheduled_for": "2026-11-30T07:00:00Z", "status": "done"}),
            ),
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/tasks/{record_id}/amendments",
            format!("/api/v1/residents/{a_resident}/tasks/{some_record}/amendments"),
            Some(json!({"status": "done"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/care-plan/versions/{version_id}/pdf",
            format!("/api/v1/residents/{a_resident}/care-plan/versions/{a_plan}/pdf"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/timeline",
            format!("/api/v1/residents/{a_resident}/timeline"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/summary",
            format!("/api/v1/residents/{a_resident}/summary"),
            None,
        ),
        attempt(Method::GET, "/api/v1/outbox/{message_id}", format!("/api/v1/outbox/{a_message}"), None),
        attempt(Method::POST, "/api/v1/outbox/{message_id}/retry", format!("/api/v1/outbox/{a_message}/retry"), None),
        attempt(Method::POST, "/api/v1/outbox/{message_id}/cancel", format!("/api/v1/outbox/{a_message}/cancel"), None),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/outbox",
            format!("/api/v1/residents/{a_resident}/outbox"),
            None,
        ),
        // A resident admitted by B into A's establishment.
        attempt(
            Method::POST,
            "/api/v1/residents",
            "/api/v1/residents".to_owned(),
            Some(json!({"establishment_id": a_est, "identity": {"birth_name": "Intrus", "first_names": "Paul",
                        "sex": "male", "birth_date": "1940-01-01"}})),
        ),
    ]
}

#[tokio::test]
async fn tenant_b_cannot_reach_any_of_tenant_a_by_id() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let targets = seed(&app, &a, &idp).await;
    let b_resident = app
        .post(
            "/api/v1/residents",
            &b.admin.token,
            json!({"establishment_id": b.establishments[0].id, "identity": {"birth_name": "Isolée", "first_names": "Anne",
                   "sex": "female", "birth_date": "1930-01-01"}, "ins": {"matricule": dui_testkit::nir(true, "1930-01-01", 1), "oid": "1.2.250.1.213.1.4.10"}}),
        )
        .await;
    // B may have its own record with the same INS: indexes are per tenant.
    assert_eq!(b_resident.status, 201, "{}", b_resident.text);
    let b_resident = b_resident.json["id"].as_str().unwrap().to_owned();
    let own = Own { b_est: b.establishments[0].id, b_user: b.admin.id, b_resident: b_resident.clone() };
    let attempts = attempts(&targets, &own);
    let Targets { a_nurse, a_est, a_unit, a_user, a_provider, a_resident, a_contact, a_emergency, a_message, .. } =
        targets;
    let b_user = own.b_user;

    let mut covered: BTreeSet<(String, String)> =
        LIST_ROUTES.iter().map(|(m, r)| ((*m).to_owned(), (*r).to_owned())).collect();
    covered.insert(("get".to_owned(), "/api/v1/identity-providers".to_owned()));
    // Instruments are reference definitions and stateless scoring: no tenant data behind them.
    for (method, route) in [
        ("get", "/api/v1/instruments"),
        ("get", "/api/v1/instruments/{code}"),
        ("post", "/api/v1/instruments/aggir/score"),
        ("post", "/api/v1/instruments/{code}/score"),
    ] {
        covered.insert((method.to_owned(), route.to_owned()));
    }
    for attempt in &attempts {
        // A plausible `If-Match`, so that updates are refused for the id, not for a missing header.
        let response = app
            .request_with(
                attempt.method.clone(),
                &attempt.path,
                Some(&b.admin.token),
                attempt.body.clone(),
                &[("If-Match", "\"1\"")],
            )
            .await;
        let problem = response.problem(404);
        assert_eq!(problem["detail"], "No such resource.", "{} {}", attempt.method, attempt.path);
        covered.insert((attempt.method.as_str().to_ascii_lowercase(), attempt.route.to_owned()));
    }
    println!("other tenant: {} attempts by id, each answered as on an absent id", attempts.len());

    // Every tenant route of the API is covered.
    let openapi: Value = serde_json::from_str(dui_api::openapi_json()).unwrap();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            assert!(
                covered.contains(&(method.clone(), path.clone())),
                "{method} {path} has no cross-tenant attempt in this test"
            );
        }
    }

    // Lists of B show nothing of A.
    let a_ids =
        [a_est.to_string(), a.establishments[1].id.to_string(), a_user.to_string(), a.admin.id.to_string(), a_provider];
    // The same INS and the same identity searched from B find B's record, nothing of A.
    for body in [
        json!({"ins": dui_testkit::nir(true, "1930-01-01", 1)}),
        json!({"birth_name": "ISOLEE", "birth_date": "1930-01-01"}),
    ] {
        let found = app.post("/api/v1/residents/search", &b.admin.token, body).await;
        assert_eq!(found.status, 200, "{}", found.text);
        let found: Vec<&str> = found.json.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(found, [b_resident.as_str()], "only B's own record");
    }
    let a_ids =
        [a_ids.to_vec(), vec![a_resident.clone(), a_emergency.clone(), a_contact.clone(), a_message.to_string()]]
            .concat();
    for path in [
        "/api/v1/establishments",
        "/api/v1/users",
        "/api/v1/identity-providers",
        "/api/v1/me",
        "/api/v1/residents",
        "/api/v1/emergency-accesses",
        "/api/v1/outbox",
        "/api/v1/identity-vigilance",
    ] {
        let response = app.get(path, &b.admin.token).await;
        assert_eq!(response.status, 200, "{path}");
        for id in &a_ids {
            assert!(!response.text.contains(id.as_str()), "{path} shows {id} of tenant A");
        }
    }

    // B's audit trail holds B's events only; A's ids appear in it only as the targets of B's
    // refused attempts.
    let trail = app
        .get(
            &format!(
                "/api/v1/audit/export?from={}&to={}",
                (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
                (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
            ),
            &b.admin.token,
        )
        .await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    let events: Vec<Value> = trail.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Each attempt on A's record left exactly one refusal (one more: A's record as the
    // duplicate merged into B's).
    let refusals =
        events.iter().filter(|e| e["resident_id"] == a_resident.as_str() && e["outcome"] == "denied").count();
    assert_eq!(refusals, attempts.iter().filter(|a| a.path.contains(a_resident.as_str())).count() + 1);
    for event in &events {
        let line = event.to_string();
        if a_ids.iter().any(|id| line.contains(id.as_str())) {
            assert_eq!(event["outcome"], "denied", "{line}");
            assert_eq!(event["actor_id"], b.admin.id.to_string(), "{line}");
        }
        assert!(!line.contains("Note de A") && !line.contains("Remplacement"), "{line}");
    }

    // A's data is untouched.
    let establishment = app.get(&format!("/api/v1/establishments/{a_est}"), &a.admin.token).await;
    assert_eq!(establishment.json["name"], a.establishments[0].name);
    let unit = app.get(&format!("/api/v1/units/{a_unit}"), &a.admin.token).await;
    assert_eq!(unit.json["name"], "Aile A");
    let units = app.get(&format!("/api/v1/establishments/{a_est}/units"), &a.admin.token).await;
    assert_eq!(units.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/me", &a_nurse.token).await.status, 200, "the nurse is still active");
    let memberships = app.get(&format!("/api/v1/users/{a_user}/memberships"), &a.admin.token).await;
    assert!(memberships.json.as_array().unwrap().iter().all(|m| m["ended_at"].is_null()));
    let identities = app.get(&format!("/api/v1/users/{a_user}/external-identities"), &a.admin.token).await;
    assert_eq!(identities.json[0]["subject"], "s-a");
    let notes = app.get(&format!("/api/v1/residents/{a_resident}/notes"), &a_nurse.token).await;
    assert_eq!(notes.json["items"].as_array().unwrap().len(), 1, "only A's own note");
    let alerts = app.get(&format!("/api/v1/residents/{a_resident}/alerts?status=all"), &a_nurse.token).await;
    let statuses: Vec<(&str, &str)> = alerts
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e[e["type"].as_str().unwrap()]["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("allergy", "active"), ("alert", "active")], "only A's own, in force: {}", alerts.text);
    let falls =
        app.get(&format!("/api/v1/residents/{a_resident}/falls?from=2026-01-01T00:00:00Z"), &a_nurse.token).await;
    assert_eq!(falls.json["falls"].as_array().unwrap().len(), 1, "{}", falls.text);
    assert_eq!(
        (falls.json["falls"][0]["version"].as_i64(), falls.json["falls"][0]["entered_in_error"].is_null()),
        (Some(1), true)
    );
    let file = app.get(&format!("/api/v1/residents/{a_resident}/medical"), &a_nurse.token).await;
    let counts = ["active_problems", "history", "vaccinations", "physicians"]
        .map(|k| file.json[k].as_array().map_or(99, Vec::len));
    assert_eq!(counts, [1, 0, 1, 1], "A's medical file untouched: {}", file.text);
    assert_eq!(file.json["physicians"][0]["in_force"], true);
    let prescriptions = app.get(&format!("/api/v1/residents/{a_resident}/prescriptions"), &a_nurse.token).await;
    let versions: Vec<(i64, &str)> = prescriptions
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["version"].as_i64().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(versions, [(1, "active")], "A's prescription untouched: {}", prescriptions.text);
    let record = app.get(&format!("/api/v1/residents/{a_resident}"), &a.admin.token).await;
    assert_eq!(record.json["identity"]["birth_name"], "Isolée");
    assert_eq!(record.json["record_status"], "active");
    assert_eq!(record.json["identity_status"], "PROV");
    let stays = app.get(&format!("/api/v1/residents/{a_resident}/stays"), &a.admin.token).await;
    assert_eq!(stays.json.as_array().unwrap().len(), 1);
    assert!(stays.json[0]["discharged_on"].is_null());
    let contacts = app.get(&format!("/api/v1/residents/{a_resident}/contacts"), &a.admin.token).await;
    assert_eq!(contacts.json.as_array().unwrap().len(), 1);
    assert!(contacts.json[0]["ended_at"].is_null(), "{}", contacts.text);
    let consents = app.get(&format!("/api/v1/residents/{a_resident}/consents"), &a.admin.token).await;
    assert_eq!(consents.json.as_array().unwrap().len(), 1);
    assert!(consents.json[0]["revoked_at"].is_null(), "{}", consents.text);
    let emergencies = app.get("/api/v1/emergency-accesses", &a.admin.token).await;
    assert!(emergencies.json[0]["reviewed_at"].is_null(), "{}", emergencies.text);
    let wounds = app.get(&format!("/api/v1/residents/{a_resident}/wounds"), &a_nurse.token).await;
    let wound = &wounds.json[0];
    assert_eq!(
        (wounds.json.as_array().unwrap().len(), wound["assessments"].as_array().unwrap().len(), &wound["protocol"]),
        (1, 0, &Value::Null),
        "{}",
        wounds.text
    );
    let watches = app.get(&format!("/api/v1/residents/{a_resident}/nutrition-watches"), &a_nurse.token).await;
    assert_eq!((watches.json.as_array().unwrap().len(), &watches.json[0]["ended_on"]), (1, &Value::Null));
    assert_eq!(app.get(&format!("/api/v1/residents/{a_resident}/diet"), &a_nurse.token).await.json, json!([]));
    let intakes = app.get(&format!("/api/v1/residents/{a_resident}/intakes"), &a_nurse.token).await;
    assert!(intakes.json["days"].as_array().unwrap().iter().all(|d| d["meals"] == json!([])), "{}", intakes.text);
    let b_stays = app.get(&format!("/api/v1/residents/{b_resident}/stays"), &b.admin.token).await;
    assert_eq!(b_stays.json.as_array().unwrap().len(), 1, "B's record was not moved into A");
    let b_memberships = app.get(&format!("/api/v1/users/{b_user}/memberships"), &b.admin.token).await;
    assert_eq!(b_memberships.json.as_array().unwrap().len(), 1, "only B's own tenant admin membership");
}

impl Targets {
    /// The ids of the targets, as they appear in paths and bodies.
    fn ids(&self) -> Vec<String> {
        vec![
            self.a_resident.clone(),
            self.a_note.clone(),
            self.a_assessment.clone(),
            self.a_plan.clone(),
            self.a_measurement.clone(),
            self.a_absence.clone(),
            self.a_appointment.clone(),
            self.a_restraint.clone(),
            self.a_allergy.clone(),
            self.a_alert.clone(),
            self.a_fall.clone(),
            self.a_problem.clone(),
            self.a_vaccination.clone(),
            self.a_physician.clone(),
            self.a_document.clone(),
            self.a_wound.clone(),
            self.a_watch.clone(),
            self.a_contact.clone(),
            self.a_consent.clone(),
            self.a_stay.clone(),
            self.a_emergency.clone(),
            self.a_message.to_string(),
            self.a_est.to_string(),
            self.a_unit.to_string(),
            self.a_user.to_string(),
            self.a_membership.clone(),
            self.a_provider.clone(),
        ]
    }
}

/// `attempt` with every id of `ids` replaced by a fresh one that designates nothing.
fn on_absent_ids(attempt: &Attempt, ids: &[String]) -> Attempt {
    let (mut path, mut body) = (attempt.path.clone(), attempt.body.as_ref().map(Value::to_string));
    for id in ids {
        let absent = uuid::Uuid::now_v7().to_string();
        path = path.replace(id.as_str(), &absent);
        body = body.map(|b| b.replace(id.as_str(), &absent));
    }
    Attempt {
        method: attempt.method.clone(),
        route: attempt.route,
        path,
        body: body.map(|b| serde_json::from_str(&b).unwrap()),
    }
}

async fn send(app: &TestApp, attempt: &Attempt, token: &str) -> dui_testkit::TestResponse {
    app.request_with(attempt.method.clone(), &attempt.path, Some(token), attempt.body.clone(), &[("If-Match", "\"1\"")])
        .await
}

/// Within one tenant, a professional who is not in the person's team — the same roles in the
/// tenant's other establishment, a home helper of the same establishment not assigned to the
/// person — tries every route taking an id on the person's things. Each answer is the one an
/// id that designates nothing gets (the same status, the same detail): the record, its notes,
/// assessments, plan, measurements, contacts, consents, stays, tasks, timeline, messages and
/// emergency opening are as absent as in another tenant, and so are staff ids to those who do
/// not read the staff directory. Where a route does answer (the caller's own establishment,
/// the staff directory), it shows nothing of the person. Opening
/// the record in an emergency, with a reason, is the one way in (`access.rs`), and is left
/// out here.
#[tokio::test]
async fn a_professional_outside_the_team_reaches_nothing_of_a_person_by_id() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let a = app.tenant("Alpha").await;
    let targets = seed(&app, &a, &idp).await;
    let (ehpad, other) = (a.establishments[0].id, a.establishments[1].id);
    let neighbour = crate::residents::admit(
        &app,
        &a,
        json!({"identity": crate::residents::identity("Voisine", "Anne", "1931-01-01")}),
    )
    .await;
    let neighbour = neighbour.json["id"].as_str().unwrap().to_owned();
    let ids = targets.ids();
    let intruders = [
        (Role::Nurse, other),
        (Role::Director, other),
        (Role::CareAssistant, other),
        (Role::CoordinatingPhysician, other),
        (Role::IdentityVigilance, other),
        (Role::HomeHelper, other),
        // The same establishment, the person's team, but assigned to someone else.
        (Role::HomeHelper, ehpad),
    ];
    let mut tried = 0;
    for (role, establishment) in intruders {
        let intruder = app.user(&a, &[(Some(establishment), role)]).await;
        if establishment == ehpad {
            let assigned = app
                .post(
                    &format!("/api/v1/residents/{neighbour}/assignments"),
                    &a.admin.token,
                    json!({"user_id": intruder.id}),
                )
                .await;
            assert_eq!(assigned.status, 201, "{}", assigned.text);
        }
        let own = Own { b_est: establishment, b_user: intruder.id, b_resident: neighbour.clone() };
        for attempt in attempts(&targets, &own) {
            if attempt.route.ends_with("/emergency-access") || !ids.iter().any(|id| attempt.path.contains(id.as_str()))
            {
                continue;
            }
            tried += 1;
            let answer = send(&app, &attempt, &intruder.token).await;
            let what = format!("{role:?} of {establishment}: {} {}", attempt.method, attempt.path);
            if attempt.path.starts_with(&format!("/api/v1/residents/{}", targets.a_resident)) {
                assert_eq!(answer.problem(404)["detail"], "No such resource.", "{what}");
            }
            if (200..300).contains(&answer.status) {
                for secret in [targets.a_resident.as_str(), "Isolée", "Note de A", "Rester chez elle"] {
                    assert!(!answer.text.contains(secret), "{what} shows {secret}: {}", answer.text);
                }
                continue;
            }
            // Directors read the tenant's staff directory, memberships included: which staff
            // ids exist is no secret to them.
            let directory =
                attempt.route.starts_with("/api/v1/users/") || attempt.route.starts_with("/api/v1/memberships/");
            // The caller's own establishment and its units are known to them (they read them).
            let structure =
                attempt.route.starts_with("/api/v1/establishments/") || attempt.route.starts_with("/api/v1/units/");
            if (directory && role == Role::Director) || (structure && establishment == ehpad) {
                continue;
            }
            let absent = send(&app, &on_absent_ids(&attempt, &ids), &intruder.token).await;
            assert_eq!(
                (answer.status, &answer.json["detail"]),
                (absent.status, &absent.json["detail"]),
                "{what} tells the person's things from absent ones"
            );
        }
    }
    assert!(tried > 7 * 50, "{tried} attempts");
    println!("outside the team: {tried} attempts by id, each answered as on an absent id or showing nothing");
    // The person's things are untouched, and still theirs.
    let notes = app.get(&format!("/api/v1/residents/{}/notes", targets.a_resident), &targets.a_nurse.token).await;
    assert_eq!(notes.json["items"].as_array().unwrap().len(), 1, "{}", notes.text);
    let record = app.get(&format!("/api/v1/residents/{}", targets.a_resident), &a.admin.token).await;
    assert_eq!(
        (record.json["record_status"].as_str(), record.json["identity"]["birth_name"].as_str()),
        (Some("active"), Some("Isolée"))
    );
}

/// A record merged into another is documented as pointing at the record kept
/// (`merged_into`): whoever reaches the record kept is sent there, and writes on the merged
/// one are refused. Whoever does not reach it gets, on every route, what an id that
/// designates nothing gets.
#[tokio::test]
async fn a_merged_record_is_as_absent_as_any_to_whoever_does_not_reach_the_record_kept() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let a = app.tenant("Alpha").await;
    let targets = seed(&app, &a, &idp).await;
    let duplicate = crate::residents::admit(
        &app,
        &a,
        json!({"identity": crate::residents::identity("Isolée", "Anne", "1930-01-01"), "confirm_homonym": true}),
    )
    .await;
    assert_eq!(duplicate.status, 201, "{}", duplicate.text);
    let duplicate = duplicate.json["id"].as_str().unwrap().to_owned();
    let referent = app.user(&a, &[(Some(a.establishments[0].id), Role::IdentityVigilance)]).await;
    let merged = app
        .post(
            &format!("/api/v1/residents/{}/merge", targets.a_resident),
            &referent.token,
            json!({"duplicate_id": duplicate, "reason": "Même personne, doublon créé à l'admission"}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);

    // In reach: the documented pointer, and no more writes.
    let nurse = &targets.a_nurse;
    let old = app.get(&format!("/api/v1/residents/{duplicate}"), &nurse.token).await;
    assert_eq!(
        (old.json["record_status"].as_str(), old.json["merged_into"].as_str()),
        (Some("merged"), Some(targets.a_resident.as_str()))
    );
    app.post(&format!("/api/v1/residents/{duplicate}/notes"), &nurse.token, json!({"text": "trop tard"}))
        .await
        .problem(409);

    // Out of reach: every route on the merged record's id answers as on an absent one.
    let mut tried = 0;
    for (role, establishment) in [(Role::Nurse, a.establishments[1].id), (Role::Director, a.establishments[1].id)] {
        let intruder = app.user(&a, &[(Some(establishment), role)]).await;
        let own = Own { b_est: establishment, b_user: intruder.id, b_resident: targets.a_resident.clone() };
        for attempt in attempts(&targets, &own) {
            if !attempt.route.starts_with("/api/v1/residents/{resident_id}")
                || attempt.route.ends_with("/emergency-access")
            {
                continue;
            }
            let on_merged = Attempt {
                method: attempt.method.clone(),
                route: attempt.route,
                path: attempt.path.replace(targets.a_resident.as_str(), &duplicate),
                body: attempt.body.clone(),
            };
            tried += 1;
            let answer = send(&app, &on_merged, &intruder.token).await;
            let absent =
                send(&app, &on_absent_ids(&on_merged, std::slice::from_ref(&duplicate)), &intruder.token).await;
            let what = format!("{role:?}: {} {}", on_merged.method, on_merged.path);
            assert_eq!(answer.problem(404)["detail"], "No such resource.", "{what}");
            assert_eq!((answer.status, &answer.json["detail"]), (absent.status, &absent.json["detail"]), "{what}");
        }
    }
    assert!(tried > 2 * 40, "{tried} attempts");
    println!("merged record: {tried} attempts by id, each answered as on an absent id");
}
