//! Transmissions: the kinds of notes, amendments that keep the original, notes entered in
//! error, and the hand-over feed — scope filtering, names, periods, read markers, pagination —
//! whose query plan stays on its indexes.

use dui_domain::people::Role;
use dui_domain::scope::{Grant, TenantScope};
use dui_storage::notes::Feed;
use dui_testkit::{TestApp, TestTenant, TestUser};
use serde_json::{Value, json};

use crate::residents::identity;

/// Admits a person into the EHPAD, in `unit`; returns the record's path.
async fn admit_into(app: &TestApp, tenant: &TestTenant, unit: &str, birth_name: &str, first_names: &str) -> String {
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": tenant.establishments[0].id, "unit_id": unit, "confirm_homonym": true,
                   "identity": identity(birth_name, first_names, "1936-04-02")}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    format!("/api/v1/residents/{}", created.json["id"].as_str().unwrap())
}

async fn write(app: &TestApp, record: &str, author: &TestUser, body: Value) -> Value {
    let written = app.post(&format!("{record}/notes"), &author.token, body).await;
    assert_eq!(written.status, 201, "{}", written.text);
    written.json
}

fn ids(items: &Value) -> Vec<&str> {
    items.as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn notes_have_kinds_and_are_corrected_never_erased() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let wing = tenant.units[0].id.to_string();
    let record = admit_into(&app, &tenant, &wing, "Cible", "Rose").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let colleague = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;

    // A transmission ciblée: target and D / A / R, filed under the person's unit.
    let targeted = write(
        &app,
        &record,
        &nurse,
        json!({"target": "Douleur", "data": "EVA 7 au lever", "actions": "Antalgique selon protocole",
               "results": "EVA 3 à 10 h", "scope": "care_team"}),
    )
    .await;
    assert_eq!((targeted["kind"].as_str(), targeted["unit_id"].as_str()), (Some("targeted"), Some(wing.as_str())));
    assert_eq!(targeted["target"], "Douleur");
    assert_eq!(targeted["results"], "EVA 3 à 10 h");
    assert!(targeted["text"].is_null() && targeted["incident"].is_null() && targeted["amended_by"].is_null());
    // An incident, with its type and severity; an observation.
    let incident = write(
        &app,
        &record,
        &nurse,
        json!({"kind": "incident", "text": "Retrouvée au sol de la salle de bains", "incident_type": "fall",
               "severity": "moderate", "facts_at": "2026-11-30T05:40:00Z"}),
    )
    .await;
    assert_eq!(incident["incident"], json!({"type": "fall", "severity": "moderate"}));
    assert_eq!(incident["facts_at"], "2026-11-30T05:40:00Z");
    write(&app, &record, &nurse, json!({"kind": "observation", "text": "Bon appétit ce midi"})).await;

    // Shapes that do not fit their kind are refused, naming the fields.
    for (body, fields) in [
        (json!({"kind": "targeted", "text": "x"}), vec!["target", "data", "text"]),
        (json!({"kind": "incident", "text": "Chute"}), vec!["incident_type", "severity"]),
        (json!({"text": "x", "severity": "minor"}), vec!["severity"]),
        (json!({"kind": "free"}), vec!["text"]),
        (json!({"text": "x", "facts_at": "2099-01-01T00:00:00Z"}), vec!["facts_at"]),
    ] {
        let refused = app.post(&format!("{record}/notes"), &nurse.token, body.clone()).await;
        let errors: Vec<&str> =
            refused.problem(422)["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(errors, fields, "{body}");
    }

    // Only the author amends; the amendment keeps kind and scope and points to the original.
    let original = targeted["id"].as_str().unwrap();
    let amend = format!("{record}/notes/{original}/amendments");
    let correction = json!({"target": "Douleur", "data": "EVA 6 au lever", "actions": "Antalgique selon protocole"});
    app.post(&amend, &colleague.token, correction.clone()).await.problem(403);
    app.post(&amend, &nurse.token, json!({"kind": "observation", "text": "x"})).await.problem(422);
    let amended = app.post(&amend, &nurse.token, correction).await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    assert_eq!((amended.json["amends"].as_str(), amended.json["scope"].as_str()), (Some(original), Some("care_team")));
    assert_eq!(amended.json["data"], "EVA 6 au lever");
    let notes = app.get(&format!("{record}/notes"), &nurse.token).await;
    let listed = notes.json["items"].as_array().unwrap();
    let first = listed.iter().find(|n| n["id"] == original).unwrap();
    assert_eq!(first["data"], "EVA 7 au lever", "the original is unchanged");
    assert_eq!(first["amended_by"], amended.json["id"]);
    assert_eq!(listed.len(), 4);

    // Entered in error: by the author or a director, once, with a reason; the note stays.
    let observation = listed.iter().find(|n| n["kind"] == "observation").unwrap()["id"].as_str().unwrap().to_owned();
    let flag = format!("{record}/notes/{observation}/entered-in-error");
    app.post(&flag, &colleague.token, json!({"reason": "Mauvais résident"})).await.problem(403);
    let flagged = app.post(&flag, &director.token, json!({"reason": "Écrit sur le mauvais résident"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["entered_in_error"]["by"], director.id.to_string());
    assert_eq!(flagged.json["entered_in_error"]["reason"], "Écrit sur le mauvais résident");
    assert_eq!(flagged.json["text"], "Bon appétit ce midi");
    app.post(&flag, &nurse.token, json!({"reason": "encore"})).await.problem(409);
    app.post(&format!("{record}/notes/{observation}/amendments"), &nurse.token, json!({"text": "x"}))
        .await
        .problem(409);
    let notes = app.get(&format!("{record}/notes"), &nurse.token).await;
    assert_eq!(notes.json["items"].as_array().unwrap().len(), 4, "nothing is deleted");

    // A note the reader may not read is as absent as a note that does not exist.
    let helper = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let medical = write(&app, &record, &nurse, json!({"text": "Bilan sanguin", "scope": "medical"})).await;
    let medical = medical["id"].as_str().unwrap();
    app.post(&format!("{record}/notes/{medical}/entered-in-error"), &helper.token, json!({"reason": "essai"}))
        .await
        .problem(404);

    // Every write left its trace.
    let report = app.get(&format!("{record}/access-report"), &director.token).await;
    let actions: Vec<&str> = report.json.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["note.create", "note.amend", "note.flag_error"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn the_handover_feed_shows_what_each_reader_may_read_since_the_last_shift() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let wing_a = tenant.units[0].id.to_string();
    let wing_b = app
        .post(&format!("/api/v1/establishments/{ehpad}/units"), &tenant.admin.token, json!({"name": "Aile B"}))
        .await;
    let wing_b = wing_b.json["id"].as_str().unwrap().to_owned();
    let rose = admit_into(&app, &tenant, &wing_a, "Martin", "Rose Alice").await;
    let paul = admit_into(&app, &tenant, &wing_b, "Durand", "Paul").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let elsewhere = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;

    let n1 = write(&app, &rose, &nurse, json!({"text": "Nuit calme"})).await;
    let n2 = write(&app, &paul, &nurse, json!({"text": "Bilan sanguin à jeun", "scope": "medical"})).await;
    let n3 = write(&app, &paul, &assistant, json!({"target": "Alimentation", "data": "A mangé la moitié"})).await;
    let n4 = write(&app, &rose, &assistant, json!({"text": "Visite de sa fille"})).await;
    let id = |note: &Value| note["id"].as_str().unwrap().to_owned();
    let since = "since=2020-01-01T00:00:00Z";

    // The establishment's feed, newest first; the care assistant does not get the medical note.
    let feed = format!("/api/v1/establishments/{ehpad}/handover");
    let nurse_view = app.get(&format!("{feed}?{since}"), &nurse.token).await;
    assert_eq!(nurse_view.status, 200, "{}", nurse_view.text);
    assert_eq!(ids(&nurse_view.json["items"]), [id(&n4), id(&n3), id(&n2), id(&n1)]);
    let assistant_view = app.get(&format!("{feed}?{since}"), &assistant.token).await;
    assert_eq!(ids(&assistant_view.json["items"]), [id(&n4), id(&n3), id(&n1)]);
    // With the people's names (used name and first name), and the note's content.
    let first = &nurse_view.json["items"][0];
    assert_eq!(first["resident"]["family_name"], "Martin");
    assert_eq!(first["resident"]["given_name"], "Rose");
    assert_eq!(first["text"], "Visite de sa fille");
    assert_eq!(nurse_view.json["items"][1]["target"], "Alimentation");
    assert!(first["unread"].as_bool().unwrap());

    // One unit's feed.
    let unit_b = app.get(&format!("{feed}?{since}&unit_id={wing_b}"), &nurse.token).await;
    assert_eq!(ids(&unit_b.json["items"]), [id(&n3), id(&n2)]);
    // A unit of another establishment, an establishment one does not work in: absent.
    let saad_unit = tenant.units[1].id;
    app.get(&format!("{feed}?unit_id={saad_unit}"), &nurse.token).await.problem(404);
    app.get(&format!("{feed}?{since}"), &elsewhere.token).await.problem(404);
    // A period: nothing written from a minute ahead... is refused as the future; from now on,
    // nothing; by default, the previous shift's start, which is in the past.
    app.get(&format!("{feed}?since=2099-01-01T00:00:00Z"), &nurse.token).await.problem(422);
    app.get(&format!("{feed}?since=yesterday"), &nurse.token).await.problem(400);
    let default = app.get(&feed, &nurse.token).await;
    assert_eq!(default.status, 200, "{}", default.text);
    let start = chrono::DateTime::parse_from_rfc3339(default.json["since"].as_str().unwrap()).unwrap();
    let age = chrono::Utc::now().signed_duration_since(start);
    assert!(age > chrono::Duration::zero() && age <= chrono::Duration::hours(24), "previous shift start: {start}");
    assert_eq!(ids(&default.json["items"]).len(), 4, "today's notes are in the last two shifts");

    // Shifts and time zone are the establishment's: in Réunion (UTC+4, no summer time) with
    // shifts at 06:00 and 18:00, the feed starts at the previous shift's start there.
    let patch = format!("/api/v1/establishments/{ehpad}");
    let changed = app
        .patch(&patch, &tenant.admin.token, json!({"timezone": "Indian/Reunion", "shift_starts": ["18:00", "06:00"]}))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["shift_starts"], json!(["06:00", "18:00"]));
    let local = chrono::Utc::now().naive_utc() + chrono::Duration::hours(4);
    let starts: Vec<chrono::NaiveDateTime> = (0..3)
        .flat_map(|back| {
            let date = local.date() - chrono::Duration::days(back);
            [6, 18].map(|h| date.and_hms_opt(h, 0, 0).unwrap())
        })
        .filter(|s| *s <= local)
        .collect();
    let mut starts = starts;
    starts.sort();
    let previous = starts[starts.len() - 2] - chrono::Duration::hours(4);
    let reunion = app.get(&feed, &nurse.token).await;
    assert_eq!(reunion.json["since"], format!("{}Z", previous.format("%Y-%m-%dT%H:%M:%S")), "{}", reunion.text);
    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), None),
        (json!({"timezone": "Europe/Paris; DROP"}), Some("timezone")),
        (json!({"shift_starts": ["7h"]}), Some("shift_starts[0]")),
        (json!({"shift_starts": []}), Some("shift_starts")),
    ] {
        let refused = app.patch(&patch, &tenant.admin.token, body.clone()).await;
        let problem = refused.problem(422);
        if let Some(field) = field {
            assert_eq!(problem["errors"][0]["field"], field, "{body}");
        }
    }
    app.patch(
        &patch,
        &tenant.admin.token,
        json!({"timezone": "Europe/Paris", "shift_starts": ["07:00", "14:00", "21:00"]}),
    )
    .await;

    // Pagination within the period.
    let page = app.get(&format!("{feed}?{since}&limit=3"), &nurse.token).await;
    assert_eq!(ids(&page.json["items"]), [id(&n4), id(&n3), id(&n2)]);
    let cursor = page.json["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("{feed}?{since}&limit=3&cursor={cursor}"), &nurse.token).await;
    assert_eq!(ids(&rest.json["items"]), [id(&n1)]);
    assert!(rest.json["next_cursor"].is_null());

    // Read markers: per user and per feed, never backwards; `unread` starts after them.
    let marker = format!("{feed}/read-marker");
    let moved = app.put(&marker, &nurse.token, json!({"up_to": id(&n2)})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    app.put(&marker, &nurse.token, json!({"up_to": id(&n1)})).await;
    let unread = app.get(&format!("{feed}?unread=true"), &nurse.token).await;
    assert_eq!(unread.json["read_up_to"], id(&n2).as_str());
    assert_eq!(ids(&unread.json["items"]), [id(&n4), id(&n3)]);
    let all = app.get(&format!("{feed}?{since}"), &nurse.token).await;
    let flags: Vec<bool> =
        all.json["items"].as_array().unwrap().iter().map(|n| n["unread"].as_bool().unwrap()).collect();
    assert_eq!(flags, [true, true, false, false]);
    // The unit's feed has its own marker; the assistant has theirs.
    let unit_unread = app.get(&format!("{feed}?unread=true&unit_id={wing_b}"), &nurse.token).await;
    assert!(unit_unread.json["read_up_to"].is_null());
    assert_eq!(app.get(&format!("{feed}?unread=true"), &assistant.token).await.json["read_up_to"], Value::Null);
    app.get(&format!("{feed}?unread=true&{since}"), &nurse.token).await.problem(422);
    app.put(&marker, &nurse.token, json!({"up_to": uuid::Uuid::now_v7()})).await.problem(404);
    // A unit's marker moves only to a note of that unit: Rose's note is in wing A, not B.
    let refused = app.put(&marker, &nurse.token, json!({"up_to": id(&n4), "unit_id": wing_b})).await;
    refused.problem(404);
    let unit_marker = app.get(&format!("{feed}?unread=true&unit_id={wing_b}"), &nurse.token).await;
    assert!(unit_marker.json["read_up_to"].is_null(), "{}", unit_marker.text);
    let moved = app.put(&marker, &nurse.token, json!({"up_to": id(&n3), "unit_id": wing_b})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);

    // Each person shown was recorded as read by the reader.
    let report = app.get(&format!("{paul}/access-report"), &tenant.admin.token).await;
    let reads = report
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "handover.read" && e["actor_id"] == assistant.id.to_string())
        .count();
    assert_eq!(reads, 2, "two reads of the feed by the assistant: {}", report.text);
}

#[tokio::test]
async fn the_feed_reads_an_index_range_whatever_the_history() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let wing = tenant.units[0].id;
    let record = admit_into(&app, &tenant, &wing.to_string(), "Historique", "Jean").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    write(&app, &record, &nurse, json!({"text": "Modèle"})).await;

    // Two years of history, a note every ten minutes, spread over eight units of the EHPAD and
    // a round of the home-help service: copies of the note (their bodies do not open elsewhere,
    // which does not matter to a plan).
    let mut units = vec![wing.to_string()];
    for n in 2..=8 {
        let unit = app
            .post(
                &format!("/api/v1/establishments/{ehpad}/units"),
                &tenant.admin.token,
                json!({"name": format!("Aile {n}")}),
            )
            .await;
        units.push(unit.json["id"].as_str().unwrap().to_owned());
    }
    units.push(tenant.units[1].id.to_string());
    let units = units.iter().map(|u| format!("'{u}'::uuid")).collect::<Vec<_>>().join(", ");
    let saad = tenant.establishments[1].id;
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             INSERT INTO notes (tenant_id, id, resident_id, author_id, establishment_id, unit_id, kind, scope, written_at, \
                                facts_at, body, dek_version) \
             SELECT n.tenant_id, (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7000' || '8000' \
                                  || lpad(to_hex(g), 12, '0'))::uuid, \
                    n.resident_id, n.author_id, CASE WHEN g % 9 = 8 THEN '{saad}'::uuid ELSE n.establishment_id END, \
                    (ARRAY[{units}])[1 + g % 9], n.kind, n.scope, t, t, n.body, n.dek_version \
             FROM notes n, generate_series(1, 105120) g, LATERAL (SELECT now() - interval '2 years' + g * interval '10 minutes' - interval '1 day' AS t) x; \
             COMMIT; ANALYZE notes;",
            tenant.id
        ))
        .await
        .unwrap();

    let scope = TenantScope::new(tenant.id, nurse.id, vec![Grant { establishment: Some(ehpad), role: Role::Nurse }]);
    let since = chrono::Utc::now() - chrono::Duration::hours(8);
    for (feed, index) in [
        (Feed { establishment: ehpad, unit: Some(wing) }, "notes_by_unit"),
        (Feed { establishment: ehpad, unit: None }, "notes_by_establishment"),
    ] {
        let plan =
            dui_storage::notes::explain_handover(app.store.begin(&scope, dui_storage::Mode::Write), feed, since, false)
                .await
                .unwrap();
        assert!(plan.contains(&format!("Index Scan using {index}")), "{plan}");
        assert!(!plan.contains("Seq Scan on notes"), "{plan}");
    }
}

