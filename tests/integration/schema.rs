//! The schema's isolation rules, checked against the live database, and row-level security
//! tried directly as the application role.

use dui_testkit::TestDb;
use uuid::Uuid;

/// Platform-level tables: they describe tenants, not their residents, or record what happens
/// before a tenant is known (refused authentications) or above tenants (operators' actions); the
/// outbox's doorbell says only which tenant has messages due on which channel, and from when.
/// The drug referential is national public data (the BDPM), the same for every tenant and
/// saying nothing of anyone: the application role only reads it, the import writes it as the
/// owner.
const PLATFORM_TABLES: [&str; 12] = [
    "tenants",
    "platform_operators",
    "identity_providers",
    "dui_schema_history",
    "platform_events",
    "auth_failures",
    "outbox_due",
    "drug_imports",
    "drug_specialities",
    "drug_presentations",
    "drug_compositions",
    "drug_substances",
];

async fn tenant_tables(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|t| !PLATFORM_TABLES.contains(&t.as_str()))
        .collect()
}

#[tokio::test]
async fn every_tenant_table_is_keyed_and_protected_by_tenant() {
    let db = TestDb::new().await;
    let owner = db.connect(&db.owner_url).await;
    let tables = tenant_tables(&owner).await;
    assert!(tables.len() >= 5, "{tables:?}");
    for table in &tables {
        let row = owner
            .query_one(
                "SELECT c.relrowsecurity, c.relforcerowsecurity, \
                        (SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
                           ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                         WHERE i.indrelid = c.oid AND i.indisprimary) AS first_key, \
                        (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS policies \
                 FROM pg_class c WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace",
                &[table],
            )
            .await
            .unwrap();
        assert!(row.get::<_, bool>(0), "{table}: row-level security must be enabled");
        assert!(row.get::<_, bool>(1), "{table}: row-level security must be forced");
        assert_eq!(
            row.get::<_, Option<String>>(2).as_deref(),
            Some("tenant_id"),
            "{table}: tenant_id must lead the primary key"
        );
        assert_eq!(row.get::<_, i64>(3), 1, "{table}: the tenant_isolation policy is missing");
    }
}

#[tokio::test]
async fn every_foreign_key_between_tenant_tables_carries_the_tenant() {
    let db = TestDb::new().await;
    let owner = db.connect(&db.owner_url).await;
    let tables = tenant_tables(&owner).await;
    let rows = owner
        .query(
            "SELECT con.conname::text, src.relname::text, dst.relname::text, \
                    (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attnum = con.conkey[1]) \
             FROM pg_constraint con JOIN pg_class src ON src.oid = con.conrelid JOIN pg_class dst ON dst.oid = con.confrelid \
             WHERE con.contype = 'f' AND src.relnamespace = 'public'::regnamespace",
            &[],
        )
        .await
        .unwrap();
    let mut checked = 0;
    for row in rows {
        let (name, source, target, first): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let source_is_tenant = tables.contains(&source);
        let target_is_tenant_level = tables.contains(&target) || target == "identity_providers";
        if source_is_tenant && target_is_tenant_level {
            assert_eq!(first, "tenant_id", "{name} ({source} → {target}) must start with tenant_id");
            checked += 1;
        }
    }
    assert!(checked >= 5, "expected the composite foreign keys to be found, got {checked}");
}

