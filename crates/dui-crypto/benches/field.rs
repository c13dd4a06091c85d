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
    Keyring::new(tenant, 1, vec![(1, SecretKey::generate().unwrap())], &SecretKey::generate().unwrap()).unwrap()
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

criterion_group!(benches, fields);
criterion_main!(benches);