#[tokio::test]
async fn the_feed_shows_an_amended_note_once_hides_errors_and_tells_the_days_events() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let wing = tenant.units[0].id.to_string();
    let record = admit_into(&app, &tenant, &wing, "Releve", "Anne").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let night = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let feed = format!("/api/v1/establishments/{ehpad}/handover");
    let since = format!("since={}", (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339());
    let since = since.replace('+', "%2B");

    // An amendment and its original are one item: the latest text, naming the original.
    let original = write(&app, &record, &nurse, json!({"text": "Chute sans gravité dans la chambre"})).await;
    let kept = write(&app, &record, &nurse, json!({"text": "A bien dîné"})).await;
    let wrong = write(&app, &record, &nurse, json!({"text": "Note pour une autre personne"})).await;
    // The night nurse reads the feed up to here.
    let marker = app.put(&format!("{feed}/read-marker"), &night.token, json!({"up_to": wrong["id"]})).await;
    assert_eq!(marker.status, 200, "{}", marker.text);
    let amended = app
        .post(
            &format!("{record}/notes/{}/amendments", original["id"].as_str().unwrap()),
            &nurse.token,
            json!({"text": "Chute dans la chambre, bosse au front : surveillance neurologique"}),
        )
        .await;
    assert_eq!(amended.status, 201, "{}", amended.text);
    let flagged = app
        .post(
            &format!("{record}/notes/{}/entered-in-error", wrong["id"].as_str().unwrap()),
            &nurse.token,
            json!({"reason": "Écrite sur le mauvais dossier"}),
        )
        .await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);

    let texts = |body: &Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap().to_owned()).collect()
    };
    // Someone who never read it: the amendment once, unread; no note entered in error.
    let fresh = app.get(&format!("{feed}?{since}"), &social.token).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_eq!(
        texts(&fresh.json),
        ["Chute dans la chambre, bosse au front : surveillance neurologique", "A bien dîné"]
    );
    assert_eq!(fresh.json["items"][0]["amends"], original["id"]);
    // The night nurse had read the wrong note: she sees it struck (entered in error), and the
    // amendment as the one unread item.
    let read_before = app.get(&format!("{feed}?{since}"), &night.token).await;
    assert_eq!(
        texts(&read_before.json),
        [
            "Chute dans la chambre, bosse au front : surveillance neurologique",
            "Note pour une autre personne",
            "A bien dîné"
        ]
    );
    let items = read_before.json["items"].as_array().unwrap();
    assert_eq!(items[1]["entered_in_error"]["reason"], "Écrite sur le mauvais dossier");
    let unread: Vec<bool> = items.iter().map(|n| n["unread"].as_bool().unwrap()).collect();
    assert_eq!(unread, [true, false, false]);
    let unread_only = app.get(&format!("{feed}?unread=true"), &night.token).await;
    assert_eq!(texts(&unread_only.json), ["Chute dans la chambre, bosse au front : surveillance neurologique"]);
    let _ = kept;

    // The day's events: a refused task and a fever, each linked to its source.
    let plan = app
        .post(
            &format!("{record}/care-plan"),
            &nurse.token,
            json!({"content": {"expectations": "Confort", "actions": [
                {"what": "Douche", "who": {"role": "nurse"}, "schedule": {"kind": "every_hours", "every": 1, "from": "00:00"}}]}}),
        )
        .await;
    let version = format!("{record}/care-plan/versions/{}", plan.json["id"].as_str().unwrap());
    let tag = crate::care_plans::validated(&app, &version, &nurse.token).await;
    let active = app
        .request_with(
            reqwest::Method::POST,
            &format!("{version}/activate"),
            Some(&nurse.token),
            None,
            &[("If-Match", &tag)],
        )
        .await;
    assert_eq!(active.status, 200, "{}", active.text);
    crate::care_tasks::backdate(&app, &tenant, &plan.json["id"], "2026-06-01T00:00:00Z").await;
    let tasks = app.get(&format!("/api/v1/establishments/{ehpad}/tasks"), &nurse.token).await;
    let task = tasks
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] != "pending")
        .cloned()
        .unwrap_or_else(|| tasks.json[0].clone());
    let refused = app
        .post(
            &format!("{record}/tasks"),
            &nurse.token,
            json!({"plan_version_id": task["plan_version_id"], "action_id": task["action_id"],
                   "scheduled_for": task["scheduled_for"], "status": "refused", "reason": "Ne voulait pas ce matin"}),
        )
        .await;
    assert_eq!(refused.status, 201, "{}", refused.text);
    let fever =
        app.post(&format!("{record}/measurements"), &nurse.token, json!({"kind": "temperature", "value": 38.6})).await;
    assert_eq!(fever.status, 201, "{}", fever.text);
    let normal = app.post(&format!("{record}/measurements"), &nurse.token, json!({"kind": "pulse", "value": 72})).await;
    assert_eq!(normal.status, 201, "{}", normal.text);

    let shown = app.get(&format!("{feed}?{since}"), &night.token).await;
    let events = shown.json["events"].as_array().unwrap();
    let summaries: Vec<&str> = events.iter().map(|e| e["summary"].as_str().unwrap()).collect();
    let admitted_on = chrono::Utc::now().date_naive().format("%d/%m/%Y").to_string();
    let admission = format!("Admission le {admitted_on} (hébergement permanent)");
    assert_eq!(
        summaries,
        ["Température 38,6 °C (haute)", "Douche : refusé — Ne voulait pas ce matin", admission.as_str()],
        "{}",
        shown.text
    );
    assert_eq!(
        (events[0]["kind"].as_str(), events[0]["source_type"].as_str()),
        (Some("abnormal_measurement"), Some("measurement"))
    );
    assert_eq!(events[0]["source_id"], fever.json["id"]);
    assert_eq!(events[1]["source_id"], refused.json["id"]);
    assert_eq!(events[1]["resident"]["family_name"], "Releve");
    // The admission came before the night nurse's marker: read; the rest is new.
    let unread: Vec<bool> = events.iter().map(|e| e["unread"].as_bool().unwrap()).collect();
    assert_eq!(unread, [true, true, false]);
    // The social worker sees the refused task (the whole team's), not the fever (the care team's).
    let theirs = app.get(&format!("{feed}?{since}"), &social.token).await;
    let kinds: Vec<&str> =
        theirs.json["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task_refused", "admission"]);
    // A replayed write tells nothing twice.
    let key = [("Idempotency-Key", "fievre-1")];
    for _ in 0..2 {
        let again = app
            .request_with(
                reqwest::Method::POST,
                &format!("{record}/measurements"),
                Some(&nurse.token),
                Some(json!({"kind": "spo2", "value": 89})),
                &key,
            )
            .await;
        assert_eq!(again.status, 201, "{}", again.text);
    }
    let shown = app.get(&format!("{feed}?{since}"), &night.token).await;
    let low: Vec<&Value> =
        shown.json["events"].as_array().unwrap().iter().filter(|e| e["summary"] == "SpO2 89 % (basse)").collect();
    assert_eq!(low.len(), 1, "{}", shown.text);

    // A discharge to hospital is told too.
    let read = app.get(&record, &nurse.token).await;
    let stay = read.json["current_stay"]["id"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive().to_string();
    let ended = app
        .request_with(
            reqwest::Method::PATCH,
            &format!("{record}/stays/{stay}"),
            Some(&tenant.admin.token),
            Some(json!({"discharged_on": today, "discharge_mode": "hospital"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    let shown = app.get(&format!("{feed}?{since}"), &night.token).await;
    assert_eq!(shown.json["events"][0]["kind"], "discharge", "{}", shown.text);
    assert_eq!(shown.json["events"][0]["summary"], format!("Sortie le {admitted_on} (hospitalisation)"));
    assert_eq!(shown.json["events"][0]["source_id"], stay.as_str());
}

#[tokio::test]
async fn falls_alerts_and_departures_are_told_at_the_hand_over_to_those_who_may_read_them() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let wing = tenant.units[0].id.to_string();
    let record = admit_into(&app, &tenant, &wing, "Evenement", "Jeanne").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let helper = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let feed = format!("/api/v1/establishments/{ehpad}/handover");
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339().replace('+', "%2B");

    let fall = app
        .post(
            &format!("{record}/falls"),
            &nurse.token,
            json!({"occurred_at": chrono::Utc::now() - chrono::Duration::minutes(1), "place": "bathroom",
                   "discovery": "found_on_floor", "circumstances": "Retrouvée au sol", "consequences": ["head_injury"]}),
        )
        .await;
    assert_eq!(fall.status, 201, "{}", fall.text);
    let allergy = app
        .post(
            &format!("{record}/allergies"),
            &nurse.token,
            json!({"kind": "allergy", "substance": "Arachide", "severity": "life_threatening", "source": "family",
                   "scope": "whole_team"}),
        )
        .await;
    assert_eq!(allergy.status, 201, "{}", allergy.text);
    let away = app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "hospitalisation", "starts_at": chrono::Utc::now() - chrono::Duration::minutes(1),
                   "reason": "Bilan"}),
        )
        .await;
    assert_eq!(away.status, 201, "{}", away.text);

    let back = app
        .post(&format!("{record}/absences/{}/return", away.json["id"].as_str().unwrap()), &nurse.token, json!({}))
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    let restraint = app
        .post(
            &format!("{record}/restraints"),
            &nurse.token,
            json!({"kind": "bed_rails", "planned_end_at": chrono::Utc::now() + chrono::Duration::days(2),
                   "reason": "Chutes nocturnes", "conditions": {"when": "La nuit"},
                   "external_prescriber": {"name": "Dr Martin", "rpps": "10003456789"}}),
        )
        .await;
    assert_eq!(restraint.status, 201, "{}", restraint.text);
    let stopped = app
        .post(
            &format!("{record}/restraints/{}/stop", restraint.json["id"].as_str().unwrap()),
            &nurse.token,
            json!({"reason": "Lit bas installé"}),
        )
        .await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);

    let shown = app.get(&format!("{feed}?since={since}"), &nurse.token).await;
    let events: Vec<(&str, &str)> = shown.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["source_type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("restraint", "restraint"),
            ("restraint", "restraint"),
            ("return", "absence"),
            ("absence", "absence"),
            ("alert", "allergy"),
            ("fall", "fall"),
            ("admission", "stay")
        ],
        "{}",
        shown.text
    );
    let fall_event = &shown.json["events"][5];
    assert_eq!(fall_event["source_id"], fall.json["id"]);
    assert!(fall_event["summary"].as_str().unwrap().starts_with("Chute grave"), "{fall_event}");
    assert_eq!(shown.json["events"][4]["summary"], "Allergie : Arachide (life_threatening)");
    assert_eq!(shown.json["events"][0]["summary"], "Contention arrêtée");
    assert_eq!(shown.json["events"][3]["source_id"], away.json["id"]);
    // The social worker learns of the departure and of the allergy the team shares, not of the
    // fall, which is the care team's.
    let theirs = app.get(&format!("{feed}?since={since}"), &helper.token).await;
    let kinds: Vec<&str> =
        theirs.json["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["return", "absence", "alert", "admission"], "{}", theirs.text);
}

