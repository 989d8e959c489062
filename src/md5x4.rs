//! MD5 of several messages at once, four side by side: the trailers of a
//! request's KPL aggregates ([`crate::aggregate`]).
//!
//! MD5 is one chain of 64 dependent steps per 64-byte block, so one message
//! goes no faster than that chain's latency however wide the CPU is. A
//! request carries many aggregates (a 5 MiB body holds about a hundred of
//! 51,200 bytes), so each step here works on four messages, one per 32-bit
//! lane of a wasm SIMD vector: the "multi-buffer" hashing of Intel's ISA-L.
//! A lane whose message ends takes the next one, so messages of any length
//! keep the four lanes busy (BENCHMARKS.md "Issue 14, eighth pass").
//!
//! Natively the lanes are a plain array, so the tests check the same lanes
//! and scheduling; the `md-5` crate is the reference they check against.
//! The helpers run once per block or per message and stay out of line
//! (`inline(never)`): inlined, they cost the component about 1 KB more.

/// The MD5 of each message, in order.
///
/// ```
/// let d = kinesis_target::md5x4::digests(&[b"", b"abc"]);
/// assert_eq!(d[1][..4], [0x90, 0x01, 0x50, 0x98]);
/// ```
pub fn digests(messages: &[&[u8]]) -> Vec<[u8; 16]> {
    let mut out = vec![[0; 16]; messages.len()];
    let mut queue = messages.iter().enumerate();
    let mut lanes: [Lane; LANES] = std::array::from_fn(|_| Lane::next(&mut queue));
    let mut state = [X4::splat(0); 4];
    for (i, lane) in lanes.iter().enumerate() {
        if lane.message.is_some() {
            set_lane(&mut state, i, IV);
        }
    }
    while lanes.iter().any(|l| l.message.is_some()) {
        let m = X4::words(lanes.each_mut().map(Lane::block));
        compress(&mut state, &m);
        for (i, lane) in lanes.iter_mut().enumerate() {
            if !lane.finished() {
                continue;
            }
            if let Some(index) = lane.message {
                out[index] = digest_of(lane_of(&state, i));
            }
            *lane = Lane::next(&mut queue);
            if lane.message.is_some() {
                set_lane(&mut state, i, IV);
            }
        }
    }
    out
}

const LANES: usize = 4;
const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// One lane's message: its whole blocks, then the padded tail (the last
/// bytes, `0x80`, zeros, the length in bits) of one or two blocks.
struct Lane<'a> {
    /// Which message, `None` once the queue is empty: the lane then hashes
    /// zeros no one reads.
    message: Option<usize>,
    blocks: &'a [u8],
    tail: [[u8; 64]; 2],
    tail_blocks: usize,
    tail_at: usize,
}

static ZEROS: [u8; 64] = [0; 64];

impl<'a> Lane<'a> {
    /// The lane of the queue's next message, or an idle lane.
    #[inline(never)]
    fn next(queue: &mut impl Iterator<Item = (usize, &'a &'a [u8])>) -> Self {
        let mut lane = Lane {
            message: None,
            blocks: &[],
            tail: [[0; 64]; 2],
            tail_blocks: 0,
            tail_at: 0,
        };
        if let Some((index, message)) = queue.next() {
            let whole = message.len() / 64 * 64;
            let rest = &message[whole..];
            lane.message = Some(index);
            lane.blocks = &message[..whole];
            let tail = lane.tail.as_flattened_mut();
            tail[..rest.len()].copy_from_slice(rest);
            tail[rest.len()] = 0x80;
            lane.tail_blocks = if rest.len() < 56 { 1 } else { 2 };
            let bits = (message.len() as u64).wrapping_mul(8);
            tail[lane.tail_blocks * 64 - 8..lane.tail_blocks * 64].copy_from_slice(&bits.to_le_bytes());
        }
        lane
    }

    /// The next block to hash.
    #[inline(never)]
    fn block(&mut self) -> &[u8; 64] {
        if let Some((block, rest)) = self.blocks.split_first_chunk::<64>() {
            self.blocks = rest;
            block
        } else if self.tail_at < self.tail_blocks {
            self.tail_at += 1;
            &self.tail[self.tail_at - 1]
        } else {
            &ZEROS
        }
    }

    /// Its last block is hashed (an idle lane is always finished).
    fn finished(&self) -> bool {
        self.tail_at == self.tail_blocks
    }
}

/// Starts `lane` of the state at `words`.
#[inline(never)]
fn set_lane(state: &mut [X4; 4], lane: usize, words: [u32; 4]) {
    for (v, w) in state.iter_mut().zip(words) {
        let mut a = v.to_array();
        a[lane] = w;
        *v = X4::new(a);
    }
}

