//! The layers of the crate, lowest first (docs/architecture: each depends only on the ones below
//! it), and a test that fails when a module names a module of a higher layer.

/// Module path prefix → layer. The longest matching prefix decides.
pub(crate) const LAYERS: &[(&str, u8)] = &[
    // 1: sizes and quantities, positions, errors and exit codes
    ("units", 1),
    ("source", 1),
    ("error", 1),
    // 2: the profile: schema types, the spanned TOML tree, extends and --set
    ("profile", 2),
    // 3: the Kubernetes kit: typed objects and the Bundle, CRDs, constructors, render context
    ("kube", 3),
    // 4: what runs inside: JVM pools, Flink's memory model, nodes, pods, placement
    ("model", 4),
    // 5: the rules kit: checks and findings, start-up contracts, Secret declarations
    ("rules", 5),
    ("contract", 5),
    ("secrets", 5),
    ("change", 5),
    // 6: one module per component, and the registry
    ("components", 6),
    // 7: the pipeline and its passes
    ("render", 7),
    ("validate", 7),
    ("pipeline", 7),
    // 8: emitting, diffing, migrating
    ("output", 8),
    ("yaml", 8),
    ("report", 8),
    ("diff", 8),
    ("migrate", 8),
    ("fit", 8),
    // 9: one file per user action
    ("commands", 9),
    // 10: the command line and the crate root
    ("cli", 10),
    ("layers", 10),
    ("lib", 10),
    ("main", 10),
];

/// The layer of a module path (`render::network`), if it is one of the crate's.
pub(crate) fn layer(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| {
            module == *prefix
                || module
                    .strip_prefix(prefix)
                    .is_some_and(|r| r.starts_with("::"))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::layer;
    use std::path::Path;

    /// `src/render/network.rs` → `render::network`; `src/kube/mod.rs` → `kube`.
    fn module_of(path: &Path, src: &Path) -> String {
        let rel = path.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        parts.join("::")
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every module path a file names: `crate::a::b` (also inside `use crate::{a, b::c}`) and
    /// `super::x`, resolved against the file's own module.
    fn references(text: &str, module: &str, is_mod_rs: bool) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        let parent: Vec<&str> = {
            let mut p: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
            // `super` in `a/b.rs` (module a::b) is `a`; in `a/mod.rs` (module a) it is the root.
            if !is_mod_rs || !p.is_empty() {
                p.pop();
            }
            p
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                let after = &rest[i + "crate::".len()..];
                if let Some(group) = after.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                            .collect();
                        if !name.is_empty() {
                            out.push((n + 1, name));
                        }
                    }
                } else {
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    out.push((n + 1, name));
                }
                rest = after;
            }
            let mut rest = line;
            while let Some(i) = rest.find("super::") {
                // `super::super::` and the like are not used in this crate.
                let before = &rest[..i];
                let after = &rest[i + "super::".len()..];
                if !before.ends_with("::") {
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let mut full = parent.join("::");
                    if !full.is_empty() {
                        full.push_str("::");
                    }
                    full.push_str(&name);
                    out.push((n + 1, full));
                }
                rest = after;
            }
        }
        out
    }

    #[test]
    fn no_module_names_a_higher_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        all.sort();
        let mut bad = Vec::new();
        let mut unplaced = Vec::new();
        for path in &all {
            let module = module_of(path, &src);
            let Some(own) = layer(&module) else {
                unplaced.push(module);
                continue;
            };
            let text = std::fs::read_to_string(path).unwrap();
            // Unit tests may reach anywhere in the crate.
            let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
            let is_mod_rs = path.file_name().is_some_and(|f| f == "mod.rs");
            for (line, target) in references(code, &module, is_mod_rs) {
                let target = target.trim_end_matches("::");
                if let Some(l) = layer(target)
                    && l > own
                {
                    bad.push(format!(
                        "{}:{line}: {module} (layer {own}) names {target} (layer {l})",
                        path.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
        assert!(
            unplaced.is_empty(),
            "modules without a layer in src/layers.rs: {unplaced:?}"
        );
        assert!(
            bad.is_empty(),
            "imports that point up a layer:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn the_check_sees_an_upward_import() {
        let refs = references(
            "use crate::render::Ctx;\nuse super::budget::Budget;\nuse crate::{kube, validate::Check};\n",
            "validate::report",
            false,
        );
        let names: Vec<&str> = refs.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "render::Ctx",
                "validate::budget::Budget",
                "kube",
                "validate::Check"
            ]
        );
        assert!(layer("render::network") > layer("kube::k8s"));
        assert_eq!(layer("kubernetes"), None, "prefixes match whole segments");
    }
}
