//! The `omnisim` command line.
fn main() {}
