//! Criterion benchmarks of the pipeline stages: load (parse + merge + type), render (Bundle),
//! emit (YAML stream), validate, diff, the migration plan and fit. Run: cargo bench --bench render
use amctl::profile::{LoadOptions, load};
use amctl::render::{RenderOptions, render};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn pipeline(c: &mut Criterion) {
    let opts = LoadOptions::default();
    for name in ["demo", "prod"] {
        c.bench_function(&format!("load {name}"), |b| {
            b.iter(|| load(black_box(name), &opts).unwrap())
        });
        let loaded = load(name, &opts).unwrap();
        let ropts = RenderOptions::default();
        c.bench_function(&format!("render {name}"), |b| {
            b.iter(|| render(black_box(&loaded.profile), &ropts).unwrap())
        });
        let bundle = render(&loaded.profile, &ropts).unwrap();
        c.bench_function(&format!("emit yaml {name}"), |b| {
            b.iter(|| amctl::output::bundle_yaml(black_box(&bundle)).unwrap())
        });
        // The alternative the YAML writer is measured against: serde-saphyr's emitter, one
        // document per object (benches/README.md, "The YAML writer").
        c.bench_function(&format!("emit yaml {name} (serde-saphyr)"), |b| {
            b.iter(|| {
                let mut out = String::new();
                for item in &black_box(&bundle).items {
                    out.push_str("---\n");
                    out.push_str(&serde_saphyr::to_string(&*item.object).unwrap());
                }
                out
            })
        });
    }
}

fn diff(c: &mut Criterion) {
    let side = |name: &str| {
        let r = amctl::pipeline::render(name, "audience-manager", &[]).unwrap();
        amctl::diff::input::objects(&r.bundle).unwrap()
    };
    let (a, b) = (side("demo"), side("prod"));
    c.bench_function("diff demo prod", |bench| {
        bench.iter(|| amctl::diff::diff(black_box(a.clone()), black_box(b.clone())))
    });
    let (pa, pb) = (
        load("demo", &LoadOptions::default()).unwrap(),
        load("prod", &LoadOptions::default()).unwrap(),
    );
    let opts = amctl::migrate::Options {
        namespace: "audience-manager".into(),
        allow_data_loss: false,
        allow_data_migration: false,
        prune: false,
    };
    c.bench_function("plan demo prod", |bench| {
        bench.iter(|| {
            amctl::migrate::plan(
                "demo",
                "prod",
                black_box(a.clone()),
                black_box(b.clone()),
                Some((&pa.profile, &pb.profile)),
                &opts,
            )
        })
    });
    let loaded = load("prod", &LoadOptions::default()).unwrap();
    let bundle = render(&loaded.profile, &RenderOptions::default()).unwrap();
    c.bench_function("validate prod", |bench| {
        bench.iter(|| amctl::validate::validate(black_box(&loaded), black_box(&bundle)))
    });
    // Placement and its drains on 5,000 nodes (the ceiling: ≤ 1 s), with the HPAs at a
    // ceiling that puts pods on most nodes.
    let big = amctl::pipeline::render(
        "prod",
        "audience-manager",
        &[
            "cluster.nodes=5000".into(),
            "api.autoscaling.max_replicas=3000".into(),
        ],
    )
    .unwrap();
    let mut group = c.benchmark_group("placement");
    group.sample_size(10);
    group.bench_function("validate prod on 5000 nodes, HPA ceiling 3000", |bench| {
        bench.iter(|| amctl::validate::validate(black_box(&big.loaded), black_box(&big.bundle)))
    });
    group.finish();
}

fn fit(c: &mut Criterion) {
    let prod = load("prod", &LoadOptions::default()).unwrap().profile;
    // The budget is for prod on 50 nodes (whole process: benches/whole_process.py); one
    // render + validate pass is what every search step costs.
    for (nodes, memory, cpu) in [
        (12, "128Gi", "32"),
        (50, "64Gi", "16"),
        (1000, "64Gi", "16"),
        (5000, "64Gi", "16"),
    ] {
        let shape = amctl::commands::fit::shape(&amctl::commands::fit::FitArgs {
            profile: "prod".into(),
            nodes,
            node_memory: memory.into(),
            node_cpu: cpu.into(),
            distribution: None,
            zones: None,
            headroom: "10%".into(),
            keep_replicas: false,
            format: amctl::commands::fit::Format::Toml,
            explain: false,
        })
        .unwrap();
        let mut group = c.benchmark_group("fit");
        group.sample_size(20);
        group.bench_function(format!("fit prod {nodes} x {memory}"), |b| {
            b.iter(|| amctl::fit::fit(black_box(&prod), black_box(&shape)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, pipeline, diff, fit);
criterion_main!(benches);