#[tokio::test]
async fn the_feed_records_each_person_it_shows_once_those_told_by_events_only_included() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let wing = tenant.units[0].id.to_string();
    let with_notes = admit_into(&app, &tenant, &wing, "Avec", "Anne").await;
    let events_only = admit_into(&app, &tenant, &wing, "Sans", "Berthe").await;
    let quiet = admit_into(&app, &tenant, &wing, "Calme", "Claire").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let night = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    // From after the admissions: only what follows is in the period.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = format!("since={}", chrono::Utc::now().to_rfc3339()).replace('+', "%2B");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for text in ["Levée à 7 h", "Petit déjeuner pris", "Promenade au jardin"] {
        write(&app, &with_notes, &nurse, json!({"text": text})).await;
    }
    for record in [&with_notes, &events_only] {
        let fever = app
            .post(&format!("{record}/measurements"), &nurse.token, json!({"kind": "temperature", "value": 38.9}))
            .await;
        assert_eq!(fever.status, 201, "{}", fever.text);
    }

    let feed = format!("/api/v1/establishments/{ehpad}/handover?{since}&limit=2");
    let first = app.get(&feed, &night.token).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["items"].as_array().unwrap().len(), 2, "{}", first.text);
    let told: Vec<&str> = first.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resident"]["family_name"].as_str().unwrap())
        .collect();
    assert_eq!(told, ["Sans", "Avec"], "{}", first.text);
    // The next page holds the last note, and no event again.
    let cursor = first.json["next_cursor"].as_str().unwrap();
    let next = app.get(&format!("{feed}&cursor={cursor}"), &night.token).await;
    assert_eq!(next.json["items"].as_array().unwrap().len(), 1, "{}", next.text);
    assert_eq!(next.json["events"], json!([]), "{}", next.text);

    // The first reading recorded each person shown once (the notes' and the events' people
    // together), the second the one person of its note; the person nothing was told of, none.
    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute(&format!("SET app.tenant_id = '{}'", tenant.id)).await.unwrap();
    let id = |record: &str| record.rsplit('/').next().unwrap().parse::<uuid::Uuid>().unwrap();
    let mut reads = Vec::new();
    for record in [&with_notes, &events_only, &quiet] {
        let count: i64 = owner
            .query_one(
                "SELECT count(*) FROM audit_events WHERE action = 'handover.read' AND actor_id = $1 AND resident_id = $2 \
                 AND outcome = 'success'",
                &[&night.id.as_uuid(), &id(record)],
            )
            .await
            .unwrap()
            .get(0);
        reads.push(count);
    }
    assert_eq!(reads, [2, 1, 0]);
}
