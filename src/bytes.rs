//! Byte helpers the wasm build needs: a slice `==` calls wasi-libc's
//! `memcmp`, a byte loop in wasm (4 % of the client's CPU with aggregation,
//! perf), where short keys and shard ids compare a word at a time here.

/// Whether `a` and `b` hold the same bytes, eight at a time.
///
/// ```
/// use kinesis_target::bytes::same;
/// assert!(same(b"shardId-000000000001", b"shardId-000000000001"));
/// assert!(!same(b"shardId-000000000001", b"shardId-000000000002"));
/// ```
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap_or_default());
    (&mut a8).zip(&mut b8).all(|(x, y)| word(x) == word(y))
        && a8.remainder().iter().zip(b8.remainder()).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn every_byte_and_the_length_count() {
        let id = b"shardId-000000000011";
        for i in 0..id.len() {
            let mut other = *id;
            other[i] ^= 1;
            assert!(!same(id, &other), "byte {i}");
            assert!(!same(id, &id[..i]), "a prefix of {i}");
        }
        assert!(same(id, &id.clone()) && same(b"", b""));
    }
}
