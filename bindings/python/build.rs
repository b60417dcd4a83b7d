//! Empty: it exists so Cargo resolves the `[build-dependencies]` of Cargo.toml, which align the
//! features of shared host crates with the Node addon's build.
fn main() {}
