//! Regenerates `docs/vectors/*.json` (PROTOCOL.md §13):
//! `cargo run -p kluis-crypto --example generate_vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, value) in vectors_gen::all() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, vectors_gen::render(&value)).unwrap();
        let count = |k: &str| value[k].as_array().map_or(0, Vec::len);
        println!(
            "{}: {} positive, {} negative",
            path.display(),
            count("positive"),
            count("negative")
        );
    }
}
