fn main() {
    // Config templates are compiled into the binary so `amctl render demo` needs no files.
    minijinja_embed::embed_templates!("templates");
    // `cargo dist` hands this file to the linker (.cargo/config.toml): relink when it changes.
    println!("cargo:rerun-if-changed=dist/symbol-order.txt");
}
