//! The files in `docs/vectors/` are exactly what the generator produces
//! today (and the generator checks every negative case fails as stated).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod vectors_gen;

#[test]
fn published_vectors_match_the_generator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors");
    let (mut positive, mut negative) = (0, 0);
    for (name, value) in vectors_gen::all() {
        let path = dir.join(format!("{name}.json"));
        let published = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run the generator", path.display()));
        assert!(
            published == vectors_gen::render(&value),
            "{} differs from the generator: run `cargo run -p kluis-crypto --example generate_vectors` and review the diff",
            path.display()
        );
        positive += value["positive"].as_array().unwrap().len();
        negative += value["negative"].as_array().unwrap().len();
    }
    println!("published vectors: {positive} positive, {negative} negative cases");
    assert!(positive >= 20 && negative >= 40);
}
