//! CPU time of the whole process, shared by the two clients of the CPU
//! comparison (`src/bin/bench_cpu.rs`, `sdk-compare`), so both measure the
//! same way.

use std::time::Duration;

fn usage() -> libc::rusage {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage
}

/// Page faults of this process so far (minor ones: memory touched for the
/// first time), a cost that shows as system CPU time.
pub fn page_faults() -> u64 {
    usage().ru_minflt as u64
}

/// User + system CPU time of this process so far, all threads.
pub fn cpu() -> Duration {
    let usage = usage();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