#[tokio::test]
async fn the_application_role_cannot_cross_tenants_even_without_a_filter() {
    let db = TestDb::new().await;
    let owner = db.connect(&db.owner_url).await;
    let (tenant_a, tenant_b) = (Uuid::now_v7(), Uuid::now_v7());
    for (tenant, finess) in [(tenant_a, "750000011"), (tenant_b, "750000012")] {
        owner
            .execute("INSERT INTO tenants (id, name, finess_juridique) VALUES ($1, 'T', $2)", &[&tenant, &finess])
            .await
            .unwrap();
        // The owner is subject to the policies too (FORCE): it must set the tenant to write.
        owner
            .batch_execute(&format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
                 INSERT INTO establishments (tenant_id, id, finess, name, category) VALUES ('{tenant}', '{}', '{finess}', 'E', 'ehpad'); COMMIT;",
                Uuid::now_v7()
            ))
            .await
            .unwrap();
    }

    let mut app = db.connect(&db.app_url).await;
    // No tenant set: nothing is visible (fail closed).
    let count: i64 = app.query_one("SELECT count(*) FROM establishments", &[]).await.unwrap().get(0);
    assert_eq!(count, 0);

    // Tenant A set, and a query that forgets the tenant filter: only A's rows.
    let tx = app.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant_a.to_string()]).await.unwrap();
    let tenants: Vec<Uuid> =
        tx.query("SELECT tenant_id FROM establishments", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(tenants, vec![tenant_a]);
    // Updating B's rows touches nothing.
    let updated =
        tx.execute("UPDATE establishments SET name = 'hijacked' WHERE tenant_id = $1", &[&tenant_b]).await.unwrap();
    assert_eq!(updated, 0);
    // Writing a row for B while acting for A is refused.
    let error = tx
        .execute(
            "INSERT INTO establishments (tenant_id, id, finess, name, category) VALUES ($1, $2, '750000013', 'E', 'ehpad')",
            &[&tenant_b, &Uuid::now_v7()],
        )
        .await
        .unwrap_err();
    let message = error.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(message.contains("row-level security"), "{message}");
    tx.rollback().await.unwrap();

    // The setting is transaction-local: it does not leak to the next transaction on the connection.
    let count: i64 = app.query_one("SELECT count(*) FROM establishments", &[]).await.unwrap().get(0);
    assert_eq!(count, 0);

    // The application role cannot switch the policies off.
    for statement in [
        "ALTER TABLE establishments DISABLE ROW LEVEL SECURITY",
        "SET row_security = off; SELECT count(*) FROM establishments",
    ] {
        let result = app.batch_execute(statement).await;
        assert!(result.is_err(), "{statement} must fail for the application role");
    }
}

#[tokio::test]
async fn the_application_role_has_no_power_over_the_schema() {
    let db = TestDb::new().await;
    let app = db.connect(&db.app_url).await;
    let row =
        app.query_one("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user", &[]).await.unwrap();
    assert!(!row.get::<_, bool>(0) && !row.get::<_, bool>(1));
    for statement in [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE memberships",
        "DELETE FROM users",
        "DELETE FROM establishments",
        "TRUNCATE tenants",
    ] {
        assert!(app.batch_execute(statement).await.is_err(), "{statement} must be refused");
    }
    // And the server refuses to start as a role that could bypass the policies.
    let store =
        dui_storage::Db::new(&dui_storage::DbConfig::new(db.owner_url.clone(), dui_testkit::keys::crypto_config()))
            .unwrap();
    let error = store.check_application_role().await.unwrap_err().to_string();
    assert!(error.contains("owns the tables"), "{error}");
}

/// Audit events are identified in time order (UUID version 7): new ones land at the right end of
/// the trail's indexes instead of at a random page.
#[tokio::test]
async fn audit_event_ids_are_time_ordered_uuids() {
    let db = TestDb::new().await;
    let app = db.connect(&db.app_url).await;
    let before = chrono::Utc::now().timestamp_millis();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.query_one("SELECT dui_uuid_v7()", &[]).await.unwrap().get::<_, Uuid>(0));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let after = chrono::Utc::now().timestamp_millis();
    for id in &ids {
        assert_eq!(id.get_version_num(), 7, "{id}");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        let (seconds, nanos) = id.get_timestamp().expect("a version 7 UUID carries its time").to_unix();
        let millis = seconds as i64 * 1000 + i64::from(nanos / 1_000_000);
        assert!((before..=after).contains(&millis), "{id}: {millis} not in {before}..={after}");
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in time order: {ids:?}");
    let distinct: i64 = app
        .query_one(
            "SELECT count(DISTINCT id) FROM (SELECT dui_uuid_v7() AS id FROM generate_series(1, 10000)) ids",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(distinct, 10_000, "ids made in the same millisecond still differ");
}
