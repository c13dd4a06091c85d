//! Migrations under concurrency: several replicas starting at once.

use dui_storage::cluster;
use dui_testkit::admin_url;

#[tokio::test]
async fn replicas_starting_together_apply_each_migration_once() {
    let admin = admin_url().await;
    let name = format!("dui_migr_{}", uuid::Uuid::new_v4().simple());
    let provisioned = cluster::provision(&admin, &name).await.unwrap();
    let runs = (0..4).map(|_| {
        let url = provisioned.owner_url.clone();
        tokio::spawn(async move { dui_storage::migrate::run(&url).await })
    });
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().expect("every replica's migration run succeeds").len();
    }
    let expected = dui_storage::migrate::embedded_migrations().len();
    assert_eq!(applied, expected, "each migration applied by exactly one replica");
    assert!(
        dui_storage::migrate::run(&provisioned.owner_url).await.unwrap().is_empty(),
        "a later run has nothing to do"
    );

    let (client, connection) = tokio_postgres::connect(&provisioned.owner_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let history: i64 = client.query_one("SELECT count(*) FROM dui_schema_history", &[]).await.unwrap().get(0);
    assert_eq!(history, i64::try_from(expected).unwrap());
    drop(client);
    let (admin_client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    admin_client.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
}
