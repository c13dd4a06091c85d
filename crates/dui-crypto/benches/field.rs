//! Cost of sealing and opening fields, and of a blind index.
//!
//! `cargo bench -p dui-crypto`. The figures to compare with a request's server time are in
//! `benches/request_path.rs` of the tests package.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dui_crypto::{BlindIndex, Column, Keyring, SecretKey};
use dui_domain::TenantId;
use uuid::Uuid;

fn keyring() -> Keyring {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    Keyring::new(
        tenant,
        1,
        vec![(1, SecretKey::generate().unwrap())],
        &SecretKey::generate().unwrap(),
        &SecretKey::generate().unwrap(),
    )
    .unwrap()
}

fn fields(c: &mut Criterion) {
    let keys = keyring();
    let column = Column::new("residents", "identity");
    let row = Uuid::now_v7();
    let mut group = c.benchmark_group("field");
    // An identity (names, birth date and place) and a long hand-over note.
    for (label, size) in [("identity_180B", 180usize), ("note_2KiB", 2048)] {
        let plaintext = vec![b'a'; size];
        let sealed = keys.seal(column, row, &plaintext).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("seal/{label}"), |b| b.iter(|| keys.seal(column, row, &plaintext).unwrap()));
        group.bench_function(format!("open/{label}"), |b| b.iter(|| keys.open(column, row, &sealed).unwrap()));
    }
    group.finish();
    c.bench_function("blind_index/ins", |b| b.iter(|| keys.blind_index(BlindIndex::new("ins"), "255081416802538")));
}

/// The encryption work of whole requests: what a request path pays for encryption at rest.
fn request_paths(c: &mut Criterion) {
    let keys = keyring();
    let identity = Column::new("residents", "identity");
    let ins = Column::new("residents", "ins");
    let body = Column::new("notes", "body");
    let row = Uuid::now_v7();
    let identity_json = br#"{"birth_name":"Lefebvre","first_names":"Marie Louise","first_first_name":"Marie","used_name":"Martin","used_first_name":null,"sex":"female","birth_date":"1936-04-02","birth_place":"75056"}"#;
    let ins_json = br#"{"matricule":"255081416802538","oid":"1.2.250.1.213.1.4.10"}"#;
    let note = vec![b'n'; 400];
    let mut group = c.benchmark_group("request_path");
    group.bench_function("admit_resident", |b| {
        b.iter(|| {
            keys.seal(identity, row, identity_json).unwrap();
            keys.seal(ins, row, ins_json).unwrap();
            keys.blind_index(BlindIndex::new("ins"), "255081416802538");
            keys.blind_index(BlindIndex::new("birth_identity"), "LEFEBVRE|1936-04-02")
        })
    });
    let sealed_identity = keys.seal(identity, row, identity_json).unwrap();
    let sealed_ins = keys.seal(ins, row, ins_json).unwrap();
    group.bench_function("read_resident", |b| {
        b.iter(|| {
            keys.open(identity, row, &sealed_identity).unwrap();
            keys.open(ins, row, &sealed_ins).unwrap()
        })
    });
    group.bench_function("write_note", |b| b.iter(|| keys.seal(body, row, &note).unwrap()));
    let sealed_notes: Vec<(Uuid, Vec<u8>)> = (0..50)
        .map(|_| {
            let id = Uuid::now_v7();
            (id, keys.seal(body, id, &note).unwrap())
        })
        .collect();
    group.bench_function("read_50_notes", |b| {
        b.iter(|| sealed_notes.iter().map(|(id, sealed)| keys.open(body, *id, sealed).unwrap().len()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, fields, request_paths);
criterion_main!(benches);
