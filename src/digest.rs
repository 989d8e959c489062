//! The SHA-256 a SigV4 signature covers: every byte of every request body
//! (Kinesis takes no unsigned payload). In the component the host lends it
//! through `datastream:target/digest`, because hashing in wasm was most of
//! the guest's work per event and the host has the CPU's SHA instructions
//! (BENCHMARKS.md "Issue 14 again"); natively it is `sha2`, which uses
//! them itself.
//!
//! A host that answers wrongly can only make the signature fail: the host
//! carries every byte of the request anyway.

/// The SHA-256 of `data`, in lowercase hex as SigV4's canonical request
/// writes it; an error names what the host got wrong.
///
/// ```
/// assert_eq!(
///     kinesis_target::digest::sha256_hex(b"").unwrap(),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn sha256_hex(data: &[u8]) -> Result<String, String> {
    let digest = sha256(data);
    if digest.len() != 32 {
        return Err(format!("the host's SHA-256 gave {} bytes, not 32", digest.len()));
    }
    Ok(hex::encode(digest))
}

#[cfg(target_family = "wasm")]
fn sha256(data: &[u8]) -> Vec<u8> {
    crate::component::host_sha256(data)
}

#[cfg(not(target_family = "wasm"))]
fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).into()
}
