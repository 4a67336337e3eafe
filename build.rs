//! Embeds the config templates (templates/**) as a table of names and sources, so `amctl render
//! demo` needs no files; `render::templates` compiles each on first use.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new("templates");
    let mut named = Vec::new();
    collect(root, root, &mut named);
    // Sorted as strings: the binary searches the table by name.
    named.sort();
    let mut table = String::from("&[\n");
    for (name, path) in &named {
        let absolute = std::fs::canonicalize(path).expect("template path");
        table.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            absolute.to_string_lossy()
        ));
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("templates.rs"), table).expect("write templates.rs");
    // A directory is scanned recursively for changes (new, edited and removed templates).
    println!("cargo:rerun-if-changed=templates");
}

/// Every file below `dir` with its name relative to `root` (`/`-separated), skipping hidden files
/// and directories (editor swap files).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let name = path
                .strip_prefix(root)
                .expect("under templates/")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((name, path));
        }
    }
}
