//! What both targets run: load → render → validate → YAML emit of arbitrary profile text.

/// The rendered bundle, or None where the text is not a profile amctl renders.
pub fn render(data: &[u8]) -> Option<amctl::kube::Bundle> {
    let text = std::str::from_utf8(data).ok()?;
    let loaded = amctl::profile::load::load_str("fuzz.toml", text).ok()?;
    let opts = amctl::render::RenderOptions::default();
    let bundle = amctl::render::render(&loaded.profile, &opts).ok()?;
    let _ = amctl::validate::validate(&loaded, &bundle);
    let _ = amctl::output::bundle_yaml(&bundle);
    Some(bundle)
}
