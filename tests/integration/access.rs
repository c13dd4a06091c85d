//! Who may see what: the authorization matrix (each role, in scope, out of scope and from
//! another tenant, on each record endpoint), emergency openings, recent stays, home helpers'
//! assignments, and the confidentiality scopes of notes.

use dui_domain::EstablishmentId;
use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant, TestUser};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::identity;

const ROLES: [Role; 11] = [
    Role::TenantAdmin,
    Role::Director,
    Role::CoordinatingPhysician,
    Role::Nurse,
    Role::CareAssistant,
    Role::Psychologist,
    Role::SocialWorker,
    Role::Educator,
    Role::HomeHelper,
    Role::AdministrativeStaff,
    Role::IdentityVigilance,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// A membership in the establishment where the resident stays.
    InScope,
    /// The same role in the tenant's other establishment.
    OutOfScope,
    /// The same role in another tenant.
    OtherTenant,
}

/// What the API must answer, written out role by role (independently of `dui_domain::policy`).
fn expected(role: Role, placement: Placement, endpoint: &str) -> u16 {
    use Role::*;
    let resident_endpoint = !matches!(
        endpoint,
        "list emergency openings" | "export audit trail" | "admit" | "read establishment falls" | "read dose plan"
    );
    if resident_endpoint && placement != Placement::InScope {
        return 404;
    }
    // Home helpers see only the people they are assigned to (here: nobody).
    if resident_endpoint && role == HomeHelper {
        return 404;
    }
    let allowed = |roles: &[Role]| roles.contains(&role);
    let (allowed_status, yes) = match endpoint {
        "read record"
        | "read notes"
        | "read stays"
        | "read identity events"
        | "read contacts"
        | "read consents"
        | "find duplicates"
        | "read assessments"
        | "read gir history"
        | "read care plan"
        | "read measurements"
        | "read nutrition status"
        | "read task records"
        | "read timeline"
        | "read INS calls"
        | "read absences"
        | "read appointments"
        | "read restraints"
        | "read alerts"
        | "check drug allergies"
        | "read falls"
        | "read medical file"
        | "read documents"
        | "read prescriptions"
        | "read dose history"
        | "read wounds"
        | "read diet"
        | "read nutrition watches"
        | "read intakes"
        | "read nutrition summary"
        | "read summary" => (200, true),
        // Care data: those who assess and read the care team's notes (not a director as such:
        // the secret partagé keeps the care team's notes to those who give care).
        "record assessment" | "record measurement" | "record absence" | "record appointment" | "record allergy"
        | "record alert" | "record fall" | "record wound" | "assess wound" | "set wound protocol" | "record diet"
        | "record intake" | "record physician" | "add document" => {
            (201, allowed(&[CoordinatingPhysician, Nurse, CareAssistant, Psychologist, Educator]))
        }
        // The medical file's history, problems and vaccinations: the health professionals.
        "record medical problem" | "record vaccination" => (201, allowed(&[CoordinatingPhysician, Nurse])),
        // Prescriptions: the physicians and nurses transcribe them; the care team reads them.
        "record prescription" => (201, allowed(&[CoordinatingPhysician, Nurse])),
        // Doses: the nurses and the physician administer, the care assistants help with taking.
        "record dose" => (201, allowed(&[CoordinatingPhysician, Nurse, CareAssistant])),
        // Allowed callers get past the roles to the rule: a watch is in progress already.
        "start nutrition watch" => {
            (409, allowed(&[CoordinatingPhysician, Nurse, CareAssistant, Psychologist, Educator]))
        }
        // Restraint: the coordinating physician prescribes; a nurse records an outside
        // physician's prescription.
        "prescribe restraint" => (201, allowed(&[CoordinatingPhysician])),
        "record external restraint prescription" => (201, allowed(&[CoordinatingPhysician, Nurse])),
        "write whole-team note" => (
            201,
            allowed(&[Director, CoordinatingPhysician, Nurse, CareAssistant, Psychologist, SocialWorker, Educator]),
        ),
        "write medical note" => (201, allowed(&[CoordinatingPhysician, Nurse])),
        "write social note" => (201, allowed(&[Director, Psychologist, SocialWorker, Educator])),
        "add contact" | "record consent" => (
            201,
            allowed(&[
                TenantAdmin,
                Director,
                CoordinatingPhysician,
                Nurse,
                SocialWorker,
                Educator,
                Psychologist,
                AdministrativeStaff,
            ]),
        ),
        // Allowed callers get past the roles to the transition rules (already provisional).
        "change identity status" => (
            422,
            allowed(&[TenantAdmin, Director, CoordinatingPhysician, Nurse, AdministrativeStaff, IdentityVigilance]),
        ),
        // Allowed callers get past the roles: no INSi service here (409), no such search (404).
        "search INS" => (
            409,
            allowed(&[TenantAdmin, Director, CoordinatingPhysician, Nurse, AdministrativeStaff, IdentityVigilance]),
        ),
        "verify INS" => (
            409,
            allowed(&[TenantAdmin, Director, CoordinatingPhysician, Nurse, AdministrativeStaff, IdentityVigilance]),
        ),
        "confirm INS" => (
            404,
            allowed(&[TenantAdmin, Director, CoordinatingPhysician, Nurse, AdministrativeStaff, IdentityVigilance]),
        ),
        "assign" => (201, allowed(&[TenantAdmin, Director, AdministrativeStaff])),
        "export record" | "access report" => (200, allowed(&[TenantAdmin, Director])),
        "list emergency openings" => {
            return match placement {
                Placement::OutOfScope if role == TenantAdmin => unreachable!(),
                _ if allowed(&[TenantAdmin, Director]) => 200,
                _ => 403,
            };
        }
        "export audit trail" => return if role == TenantAdmin { 200 } else { 403 },
        // The care team reads the establishment's falls in full, the director without details;
        // no one else (the tenant admin administers, a home helper reaches only the people
        // assigned). Another establishment's, or another tenant's: it does not exist for them.
        "read establishment falls" => {
            return match placement {
                Placement::InScope
                    if allowed(&[Director, CoordinatingPhysician, Nurse, CareAssistant, Psychologist, Educator]) =>
                {
                    200
                }
                Placement::InScope => 403,
                _ => 404,
            };
        }
        // The round's plan lists, to whoever works in the establishment, the doses of the people
        // they see whose prescriptions they read (none for those outside the care team).
        "read dose plan" => {
            return match placement {
                Placement::InScope => 200,
                _ => 404,
            };
        }
        "admit" => {
            return match placement {
                Placement::InScope
                    if allowed(&[TenantAdmin, Director, CoordinatingPhysician, Nurse, AdministrativeStaff]) =>
                {
                    201
                }
                Placement::InScope => 403,
                // Another establishment's, or another tenant's: it does not exist for them.
                _ => 404,
            };
        }
        other => panic!("no expectation for {other}"),
    };
    if yes { allowed_status } else { 403 }
}

