//! The one generator behind the component's draws: `{{random}}` partition
//! keys, retry full jitter and credential-refresh jitter. They need spread
//! between records and instances, not secrecy.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014): a Weyl sequence `state += gamma`
//! through a bijective mixer. Each use draws from its own [`Stream`], with
//! its own odd gamma, so all three seeded from the same clock reading give
//! sequences that are neither equal nor shifts of one another (the three
//! xorshift copies this replaces, all seeded `seed | 1`, drew the same one).

/// One use's share of the generator: its gamma, distinct per use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream(u64);

impl Stream {
    /// `{{random}}` partition keys.
    pub const PARTITION_KEY: Stream = Stream(0x9CA0_66F1_A4AB_2EEB);
    /// Full jitter of retry backoff.
    pub const RETRY: Stream = Stream(0xD30B_0542_6513_3DD7);
    /// Jitter of when credentials are refreshed.
    pub const CREDENTIAL_REFRESH: Stream = Stream(0xD7F1_5155_98B6_B983);
}

/// SplitMix64's usual gamma (2^64 / golden ratio): what a bare `u64` state steps by.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finalizer (a variant of MurmurHash3's): a bijection, so
/// distinct states give distinct outputs.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator drawing one [`Stream`].
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    gamma: u64,
}

impl Rng {
    /// The `stream` of `seed`; any seed works (instances started at the same
    /// moment differ by their seeds' low bits, which the mixer spreads).
    ///
    /// ```
    /// use kinesis_target::rng::{Draw, Rng, Stream};
    /// let mut keys = Rng::new(42, Stream::PARTITION_KEY);
    /// let mut retry = Rng::new(42, Stream::RETRY);
    /// assert_ne!(keys.next_u64(), retry.next_u64());
    /// ```
    // Out of line, as `next_u64`: inlined into each user they cost the
    // component ~220 bytes more.
    #[inline(never)]
    pub fn new(seed: u64, stream: Stream) -> Self {
        Self {
            // Mixed with the gamma, so equal seeds start apart as well.
            state: mix64(seed ^ stream.0),
            gamma: stream.0,
        }
    }
}

/// Something to draw 64 random bits from.
pub trait Draw {
    /// The next 64 bits.
    fn next_u64(&mut self) -> u64;
}

impl Draw for Rng {
    #[inline(never)]
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(self.gamma);
        mix64(self.state)
    }
}

/// A bare `u64` is the state of plain SplitMix64 (the usual gamma): handy
/// where one fixed sequence will do, as in examples and tests.
impl Draw for u64 {
    fn next_u64(&mut self) -> u64 {
        *self = self.wrapping_add(GOLDEN_GAMMA);
        mix64(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const STREAMS: [Stream; 3] = [Stream::PARTITION_KEY, Stream::RETRY, Stream::CREDENTIAL_REFRESH];

    fn draws(seed: u64, stream: Stream, n: usize) -> Vec<u64> {
        let mut rng = Rng::new(seed, stream);
        (0..n).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn the_same_seed_and_stream_draw_the_same_sequence() {
        assert_eq!(draws(7, Stream::RETRY, 100), draws(7, Stream::RETRY, 100));
        assert_ne!(draws(7, Stream::RETRY, 100), draws(8, Stream::RETRY, 100));
    }

    #[test]
    fn streams_of_one_seed_share_no_draw_and_are_not_shifts_of_each_other() {
        for seed in [0, 1, 42, 1_795_608_000_123_456_789, u64::MAX] {
            let all: Vec<Vec<u64>> = STREAMS.iter().map(|&s| draws(seed, s, 10_000)).collect();
            let distinct: HashSet<u64> = all.iter().flatten().copied().collect();
            // No shared value at all within the first 10,000 draws, so no
            // stream is another's sequence shifted by fewer than 10,000.
            assert_eq!(distinct.len(), 3 * 10_000, "seed {seed}");
        }
        // Distinct gammas make the Weyl sequences differ by a step that is
        // not a shift: a shift would need equal gammas.
        let gammas: HashSet<u64> = STREAMS.iter().map(|s| s.0).collect();
        assert_eq!(gammas.len(), 3);
        assert!(STREAMS.iter().all(|s| s.0 & 1 == 1), "odd gammas visit every state");
    }

    #[test]
    fn draws_spread_over_the_bits() {
        let d = draws(1, Stream::PARTITION_KEY, 1_000);
        let ones: u32 = d.iter().map(|x| x.count_ones()).sum();
        // 32,000 expected; a broken mixer lands far off.
        assert!((31_000..33_000).contains(&ones), "{ones}");
    }

    #[test]
    fn a_bare_state_steps_plain_splitmix64() {
        // Reference values of SplitMix64 seeded 0 (Vigna's splitmix64.c).
        let mut state = 0u64;
        assert_eq!(state.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(state.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
