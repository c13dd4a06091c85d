//! What recording reads in the audit trail costs: the same statements, with and without their
//! trace, against the same data, interleaved; plus the trail's size on disk per event.
//!
//! `cargo bench -p dui-tests --bench audit_cost`. Needs PostgreSQL, like the tests. The
//! unrecorded variants are the statements use cases run for their internal checks.

use std::time::{Duration, Instant};

use dui_domain::audit::AuditAction;
use dui_domain::pagination::PageRequest;
use dui_domain::people::Role;
use dui_domain::record::NoteScope;
use dui_domain::scope::{Grant, TenantScope};
use dui_domain::transmission::{NoteContent, NoteDraft};
use dui_storage::{Mode, Reading, notes, residents};

const RECORDED: Reading = Reading::Recorded(AuditAction::ResidentRead);
use dui_testkit::TestApp;
use serde_json::json;

const RESIDENTS: usize = 200;
const NOTES_PER_RESIDENT: usize = 50;
const ROUNDS: usize = 4_000;
const CONCURRENCY: usize = 16;
const CONCURRENT_READS: usize = 500;

fn per_call(total: Duration, calls: usize) -> f64 {
    total.as_secs_f64() * 1e6 / calls as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let app = TestApp::spawn().await;
        let tenant = app.tenant("Bench").await;
        let ehpad = tenant.establishments[0].id;
        let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
        let scope =
            TenantScope::new(tenant.id, nurse.id, vec![Grant { establishment: Some(ehpad), role: Role::Nurse }]);
        let mut residents = Vec::new();
        for i in 0..RESIDENTS {
            let body = json!({"establishment_id": ehpad, "identity": {"birth_name": format!("Nom{}", dui_testkit::letters(i)),
                "first_names": "Marie Louise", "sex": "female", "birth_date": "1936-04-02", "birth_place": "75056"}});
            let created = app.post("/api/v1/residents", &nurse.token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            let id: dui_domain::ResidentId = created.json["id"].as_str().unwrap().parse().unwrap();
            residents.push(id);
        }
        let text = "Transmission ciblée — douleur : EVA 6 au lever, antalgique donné à 7h30, EVA 3 à 8h30.";
        for id in residents.iter().take(20) {
            for _ in 0..NOTES_PER_RESIDENT {
                let draft = NoteDraft {
                    scope: Some(NoteScope::WholeTeam),
                    content: NoteContent { text: Some(text.to_owned()), ..NoteContent::default() },
                    ..NoteDraft::default()
                };
                let note = dui_app::notes::WriteNote { resident: *id, draft, key: None };
                dui_app::notes::write(&app.app(), &scope, note).await.unwrap();
            }
        }
        // Statistics as autovacuum would have them by now, so that plans are those of a live
        // database rather than of an empty one.
        let owner = app.db.connect(&app.db.owner_url).await;
        owner.batch_execute("ANALYZE").await.unwrap();
        let db = &app.store;
        let page = PageRequest::first(NOTES_PER_RESIDENT as u32);

        // Warm up both paths (plans, caches, pool).
        for id in &residents {
            residents::read(db.begin(&scope, Mode::Write), *id, RECORDED).await.unwrap();
            residents::read(db.begin(&scope, Mode::Write), *id, Reading::Unrecorded).await.unwrap();
        }
        let (mut traced, mut untraced) = (Duration::ZERO, Duration::ZERO);
        let (mut notes_traced, mut notes_untraced) = (Duration::ZERO, Duration::ZERO);
        for round in 0..ROUNDS {
            let id = residents[round % residents.len()];
            let notes_of = residents[round % 20];
            // Alternate which goes first, so that neither always finds the other's cache.
            let first_traced = round % 2 == 0;
            for traced_now in [first_traced, !first_traced] {
                let started = Instant::now();
                if traced_now {
                    residents::read(db.begin(&scope, Mode::Write), id, RECORDED).await.unwrap();
                    traced += started.elapsed();
                } else {
                    residents::read(db.begin(&scope, Mode::Write), id, Reading::Unrecorded).await.unwrap();
                    untraced += started.elapsed();
                }
                let started = Instant::now();
                if traced_now {
                    let tx = db.begin(&scope, Mode::Write);
                    let listed =
                        notes::list(tx, notes_of, page, Reading::Recorded(AuditAction::NoteRead)).await.unwrap();
                    assert_eq!(listed.items.len(), NOTES_PER_RESIDENT);
                    notes_traced += started.elapsed();
                } else {
                    notes::list(db.begin(&scope, Mode::Write), notes_of, page, Reading::Unrecorded).await.unwrap();
                    notes_untraced += started.elapsed();
                }
            }
        }

        // Concurrent readers: the flush of the trail's write at commit is shared (group commit).
        let mut concurrent = Vec::new();
        for traced_now in [true, false] {
            let started = Instant::now();
            let mut tasks = Vec::new();
            for task in 0..CONCURRENCY {
                let (db, scope, residents) = (app.store.clone(), scope.clone(), residents.clone());
                tasks.push(tokio::spawn(async move {
                    for i in 0..CONCURRENT_READS {
                        let id = residents[(task * CONCURRENT_READS + i) % residents.len()];
                        if traced_now {
                            residents::read(db.begin(&scope, Mode::Write), id, RECORDED).await.unwrap();
                        } else {
                            residents::read(db.begin(&scope, Mode::Write), id, Reading::Unrecorded).await.unwrap();
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            let reads = CONCURRENCY * CONCURRENT_READS;
            concurrent.push((reads as f64 / started.elapsed().as_secs_f64(), per_call(started.elapsed(), reads)));
        }

        let mut owner = owner;
        let tx = owner.transaction().await.unwrap();
        tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
        let row = tx
            .query_one(
                "SELECT pg_total_relation_size('audit_events'), pg_relation_size('audit_events'), \
                 (SELECT count(*) FROM audit_events)",
                &[],
            )
            .await
            .unwrap();
        let (total, heap, events): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        tx.commit().await.unwrap();

        let read = (per_call(traced, ROUNDS), per_call(untraced, ROUNDS));
        let notes = (per_call(notes_traced, ROUNDS), per_call(notes_untraced, ROUNDS));
        println!("audit cost of reads ({ROUNDS} calls each, interleaved, through the pool to PostgreSQL):");
        for (name, (with, without)) in
            [("read one record", read), (&*format!("list {NOTES_PER_RESIDENT} notes"), notes)]
        {
            println!(
                "  {name:<16} recorded {with:>8.1} µs   unrecorded {without:>8.1} µs   cost {:>6.1} µs ({:+.1} %)",
                with - without,
                (with - without) / without * 100.0
            );
        }
        println!(
            "  {CONCURRENCY} concurrent readers: recorded {:.0} reads/s, unrecorded {:.0} reads/s \
             ({:.1} µs of wall time per read against {:.1})",
            concurrent[0].0, concurrent[1].0, concurrent[0].1, concurrent[1].1
        );
        println!(
            "  trail on disk: {events} events, {:.0} bytes/event with indexes ({:.0} in the table)",
            total as f64 / events as f64,
            heap as f64 / events as f64
        );
        app.stop().await;
    });
}