struct Call {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    /// A raw body (a document's content), sent instead of `body`.
    raw: Option<Vec<u8>>,
}

fn calls(
    (resident, wound, version): (&str, &str, &str),
    caller: &TestUser,
    ehpad: EstablishmentId,
    n: usize,
) -> Vec<Call> {
    let r = format!("/api/v1/residents/{resident}");
    let call = |name, method, path: String, body: Option<Value>| Call { name, method, path, body, raw: None };
    let day = chrono::Utc::now();
    vec![
        call("read documents", Method::GET, format!("{r}/documents"), None),
        Call {
            name: "add document",
            method: Method::POST,
            path: format!("{r}/documents?kind=advance_directives&title=Directives"),
            body: None,
            raw: Some(crate::documents::tiny_pdf()),
        },
        call("read record", Method::GET, r.clone(), None),
        call("read notes", Method::GET, format!("{r}/notes"), None),
        call("read stays", Method::GET, format!("{r}/stays"), None),
        call("read identity events", Method::GET, format!("{r}/identity-events"), None),
        call("read contacts", Method::GET, format!("{r}/contacts"), None),
        call("read consents", Method::GET, format!("{r}/consents"), None),
        call("find duplicates", Method::GET, format!("{r}/duplicates"), None),
        call("write whole-team note", Method::POST, format!("{r}/notes"), Some(json!({"text": "Bonne journée."}))),
        call(
            "write medical note",
            Method::POST,
            format!("{r}/notes"),
            Some(json!({"text": "TA 13/8.", "scope": "medical"})),
        ),
        call(
            "write social note",
            Method::POST,
            format!("{r}/notes"),
            Some(json!({"text": "Dossier APA.", "scope": "social"})),
        ),
        call(
            "add contact",
            Method::POST,
            format!("{r}/contacts"),
            Some(json!({"kind": "relative", "details": {"family_name": "Proche"}})),
        ),
        call(
            "record consent",
            Method::POST,
            format!("{r}/consents"),
            Some(json!({"kind": "image_rights", "decision": "granted", "expressed_by": "person"})),
        ),
        call(
            "change identity status",
            Method::POST,
            format!("{r}/identity-status"),
            Some(json!({"to_status": "PROV", "reason": "contrôle"})),
        ),
        call("search INS", Method::POST, format!("{r}/ins/retrieve"), Some(json!({}))),
        call("confirm INS", Method::POST, format!("{r}/ins/confirm"), Some(json!({"call_id": uuid::Uuid::now_v7()}))),
        call("verify INS", Method::POST, format!("{r}/ins/verify"), Some(json!({}))),
        call("read INS calls", Method::GET, format!("{r}/ins/calls"), None),
        call("assign", Method::POST, format!("{r}/assignments"), Some(json!({"user_id": caller.id}))),
        call("read assessments", Method::GET, format!("{r}/assessments"), None),
        call("read gir history", Method::GET, format!("{r}/gir-history"), None),
        call("read care plan", Method::GET, format!("{r}/care-plan"), None),
        call("read measurements", Method::GET, format!("{r}/measurements"), None),
        call("read nutrition status", Method::GET, format!("{r}/nutrition-status"), None),
        call(
            "read task records",
            Method::GET,
            format!("{r}/tasks?from=2026-11-01T00:00:00Z&to=2026-11-30T00:00:00Z"),
            None,
        ),
        call("read wounds", Method::GET, format!("{r}/wounds"), None),
        call(
            "record wound",
            Method::POST,
            format!("{r}/wounds"),
            Some(json!({"kind": "skin_tear", "site": "elbow", "origin": "acquired"})),
        ),
        call("assess wound", Method::POST, format!("{r}/wounds/{wound}/assessments"), Some(json!({"pain": 2}))),
        call(
            "set wound protocol",
            Method::POST,
            format!("{r}/wounds/{wound}/protocol"),
            Some(json!({"products": ["Hydrocolloïde"], "frequency": "Tous les 3 jours",
                        "schedule": {"kind": "daily", "times": ["10:00"]}})),
        ),
        call("read diet", Method::GET, format!("{r}/diet"), None),
        call(
            "record diet",
            Method::POST,
            format!("{r}/diet"),
            Some(
                json!({"diets": ["low_salt"], "food_texture": "hache", "drink_texture": "iddsi_0", "decided_by": "team"}),
            ),
        ),
        call("read nutrition watches", Method::GET, format!("{r}/nutrition-watches"), None),
        call(
            "start nutrition watch",
            Method::POST,
            format!("{r}/nutrition-watches"),
            Some(json!({"covers": "fluids", "reason": "Canicule"})),
        ),
        call("record intake", Method::POST, format!("{r}/intakes"), Some(json!({"meal": "snack", "drinks_ml": 150}))),
        call("read intakes", Method::GET, format!("{r}/intakes"), None),
        call("read nutrition summary", Method::GET, format!("{r}/nutrition"), None),
        call("read timeline", Method::GET, format!("{r}/timeline"), None),
        call("read summary", Method::GET, format!("{r}/summary"), None),
        call(
            "record assessment",
            Method::POST,
            format!("{r}/assessments"),
            Some(json!({"instrument": "algoplus", "assessed_on": "2026-11-02", "answers":
                {"visage": "no", "regard": "no", "plaintes": "no", "corps": "no", "comportements": "no"}})),
        ),
        call(
            "record measurement",
            Method::POST,
            format!("{r}/measurements"),
            Some(json!({"kind": "pulse", "value": 70})),
        ),
        call("read absences", Method::GET, format!("{r}/absences"), None),
        call(
            "record absence",
            Method::POST,
            format!("{r}/absences"),
            // Each caller's on days of its own: a person away does not leave again.
            Some(json!({"kind": "family_stay", "starts_at": day + chrono::Duration::days(3 * n as i64 + 1),
                        "expected_return_at": day + chrono::Duration::days(3 * n as i64 + 2)})),
        ),
        call("read appointments", Method::GET, format!("{r}/appointments"), None),
        call(
            "record appointment",
            Method::POST,
            format!("{r}/appointments"),
            Some(json!({"starts_at": day + chrono::Duration::days(1), "with_whom": "Dr Matrice"})),
        ),
        call("read restraints", Method::GET, format!("{r}/restraints"), None),
        call(
            "prescribe restraint",
            Method::POST,
            format!("{r}/restraints"),
            Some(json!({"kind": "bed_rails", "planned_end_at": day + chrono::Duration::days(2),
                        "reason": "Chutes nocturnes", "conditions": {"when": "La nuit"}})),
        ),
        call(
            "record external restraint prescription",
            Method::POST,
            format!("{r}/restraints"),
            Some(json!({"kind": "bed_rails", "planned_end_at": day + chrono::Duration::days(2),
                        "reason": "Chutes nocturnes", "conditions": {"when": "La nuit"},
                        "external_prescriber": {"name": "Dr Matrice", "rpps": "10003456789"}})),
        ),
        call("read alerts", Method::GET, format!("{r}/alerts"), None),
        call("check drug allergies", Method::GET, format!("{r}/drugs/68585615/allergy-check"), None),
        call(
            "record allergy",
            Method::POST,
            format!("{r}/allergies"),
            Some(json!({"kind": "allergy", "substance": "Latex", "severity": "moderate", "source": "observed"})),
        ),
        call("record alert", Method::POST, format!("{r}/alerts"), Some(json!({"kind": "fall_risk"}))),
        call("read falls", Method::GET, format!("{r}/falls"), None),
        call(
            "record fall",
            Method::POST,
            format!("{r}/falls"),
            Some(json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "corridor", "discovery": "witnessed",
                        "circumstances": "Perte d'équilibre", "consequences": ["none"]})),
        ),
        call("read establishment falls", Method::GET, format!("/api/v1/establishments/{ehpad}/falls"), None),
        call("read medical file", Method::GET, format!("{r}/medical"), None),
        call("read prescriptions", Method::GET, format!("{r}/prescriptions"), None),
        call("read dose plan", Method::GET, format!("/api/v1/establishments/{ehpad}/doses"), None),
        call("read dose history", Method::GET, format!("{r}/administrations?from=2026-11-01&to=2026-11-30"), None),
        call(
            "record dose",
            Method::POST,
            format!("{r}/administrations"),
            Some(json!({"prescription_version_id": version, "line": 1, "outcome": "given"})),
        ),
        call(
            "record prescription",
            Method::POST,
            format!("{r}/prescriptions"),
            Some(json!({"prescriber": {"name": "Dr Claire Martin"}, "prescribed_on": "2026-11-30", "source": "paper",
                        "lines": [{"cis": "60234100", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                                   "schedule": {"kind": "moments", "moments": [{"moment": "morning"}]}}]})),
        ),
        call(
            "record medical problem",
            Method::POST,
            format!("{r}/medical/problems"),
            Some(json!({"kind": "active_problem", "text": "Hypertension artérielle", "cim10": "I10"})),
        ),
        call(
            "record vaccination",
            Method::POST,
            format!("{r}/medical/vaccinations"),
            Some(json!({"vaccine": "Vaxigrip Tetra", "given_on": "2026-10-20"})),
        ),
        call(
            "record physician",
            Method::POST,
            format!("{r}/medical/physicians"),
            Some(json!({"role": "specialist", "name": "Dr Matrice", "speciality": "Gériatrie"})),
        ),
        call("export record", Method::GET, format!("{r}/export"), None),
        call("access report", Method::GET, format!("{r}/access-report"), None),
        call("list emergency openings", Method::GET, "/api/v1/emergency-accesses".to_owned(), None),
        call(
            "export audit trail",
            Method::GET,
            format!(
                "/api/v1/audit/export?from={}&to={}",
                (day - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
                (day + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
            ),
            None,
        ),
        call(
            "admit",
            Method::POST,
            "/api/v1/residents".to_owned(),
            Some(json!({"establishment_id": ehpad, "confirm_homonym": true,
                        "identity": identity(&format!("Matrice{}", dui_testkit::letters(n)), "Rose", "1931-01-01")})),
        ),
    ]
}