/// The words of `lane` of the state.
#[inline(never)]
fn lane_of(state: &[X4; 4], lane: usize) -> [u32; 4] {
    state.map(|v| v.to_array()[lane])
}

fn digest_of(words: [u32; 4]) -> [u8; 16] {
    let mut out = [0; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(words) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// One block of each lane's message into its state (RFC 1321, 3.4),
/// written out step by step: rolled into a loop over tables of shifts and
/// constants, it made aggregation + CBOR slower in wasmtime than hashing one
/// message at a time (BENCHMARKS.md "Issue 14, eighth pass").
#[inline(never)]
fn compress(state: &mut [X4; 4], m: &[X4; 16]) {
    let [mut a, mut b, mut c, mut d] = *state;
    // a = b + ((a + f(b, c, d) + m + k) <<< s); `f` last, as it waits on the
    // previous step.
    macro_rules! step {
        ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $k:expr, $s:expr) => {
            $a = $b.add(
                $a.add(m[$w].add(X4::splat($k)))
                    .add(X4::$f($b, $c, $d))
                    .rotl::<$s>(),
            );
        };
    }
    step!(f, a, b, c, d, 0, 0xd76aa478, 7);
    step!(f, d, a, b, c, 1, 0xe8c7b756, 12);
    step!(f, c, d, a, b, 2, 0x242070db, 17);
    step!(f, b, c, d, a, 3, 0xc1bdceee, 22);
    step!(f, a, b, c, d, 4, 0xf57c0faf, 7);
    step!(f, d, a, b, c, 5, 0x4787c62a, 12);
    step!(f, c, d, a, b, 6, 0xa8304613, 17);
    step!(f, b, c, d, a, 7, 0xfd469501, 22);
    step!(f, a, b, c, d, 8, 0x698098d8, 7);
    step!(f, d, a, b, c, 9, 0x8b44f7af, 12);
    step!(f, c, d, a, b, 10, 0xffff5bb1, 17);
    step!(f, b, c, d, a, 11, 0x895cd7be, 22);
    step!(f, a, b, c, d, 12, 0x6b901122, 7);
    step!(f, d, a, b, c, 13, 0xfd987193, 12);
    step!(f, c, d, a, b, 14, 0xa679438e, 17);
    step!(f, b, c, d, a, 15, 0x49b40821, 22);

    step!(g, a, b, c, d, 1, 0xf61e2562, 5);
    step!(g, d, a, b, c, 6, 0xc040b340, 9);
    step!(g, c, d, a, b, 11, 0x265e5a51, 14);
    step!(g, b, c, d, a, 0, 0xe9b6c7aa, 20);
    step!(g, a, b, c, d, 5, 0xd62f105d, 5);
    step!(g, d, a, b, c, 10, 0x02441453, 9);
    step!(g, c, d, a, b, 15, 0xd8a1e681, 14);
    step!(g, b, c, d, a, 4, 0xe7d3fbc8, 20);
    step!(g, a, b, c, d, 9, 0x21e1cde6, 5);
    step!(g, d, a, b, c, 14, 0xc33707d6, 9);
    step!(g, c, d, a, b, 3, 0xf4d50d87, 14);
    step!(g, b, c, d, a, 8, 0x455a14ed, 20);
    step!(g, a, b, c, d, 13, 0xa9e3e905, 5);
    step!(g, d, a, b, c, 2, 0xfcefa3f8, 9);
    step!(g, c, d, a, b, 7, 0x676f02d9, 14);
    step!(g, b, c, d, a, 12, 0x8d2a4c8a, 20);

    step!(h, a, b, c, d, 5, 0xfffa3942, 4);
    step!(h, d, a, b, c, 8, 0x8771f681, 11);
    step!(h, c, d, a, b, 11, 0x6d9d6122, 16);
    step!(h, b, c, d, a, 14, 0xfde5380c, 23);
    step!(h, a, b, c, d, 1, 0xa4beea44, 4);
    step!(h, d, a, b, c, 4, 0x4bdecfa9, 11);
    step!(h, c, d, a, b, 7, 0xf6bb4b60, 16);
    step!(h, b, c, d, a, 10, 0xbebfbc70, 23);
    step!(h, a, b, c, d, 13, 0x289b7ec6, 4);
    step!(h, d, a, b, c, 0, 0xeaa127fa, 11);
    step!(h, c, d, a, b, 3, 0xd4ef3085, 16);
    step!(h, b, c, d, a, 6, 0x04881d05, 23);
    step!(h, a, b, c, d, 9, 0xd9d4d039, 4);
    step!(h, d, a, b, c, 12, 0xe6db99e5, 11);
    step!(h, c, d, a, b, 15, 0x1fa27cf8, 16);
    step!(h, b, c, d, a, 2, 0xc4ac5665, 23);

    step!(i, a, b, c, d, 0, 0xf4292244, 6);
    step!(i, d, a, b, c, 7, 0x432aff97, 10);
    step!(i, c, d, a, b, 14, 0xab9423a7, 15);
    step!(i, b, c, d, a, 5, 0xfc93a039, 21);
    step!(i, a, b, c, d, 12, 0x655b59c3, 6);
    step!(i, d, a, b, c, 3, 0x8f0ccc92, 10);
    step!(i, c, d, a, b, 10, 0xffeff47d, 15);
    step!(i, b, c, d, a, 1, 0x85845dd1, 21);
    step!(i, a, b, c, d, 8, 0x6fa87e4f, 6);
    step!(i, d, a, b, c, 15, 0xfe2ce6e0, 10);
    step!(i, c, d, a, b, 6, 0xa3014314, 15);
    step!(i, b, c, d, a, 13, 0x4e0811a1, 21);
    step!(i, a, b, c, d, 4, 0xf7537e82, 6);
    step!(i, d, a, b, c, 11, 0xbd3af235, 10);
    step!(i, c, d, a, b, 2, 0x2ad7d2bb, 15);
    step!(i, b, c, d, a, 9, 0xeb86d391, 21);

    let [sa, sb, sc, sd] = state;
    *sa = sa.add(a);
    *sb = sb.add(b);
    *sc = sc.add(c);
    *sd = sd.add(d);
}

/// Four 32-bit lanes: a wasm SIMD vector in the component.
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
#[derive(Clone, Copy)]
struct X4(core::arch::wasm32::v128);

#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
impl X4 {
    #[inline(always)]
    fn new(a: [u32; 4]) -> Self {
        Self(core::arch::wasm32::u32x4(a[0], a[1], a[2], a[3]))
    }
    #[inline(always)]
    fn splat(x: u32) -> Self {
        Self(core::arch::wasm32::u32x4_splat(x))
    }
    /// The sixteen little-endian words of four blocks, word `w` of lane `l`
    /// in lane `l` of vector `w`: four loads per block and a 4x4 transpose
    /// per four words.
    #[inline(never)]
    fn words(blocks: [&[u8; 64]; 4]) -> [Self; 16] {
        use core::arch::wasm32::{i32x4_shuffle as shuffle, v128, v128_load};
        let mut m = [Self::splat(0); 16];
        for q in 0..4 {
            // SAFETY: bytes 16q..16q+16 of a 64-byte block; v128_load reads
            // unaligned, and wasm is little-endian as MD5's words are.
            let [r0, r1, r2, r3] = blocks.map(|b| unsafe { v128_load(b[16 * q..].as_ptr().cast::<v128>()) });
            let (t0, t1) = (shuffle::<0, 4, 1, 5>(r0, r1), shuffle::<0, 4, 1, 5>(r2, r3));
            let (t2, t3) = (shuffle::<2, 6, 3, 7>(r0, r1), shuffle::<2, 6, 3, 7>(r2, r3));
            m[4 * q] = Self(shuffle::<0, 1, 4, 5>(t0, t1));
            m[4 * q + 1] = Self(shuffle::<2, 3, 6, 7>(t0, t1));
            m[4 * q + 2] = Self(shuffle::<0, 1, 4, 5>(t2, t3));
            m[4 * q + 3] = Self(shuffle::<2, 3, 6, 7>(t2, t3));
        }
        m
    }
    #[inline(always)]
    fn to_array(self) -> [u32; 4] {
        use core::arch::wasm32::u32x4_extract_lane as lane;
        [
            lane::<0>(self.0),
            lane::<1>(self.0),
            lane::<2>(self.0),
            lane::<3>(self.0),
        ]
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(core::arch::wasm32::u32x4_add(self.0, o.0))
    }
    #[inline(always)]
    fn rotl<const S: u32>(self) -> Self {
        use core::arch::wasm32::{u32x4_shl, u32x4_shr, v128_or};
        Self(v128_or(u32x4_shl(self.0, S), u32x4_shr(self.0, 32 - S)))
    }
    /// `(b & c) | (!b & d)`: `c` where `b` has a one, else `d`.
    #[inline(always)]
    fn f(b: Self, c: Self, d: Self) -> Self {
        Self(core::arch::wasm32::v128_bitselect(c.0, d.0, b.0))
    }
    /// `(b & d) | (c & !d)`.
    #[inline(always)]
    fn g(b: Self, c: Self, d: Self) -> Self {
        Self(core::arch::wasm32::v128_bitselect(b.0, c.0, d.0))
    }
    /// `b ^ c ^ d`, with `c ^ d` apart from `b`, the value the step waits on.
    #[inline(always)]
    fn h(b: Self, c: Self, d: Self) -> Self {
        use core::arch::wasm32::v128_xor;
        Self(v128_xor(b.0, v128_xor(c.0, d.0)))
    }
    /// `c ^ (b | !d)`.
    #[inline(always)]
    fn i(b: Self, c: Self, d: Self) -> Self {
        use core::arch::wasm32::{v128_not, v128_or, v128_xor};
        Self(v128_xor(c.0, v128_or(b.0, v128_not(d.0))))
    }
}

/// Four 32-bit lanes: an array natively, for the tests and benchmarks.
#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
#[derive(Clone, Copy)]
struct X4([u32; 4]);

#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
impl X4 {
    #[inline(always)]
    fn new(a: [u32; 4]) -> Self {
        Self(a)
    }
    #[inline(always)]
    fn splat(x: u32) -> Self {
        Self([x; 4])
    }
    /// The sixteen little-endian words of four blocks, word `w` of lane `l`
    /// in lane `l` of vector `w`.
    #[inline(always)]
    fn words(blocks: [&[u8; 64]; 4]) -> [Self; 16] {
        std::array::from_fn(|w| {
            Self(blocks.map(|b| u32::from_le_bytes([b[4 * w], b[4 * w + 1], b[4 * w + 2], b[4 * w + 3]])))
        })
    }
    #[inline(always)]
    fn to_array(self) -> [u32; 4] {
        self.0
    }
    #[inline(always)]
    fn map3(b: Self, c: Self, d: Self, f: impl Fn(u32, u32, u32) -> u32) -> Self {
        Self(std::array::from_fn(|i| f(b.0[i], c.0[i], d.0[i])))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i].wrapping_add(o.0[i])))
    }
    #[inline(always)]
    fn rotl<const S: u32>(self) -> Self {
        Self(self.0.map(|x| x.rotate_left(S)))
    }
    #[inline(always)]
    fn f(b: Self, c: Self, d: Self) -> Self {
        Self::map3(b, c, d, |b, c, d| (b & c) | (!b & d))
    }
    #[inline(always)]
    fn g(b: Self, c: Self, d: Self) -> Self {
        Self::map3(b, c, d, |b, c, d| (b & d) | (c & !d))
    }
    #[inline(always)]
    fn h(b: Self, c: Self, d: Self) -> Self {
        Self::map3(b, c, d, |b, c, d| b ^ c ^ d)
    }
    #[inline(always)]
    fn i(b: Self, c: Self, d: Self) -> Self {
        Self::map3(b, c, d, |b, c, d| c ^ (b | !d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    fn reference(messages: &[&[u8]]) -> Vec<[u8; 16]> {
        messages.iter().map(|m| Md5::digest(m).into()).collect()
    }

    /// Bytes that differ at every offset, so a block read from the wrong
    /// place changes the digest.
    fn message(len: usize, seed: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + seed * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn every_length_across_the_padding_edges_hashes_as_md5_does() {
        // 55/56 and 119/120 bytes: where the tail needs a second block.
        let owned: Vec<Vec<u8>> = (0..=200).map(|len| message(len, len)).collect();
        let messages: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        assert_eq!(digests(&messages), reference(&messages));
    }

    #[test]
    fn lanes_take_the_next_message_as_theirs_end_whatever_the_mix_of_lengths() {
        for lengths in [
            &[51_200, 51_200, 51_200, 51_200, 51_200, 900][..],
            &[0, 70_000, 1, 63, 64, 65, 128, 5_000, 0],
            &[3, 3],
            &[100_000, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
            &[],
        ] {
            let owned: Vec<Vec<u8>> = lengths.iter().enumerate().map(|(i, &l)| message(l, i)).collect();
            let messages: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            assert_eq!(digests(&messages), reference(&messages), "lengths {lengths:?}");
        }
    }

    #[test]
    fn the_rfc_1321_test_suite() {
        let suite: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (b"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        let messages: Vec<&[u8]> = suite.iter().map(|(m, _)| *m).collect();
        let got: Vec<String> = digests(&messages).iter().map(hex::encode).collect();
        let want: Vec<&str> = suite.iter().map(|(_, d)| *d).collect();
        assert_eq!(got, want);
    }
}
