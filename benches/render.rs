//! Criterion benchmarks of the pipeline stages: load (parse + merge + type), render (Bundle),
//! emit (YAML stream), validate, diff and the migration plan. Run: cargo bench --bench render
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
}

criterion_group!(benches, pipeline, diff);
criterion_main!(benches);
