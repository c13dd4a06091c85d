//! A large organisation: the statements about one resident cost the same on a tenant of a
//! hundred thousand records and ten years of discharged stays as on a small service.

use dui_domain::people::Role;
use dui_domain::scope::{Grant, TenantScope};
use dui_storage::plans::{PlanProbe, access_plans, chain_plan};
use dui_testkit::TestApp;
use serde_json::json;

const RESIDENTS: i64 = 100_000;

/// The lines of `plan` that show a scan reading rows it then throws away by the thousand, or
/// a whole table read: what makes a statement's cost grow with the tenant.
fn growing(plan: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in plan.lines() {
        let removed = ["Rows Removed by Filter: ", "Rows Removed by Join Filter: ", "Rows Removed by Index Recheck: "]
            .iter()
            .find_map(|label| line.split(label).nth(1))
            .and_then(|n| n.trim().parse::<u64>().ok());
        if removed.is_some_and(|n| n > 200) {
            found.push(line.trim().to_owned());
        }
        for table in ["residents", "stays", "assignments", "emergency_accesses", "notes"] {
            // A branch of the generic plan these values do not take is not read.
            if line.contains(&format!("Seq Scan on {table} ")) && !line.contains("(never executed)") {
                found.push(line.trim().to_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn access_statements_read_the_residents_own_rows_on_a_tenant_of_a_hundred_thousand() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Grande association").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let (wing, round) = (tenant.units[0].id, tenant.units[1].id);
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": ehpad, "unit_id": wing, "confirm_homonym": true,
                   "identity": {"birth_name": "TEMOIN", "first_names": "Jeanne", "sex": "female",
                                "birth_date": "1936-04-02", "birth_place": "75056"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let resident: dui_domain::ResidentId = created.json["id"].as_str().unwrap().parse().unwrap();
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let written =
        app.post(&format!("/api/v1/residents/{resident}/notes"), &nurse.token, json!({"text": "Nuit calme."})).await;
    assert_eq!(written.status, 201, "{}", written.text);

    // Ten years of an organisation: a hundred thousand people, one in twenty still supported,
    // the others discharged at some point of the last ten years; one in four came twice. Copies
    // of the witness's sealed identity (they do not open under another id, which does not
    // matter to a plan).
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
             INSERT INTO residents (tenant_id, id, identity_status, identity, birth_identity_index, dek_version, record_status) \
             SELECT r.tenant_id, ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'PROV', r.identity, \
                    decode(md5('b' || g) || md5('c' || g), 'hex'), r.dek_version, 'active' \
             FROM residents r, generate_series(1, {RESIDENTS}) g WHERE r.id = '{resident}'; \
             INSERT INTO stays (tenant_id, id, resident_id, establishment_id, unit_id, mode, admitted_on, admission_mode, \
                                discharged_on, discharge_mode) \
             SELECT '{tenant}', gen_random_uuid(), ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, \
                    CASE WHEN g % 2 = 0 THEN '{ehpad}'::uuid ELSE '{saad}'::uuid END, \
                    CASE WHEN g % 2 = 0 THEN '{wing}'::uuid ELSE '{round}'::uuid END, 'permanent', a, 'new', \
                    CASE WHEN g % 20 = 0 THEN NULL ELSE least(a + g % 900, current_date - 40) END, \
                    CASE WHEN g % 20 = 0 THEN NULL ELSE 'death' END \
             FROM generate_series(1, {RESIDENTS}) g, LATERAL (SELECT current_date - 60 - (g * 7919) % 3600 AS a) x; \
             INSERT INTO stays (tenant_id, id, resident_id, establishment_id, unit_id, mode, admitted_on, admission_mode, \
                                discharged_on, discharge_mode) \
             SELECT s.tenant_id, gen_random_uuid(), s.resident_id, s.establishment_id, s.unit_id, 'temporary', \
                    s.admitted_on - 400, 'new', s.admitted_on - 300, 'home' \
             FROM stays s WHERE s.resident_id::text LIKE '00000000-0000-7000-8000-%' \
               AND ('x' || right(s.resident_id::text, 8))::bit(32)::int % 4 = 0; \
             COMMIT; ANALYZE residents; ANALYZE stays;",
            tenant = tenant.id,
        ))
        .await
        .unwrap();
    owner.query("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
    let counted = owner
        .query_one("SELECT count(*) FROM stays WHERE tenant_id = $1", &[&tenant.id.as_uuid()])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert!(counted > RESIDENTS + RESIDENTS / 5, "{counted} stays");

    let birth_index: Vec<u8> = owner
        .query_one("SELECT birth_identity_index FROM residents WHERE id = $1", &[&resident.as_uuid()])
        .await
        .unwrap()
        .get(0);
    let probe = PlanProbe { resident, birth_index: &birth_index, establishment: ehpad, unit: wing };
    let scopes = [
        ("nurse", TenantScope::new(tenant.id, nurse.id, vec![Grant { establishment: Some(ehpad), role: Role::Nurse }])),
        (
            "director",
            TenantScope::new(tenant.id, tenant.admin.id, vec![Grant { establishment: None, role: Role::TenantAdmin }]),
        ),
    ];
    for (who, scope) in &scopes {
        let plans = access_plans(app.store.begin(scope, dui_storage::Mode::Write), probe, true).await.unwrap();
        assert_eq!(plans.len(), 8);
        for (statement, plan) in plans {
            if std::env::var("DUI_SHOW_PLANS").is_ok() {
                eprintln!("== {statement} ({who})\n{plan}");
            }
            let growing = growing(&plan);
            assert!(
                growing.is_empty(),
                "{statement} for the {who} reads the tenant, not the resident: {growing:?}\n{plan}"
            );
        }
    }
}

/// Events in a trail of years: the chainer's look at a tenant's new events reads those events,
/// not the trail.
const EVENTS: i64 = 100_000;

#[tokio::test]
async fn the_chainer_reads_the_new_events_not_the_whole_trail() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Longue mémoire").await;
    // Years of reads, written as the trail writes them: a transaction per thousand events.
    let owner = app.db.connect(&app.db.owner_url).await;
    for batch in 0..EVENTS / 1000 {
        owner
            .batch_execute(&format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
                 INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome, resource_type) \
                 SELECT '{tenant}', gen_random_uuid(), now() - make_interval(hours => {EVENTS} - g), 'console', \
                        'resident.read', 'success', 'resident' \
                 FROM generate_series({from}, {to}) g; COMMIT;",
                tenant = tenant.id,
                from = batch * 1000 + 1,
                to = batch * 1000 + 1000,
            ))
            .await
            .unwrap();
    }
    app.store.chain_tenant(tenant.id).await.unwrap();
    owner.batch_execute("ANALYZE audit_events; ANALYZE audit_chain;").await.unwrap();
    // A few new events, not chained yet.
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": tenant.establishments[0].id, "confirm_homonym": true,
                   "identity": {"birth_name": "TEMOIN", "first_names": "Jeanne", "sex": "female",
                                "birth_date": "1936-04-02", "birth_place": "75056"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let plan = chain_plan(app.store.begin_for_tenant(tenant.id, dui_storage::Mode::Write)).await.unwrap();
    if std::env::var("DUI_SHOW_PLANS").is_ok() {
        eprintln!("{plan}");
    }
    // What it may read again is the last batch it chained (the transactions from the horizon
    // on): a thousand events at most, out of a hundred thousand.
    let growing: Vec<&str> = plan
        .lines()
        .filter(|line| {
            let removed = line.split("Rows Removed by Filter: ").nth(1).and_then(|n| n.trim().parse::<u64>().ok());
            removed.is_some_and(|n| n > 1000)
                || (line.contains("Seq Scan on audit_") && !line.contains("(never executed)"))
                || line.contains("Hash Anti Join")
        })
        .map(str::trim)
        .collect();
    assert!(growing.is_empty(), "the chainer reads the trail, not its new events: {growing:?}\n{plan}");
    assert!(plan.contains("rows=1 "), "the new event is found: {plan}");
}