async fn user_with(app: &TestApp, tenant: &TestTenant, role: Role, establishment: EstablishmentId) -> TestUser {
    let place = if role == Role::TenantAdmin { None } else { Some(establishment) };
    app.user(tenant, &[(place, role)]).await
}

#[tokio::test]
async fn every_role_in_scope_out_of_scope_and_from_another_tenant_on_every_record_endpoint() {
    let app = TestApp::spawn().await;
    // The drug referential, for the allergy check.
    crate::drugs::import_fixture(&app).await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let (ehpad, saad) = (a.establishments[0].id, a.establishments[1].id);
    let created = app
        .post(
            "/api/v1/residents",
            &a.admin.token,
            json!({"establishment_id": ehpad, "identity": identity("Matrice", "Rose", "1931-01-01")}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let resident = created.json["id"].as_str().unwrap().to_owned();
    // A wound to assess and give a protocol, and a watch in progress.
    let carer = user_with(&app, &a, Role::Nurse, ehpad).await;
    let wound = app
        .post(
            &format!("/api/v1/residents/{resident}/wounds"),
            &carer.token,
            json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired", "stage": "stage_1"}),
        )
        .await;
    assert_eq!(wound.status, 201, "{}", wound.text);
    let wound = wound.json["id"].as_str().unwrap().to_owned();
    let watch = app
        .post(
            &format!("/api/v1/residents/{resident}/nutrition-watches"),
            &carer.token,
            json!({"covers": "both", "reason": "Perte de poids"}),
        )
        .await;
    assert_eq!(watch.status, 201, "{}", watch.text);
    // A drug given if needed, for the doses.
    let prescription = app
        .post(
            &format!("/api/v1/residents/{resident}/prescriptions"),
            &carer.token,
            json!({"prescriber": {"name": "Dr Claire Martin"}, "prescribed_on": "2026-11-30", "source": "paper",
                   "lines": [{"cis": "69000009", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                              "schedule": {"kind": "if_needed", "max_per_day": 24, "condition": "si douleurs"}}]}),
        )
        .await;
    assert_eq!(prescription.status, 201, "{}", prescription.text);
    let version = prescription.json["id"].as_str().unwrap().to_owned();

    let mut failures = Vec::new();
    let mut checked = 0;
    let mut n = 0;
    for role in ROLES {
        for placement in [Placement::InScope, Placement::OutOfScope, Placement::OtherTenant] {
            // The tenant admin role is tenant-wide: it has no "other establishment".
            if role == Role::TenantAdmin && placement == Placement::OutOfScope {
                continue;
            }
            let caller = match placement {
                Placement::InScope => user_with(&app, &a, role, ehpad).await,
                Placement::OutOfScope => user_with(&app, &a, role, saad).await,
                Placement::OtherTenant => user_with(&app, &b, role, b.establishments[0].id).await,
            };
            n += 1;
            for call in calls((&resident, &wound, &version), &caller, ehpad, n) {
                let response = match &call.raw {
                    Some(raw) => {
                        crate::documents::upload_to(&app, &caller.token, &call.path, "application/pdf", raw.clone())
                            .await
                    }
                    None => {
                        app.request_with(
                            call.method.clone(),
                            &call.path,
                            Some(&caller.token),
                            call.body.clone(),
                            &[("If-Match", "\"1\"")],
                        )
                        .await
                    }
                };
                let want = expected(role, placement, call.name);
                checked += 1;
                if response.status != want {
                    failures.push(format!(
                        "{role} {placement:?} {}: {} instead of {want} ({})",
                        call.name,
                        response.status,
                        response.text.chars().take(160).collect::<String>()
                    ));
                } else if response.status >= 400 {
                    // Refusals are problems, and a refusal never shows the record.
                    assert_eq!(response.header("content-type"), Some("application/problem+json"), "{}", call.name);
                    assert!(!response.text.contains("Matrice"), "{role} {placement:?} {}", call.name);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} answers differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(checked, 32 * 69);

    // The record is untouched by the refused writes: only allowed callers left notes.
    let notes = app.get(&format!("/api/v1/residents/{resident}/notes?limit=200"), &a.admin.token).await;
    let whole_team = notes.json["items"].as_array().unwrap().len();
    assert_eq!(whole_team, 7, "one whole-team note per allowed writer in scope");

    // Platform operators see nothing of a tenant's records.
    let (_, operator) = app.operator().await;
    let refused = app.get(&format!("/api/v1/residents/{resident}"), &operator).await;
    assert_eq!(refused.problem(403)["status"], 403);
    assert!(!refused.text.contains("Matrice"));
}

#[tokio::test]
async fn an_emergency_opening_is_reasoned_time_limited_flagged_and_reviewed() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": ehpad, "identity": identity("Urgence", "Paul", "1935-05-05")}),
        )
        .await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let record = format!("/api/v1/residents/{id}");
    let house_nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let medical = app
        .post(
            &format!("{record}/notes"),
            &house_nurse.token,
            json!({"text": "Allergie pénicilline.", "scope": "medical"}),
        )
        .await;
    assert_eq!(medical.status, 201);

    // A nurse of the other service does not see the record...
    let visitor = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    app.get(&record, &visitor.token).await.problem(404);
    // ...opens it with a written reason (a few words are not one)...
    let short = app.post(&format!("{record}/emergency-access"), &visitor.token, json!({"reason": "urgence"})).await;
    assert_eq!(short.problem(422)["errors"][0]["field"], "reason");
    let reason = "Remplacement de nuit : chute du résident, besoin des antécédents";
    let opened = app.post(&format!("{record}/emergency-access"), &visitor.token, json!({"reason": reason})).await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let opening = opened.json["id"].as_str().unwrap().to_owned();
    let lasts = chrono::DateTime::parse_from_rfc3339(opened.json["expires_at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(opened.json["opened_at"].as_str().unwrap()).unwrap();
    assert_eq!(lasts.num_minutes(), 240);
    // ...then reads it, with the scopes her role reads, and writes; it is in her list too
    // (found among her openings, not by walking the tenant's records).
    assert_eq!(app.get(&record, &visitor.token).await.status, 200);
    let listed = app.get("/api/v1/residents", &visitor.token).await;
    let listed: Vec<&str> =
        listed.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(listed.iter().any(|id| record.ends_with(id)), "{listed:?}");
    let notes = app.get(&format!("{record}/notes"), &visitor.token).await;
    assert_eq!(notes.json["items"][0]["text"], "Allergie pénicilline.");
    let note = app
        .post(&format!("{record}/notes"), &visitor.token, json!({"text": "Vue en urgence, constantes stables."}))
        .await;
    assert_eq!(note.status, 201, "{}", note.text);

    // Every access through the opening is flagged in the trail.
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let report = app.get(&format!("{record}/access-report"), &director.token).await;
    let visitor_events: Vec<(&str, bool)> = report
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_id"] == visitor.id.to_string())
        .map(|e| (e["action"].as_str().unwrap(), e["emergency"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        visitor_events,
        [
            ("resident.read", false),
            ("emergency_access.open", true),
            ("resident.read", true),
            ("resident.list", true),
            ("note.read", true),
            ("note.create", true),
        ]
    );
    assert_eq!(report.json.as_array().unwrap().iter().filter(|e| e["outcome"] == "denied").count(), 1);

    // The directors of the person's establishment see it for review; the other service's
    // director does not, nor do carers; nobody reviews their own opening.
    let other_director = app.user(&tenant, &[(Some(saad), Role::Director)]).await;
    let pending = app.get("/api/v1/emergency-accesses?pending=true", &director.token).await;
    assert_eq!(pending.json[0]["id"], opening.as_str());
    assert_eq!(pending.json[0]["reason"], reason);
    // The review shows whose record it was and what was done through the opening.
    let shown = app.get(&record, &director.token).await;
    assert_eq!(pending.json[0]["resident"]["id"], shown.json["id"], "{}", pending.text);
    assert!(!pending.json[0]["resident"]["family_name"].as_str().unwrap().is_empty());
    let viewed: Vec<&str> =
        pending.json[0]["viewed"].as_array().unwrap().iter().map(|v| v["action"].as_str().unwrap()).collect();
    let through: Vec<&str> = visitor_events.iter().filter(|(_, emergency)| *emergency).map(|(a, _)| *a).collect();
    assert_eq!(viewed, through, "{}", pending.text);
    let written = pending.json[0]["viewed"].as_array().unwrap().iter().find(|v| v["action"] == "note.create").unwrap();
    assert_eq!(written["resource_id"], note.json["id"]);
    let elsewhere = app.get("/api/v1/emergency-accesses", &other_director.token).await;
    assert_eq!(elsewhere.json, json!([]));
    app.get("/api/v1/emergency-accesses", &visitor.token).await.problem(403);
    let review = format!("/api/v1/emergency-accesses/{opening}/review");
    app.post(&review, &other_director.token, json!({"outcome": "justified", "comment": "vu"})).await.problem(404);
    let reviewed = app
        .post(
            &review,
            &director.token,
            json!({"outcome": "justified", "comment": "Chute confirmée par l'équipe de nuit."}),
        )
        .await;
    assert_eq!(reviewed.status, 200, "{}", reviewed.text);
    assert_eq!(reviewed.json["reviewed_by"], director.id.to_string());
    let pending = app.get("/api/v1/emergency-accesses?pending=true", &director.token).await;
    assert_eq!(pending.json, json!([]));
    // A review is final; and a director's own opening is reviewed by someone else.
    let again = app.post(&review, &director.token, json!({"outcome": "unjustified", "comment": "second avis"})).await;
    assert!(again.problem(409)["detail"].as_str().unwrap().contains("reviewed already"));
    let own = app.post(&format!("{record}/emergency-access"), &director.token, json!({"reason": reason})).await;
    assert_eq!(own.status, 201, "{}", own.text);
    let own_review = format!("/api/v1/emergency-accesses/{}/review", own.json["id"].as_str().unwrap());
    let refused = app.post(&own_review, &director.token, json!({"outcome": "justified", "comment": "moi"})).await;
    assert!(refused.problem(403)["detail"].as_str().unwrap().contains("someone else"));
    // Out of reach, the review is as absent as ever.
    app.post(&own_review, &other_director.token, json!({"outcome": "justified", "comment": "vu"})).await.problem(404);

    // Once expired, the record is closed again.
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             UPDATE emergency_accesses SET opened_at = now() - interval '5 hours', expires_at = now() - interval '1 hour'; COMMIT;",
            tenant.id
        ))
        .await
        .unwrap();
    app.get(&record, &visitor.token).await.problem(404);
}

/// Admits `name` to the tenant's EHPAD on `admitted_on`: the record's id and its stay's.
async fn admitted(app: &TestApp, tenant: &TestTenant, name: &str, admitted_on: chrono::NaiveDate) -> (String, String) {
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": tenant.establishments[0].id, "admitted_on": admitted_on.to_string(),
                   "identity": identity(name, "Anne", "1930-01-01"), "confirm_homonym": true}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let stay = created.json["current_stay"]["id"].as_str().unwrap_or_default().to_owned();
    (created.json["id"].as_str().unwrap().to_owned(), stay)
}

/// Discharges the person's stay on `on`.
async fn discharge(app: &TestApp, tenant: &TestTenant, id: &str, stay: &str, on: chrono::NaiveDate) {
    let ended = app
        .request_with(
            Method::PATCH,
            &format!("/api/v1/residents/{id}/stays/{stay}"),
            Some(&tenant.admin.token),
            Some(json!({"discharged_on": on.to_string(), "discharge_mode": "home"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
}

#[tokio::test]
async fn the_team_keeps_a_record_for_a_while_after_discharge_and_directors_for_good() {
    let app = TestApp::spawn_with(|config| config.access.recent_stay_days = 30).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let today = chrono::Utc::now().date_naive();
    let mut records = Vec::new();
    for (name, days_ago) in [("Recent", 10), ("Ancien", 45)] {
        let (id, stay) = admitted(&app, &tenant, name, today - chrono::Days::new(400)).await;
        discharge(&app, &tenant, &id, &stay, today - chrono::Days::new(days_ago)).await;
        records.push(id);
    }
    assert_eq!(app.get(&format!("/api/v1/residents/{}", records[0]), &nurse.token).await.status, 200);
    app.get(&format!("/api/v1/residents/{}", records[1]), &nurse.token).await.problem(404);
    // The director keeps both (requests of access, archives) and may export the old one.
    for id in &records {
        assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &director.token).await.status, 200);
    }
    assert_eq!(app.get(&format!("/api/v1/residents/{}/export", records[1]), &director.token).await.status, 200);
    let listed = app.get("/api/v1/residents", &nurse.token).await;
    assert!(listed.text.contains(&records[0]) && !listed.text.contains(&records[1]));
}

#[tokio::test]
async fn home_helpers_reach_the_people_they_are_assigned_to_and_whole_team_notes_only() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let saad = tenant.establishments[1].id;
    let coordinator = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    let helper = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let colleague = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let mut ids = Vec::new();
    for name in ["Domicile", "Voisine"] {
        let created = app
            .post(
                "/api/v1/residents",
                &tenant.admin.token,
                json!({"establishment_id": saad, "mode": "at_home", "identity": identity(name, "Odette", "1929-09-09")}),
            )
            .await;
        ids.push(created.json["id"].as_str().unwrap().to_owned());
    }
    let record = format!("/api/v1/residents/{}", ids[0]);
    app.get(&record, &helper.token).await.problem(404);
    // Carers do not assign; the tenant admin does.
    app.post(&format!("{record}/assignments"), &coordinator.token, json!({"user_id": helper.id})).await.problem(403);
    let assigned = app.post(&format!("{record}/assignments"), &tenant.admin.token, json!({"user_id": helper.id})).await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    // An assignment that ended yesterday gives nothing.
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let ended = app
        .post(
            &format!("{record}/assignments"),
            &tenant.admin.token,
            json!({"user_id": colleague.id, "starts_on": "2026-01-01", "ends_on": yesterday}),
        )
        .await;
    assert_eq!(ended.status, 201);
    app.get(&record, &colleague.token).await.problem(404);

    assert_eq!(app.get(&record, &helper.token).await.status, 200);
    let listed = app.get("/api/v1/residents", &helper.token).await;
    let listed: Vec<&str> =
        listed.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [ids[0].as_str()]);
    app.post(
        &format!("{record}/notes"),
        &coordinator.token,
        json!({"text": "Plaie talon, pansement.", "scope": "medical"}),
    )
    .await;
    let written =
        app.post(&format!("{record}/notes"), &helper.token, json!({"text": "Courses faites, repas pris."})).await;
    assert_eq!(written.status, 201, "{}", written.text);
    app.post(&format!("{record}/notes"), &helper.token, json!({"text": "x", "scope": "care_team"})).await.problem(403);
    let notes = app.get(&format!("{record}/notes"), &helper.token).await;
    let texts: Vec<&str> =
        notes.json["items"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Courses faites, repas pris."]);
}

#[tokio::test]
async fn each_role_reads_the_note_scopes_of_its_profession() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": ehpad, "identity": identity("Portée", "Léa", "1933-03-03")}),
        )
        .await;
    let notes = format!("/api/v1/residents/{}/notes", created.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    for (author, scope) in [(&nurse, "whole_team"), (&nurse, "care_team"), (&nurse, "medical"), (&social, "social")] {
        let note = app.post(&notes, &author.token, json!({"text": scope, "scope": scope})).await;
        assert_eq!(note.status, 201, "{}", note.text);
    }
    let table: [(Role, &[&str]); 6] = [
        (Role::Nurse, &["whole_team", "care_team", "medical"]),
        (Role::CareAssistant, &["whole_team", "care_team"]),
        (Role::SocialWorker, &["whole_team", "social"]),
        (Role::Psychologist, &["whole_team", "care_team", "social"]),
        (Role::AdministrativeStaff, &["whole_team"]),
        (Role::CoordinatingPhysician, &["whole_team", "care_team", "medical"]),
    ];
    for (role, scopes) in table {
        let reader = app.user(&tenant, &[(Some(ehpad), role)]).await;
        let listed = app.get(&notes, &reader.token).await;
        let mut seen: Vec<&str> =
            listed.json["items"].as_array().unwrap().iter().map(|n| n["scope"].as_str().unwrap()).collect();
        seen.sort();
        let mut want = scopes.to_vec();
        want.sort();
        assert_eq!(seen, want, "{role}");
    }
    // A director reads the care team's notes only through a care role of their own: the secret
    // partagé keeps them to those who give care.
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let nursing_director = app.user(&tenant, &[(Some(ehpad), Role::Director), (Some(ehpad), Role::Nurse)]).await;
    for (reader, want) in [
        (&director, vec!["social", "whole_team"]),
        (&nursing_director, vec!["care_team", "medical", "social", "whole_team"]),
    ] {
        let listed = app.get(&notes, &reader.token).await;
        let mut seen: Vec<&str> =
            listed.json["items"].as_array().unwrap().iter().map(|n| n["scope"].as_str().unwrap()).collect();
        seen.sort();
        assert_eq!(seen, want);
    }
}

/// The recent-stay rule, written once and used by every statement, pinned at its edges: a stay
/// planned up to a year ahead is in the team's reach (the admission is prepared), one further
/// ahead is not; a stay ended `recent_stay_days` ago still is, one day more and it is not. Reads
/// (visibility) and writes (the record's context) agree, and so does the list.
#[tokio::test]
async fn the_recent_stay_rule_holds_at_its_edges_for_reads_writes_and_lists() {
    let app = TestApp::spawn_with(|config| config.access.recent_stay_days = 30).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let today = chrono::Utc::now().date_naive();
    let (planned, _) = admitted(&app, &tenant, "Prevue", today + chrono::Days::new(300)).await;
    let (far, _) = admitted(&app, &tenant, "Lointaine", today).await;
    // A stay more than a year ahead cannot be entered; it arrives with migrated data.
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             UPDATE stays SET admitted_on = current_date + 400 WHERE resident_id = '{far}'; COMMIT;",
            tenant.id
        ))
        .await
        .unwrap();
    let mut discharged = Vec::new();
    for (name, days_ago) in [("Trente", 30u64), ("TrenteEtUn", 31)] {
        let (id, stay) = admitted(&app, &tenant, name, today - chrono::Days::new(400)).await;
        discharge(&app, &tenant, &id, &stay, today - chrono::Days::new(days_ago)).await;
        discharged.push(id);
    }
    let listed = app.get("/api/v1/residents", &nurse.token).await;
    for (id, in_reach) in [(&planned, true), (&far, false), (&discharged[0], true), (&discharged[1], false)] {
        let read = app.get(&format!("/api/v1/residents/{id}"), &nurse.token).await;
        let write = app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": "Passage"})).await;
        if in_reach {
            assert_eq!((read.status, write.status), (200, 201), "{id}: {} {}", read.text, write.text);
            assert!(listed.text.contains(id.as_str()), "{id} is listed");
        } else {
            read.problem(404);
            write.problem(404);
            assert!(!listed.text.contains(id.as_str()), "{id} is not listed");
        }
        // The director oversees the establishment: every record of it, for good.
        assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &director.token).await.status, 200);
    }
}
