//! load → validate → render → emit on arbitrary profile text: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(loaded) = amctl::profile::load::load_str("fuzz.toml", text) else { return };
    let opts = amctl::render::RenderOptions::default();
    let Ok(bundle) = amctl::render::render(&loaded.profile, &opts) else { return };
    let _ = amctl::validate::validate(&loaded, &bundle);
    let _ = bundle.to_yaml();
});
