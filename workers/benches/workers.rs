//! Throughput of the ETL body against a plain read of the same shard, and of the relay body.
//!
//! The shard is generated once (64 MiB, seed 1) and read from the page cache, as the issue
//! asks: the figure of merit is `etl_aggregate` throughput and its ratio to `plain_read`.

#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faastwin_workers::dataset::{self, DatasetSpec};
use faastwin_workers::{etl, relay};

const SHARD_BYTES: u64 = 64 << 20;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let spec = DatasetSpec::Etl {
        count: 1,
        seed: 1,
        shard_bytes: SHARD_BYTES,
    };
    let entries = dataset::generate(&spec, dir.path(), &|_| {}).expect("shard generated");
    let shard = dir.path().join(&entries[0].path);
    let bytes = std::fs::read(&shard).expect("shard read");

    let mut group = c.benchmark_group("etl_64MiB");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    group.bench_function("plain_read", |b| {
        b.iter(|| black_box(std::fs::read(&shard).expect("read")))
    });
    group.bench_function("etl_aggregate", |b| {
        b.iter(|| black_box(etl::aggregate(black_box(&bytes))))
    });
    let out = dir.path().join("out.json");
    group.bench_function("etl_stream_aggregate", |b| {
        b.iter(|| {
            let file = std::fs::File::open(&shard).expect("open");
            black_box(etl::aggregate_stream(file).expect("streamed"))
        })
    });
    group.bench_function("etl_body_with_io", |b| {
        b.iter(|| etl::run(&shard, &out, &etl::EtlOptions::default()).expect("etl body"))
    });
    group.finish();
    ratio(&shard, &out);

    let relay_spec = DatasetSpec::Relay {
        count: 1,
        seed: 1,
        payload_bytes: 2048,
    };
    let relay_dir = dir.path().join("relay");
    dataset::generate(&relay_spec, &relay_dir, &|_| {}).expect("relay input generated");
    let input = relay_dir.join("relay-000000.json");
    let out = relay_dir.join("out.json");
    c.bench_function("relay_body", |b| {
        b.iter(|| relay::run(&input, &out, &relay::RelayOptions::default()).expect("relay body"))
    });

    let mut generation = c.benchmark_group("generate");
    generation.throughput(Throughput::Bytes(SHARD_BYTES));
    generation.sample_size(10);
    generation.bench_function("etl_shard_64MiB", |b| {
        b.iter(|| dataset::generate(&spec, dir.path(), &|_| {}).expect("generated"))
    });
    generation.finish();
}

/// The figure of merit side by side: the whole ETL body (read, parse, aggregate, write)
/// against a plain read of the same file from the page cache, alternated 7 times; prints the
/// spread of the ratio of their throughputs (goal: at least 0.4).
fn ratio(shard: &std::path::Path, out: &std::path::Path) {
    let time = |f: &dyn Fn()| {
        let start = std::time::Instant::now();
        f();
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..7)
        .map(|_| {
            let read = time(&|| {
                black_box(std::fs::read(shard).expect("read"));
            });
            let body = time(&|| {
                etl::run(shard, out, &etl::EtlOptions::default()).expect("etl body");
            });
            read / body
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "etl body / plain read throughput: median {:.2}, min {:.2}, max {:.2} (7 alternated pairs; goal >= 0.4)",
        ratios[3], ratios[0], ratios[6]
    );
}

criterion_group!(workers, benches);
criterion_main!(workers);
