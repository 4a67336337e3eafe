//! The `profile` target plus a property: every rendered object's YAML must read back
//! (serde-saphyr, the reader the tests use) as the object itself. Profile strings end up in
//! names, labels, JVM options and config files, so the YAML writer sees whatever text the fuzzer
//! invents. About 6x slower per input than `profile` (each object is serialized twice and
//! parsed).
#![no_main]

mod pipeline;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(bundle) = pipeline::render(data) else { return };
    for item in &bundle.items {
        let want = serde_json::to_value(&*item.object).expect("a rendered object serializes");
        let yaml = amctl::output::to_yaml(&*item.object).expect("a rendered object serializes");
        let got: serde_json::Value = serde_saphyr::from_str(&yaml)
            .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e}\n{yaml}"));
        assert!(got == want, "rendered YAML reads back differently:\n{yaml}");
    }
});
