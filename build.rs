fn main() {
    // Config templates are compiled into the binary so `amctl render demo` needs no files.
    minijinja_embed::embed_templates!("templates");
}
