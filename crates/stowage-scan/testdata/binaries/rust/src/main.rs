//! A tiny program for Stowage's scanner tests, built with `cargo auditable`.
fn main() {
    let mut v: smallvec::SmallVec<[u8; 4]> = smallvec::SmallVec::new();
    v.extend_from_slice(b"hi");
    let b = bytes::Bytes::copy_from_slice(&v);
    println!("{}", b.len());
}
