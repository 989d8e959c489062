//! What the benchmarks share: the guest crate driven natively with an
//! instant transport ([`native_guest`]), and the process's CPU time
//! ([`cpu_time`]), so that every figure is measured the same way.

pub mod cpu_time;
pub mod native_guest;

/// The component a benchmark runs: the file `BENCH_COMPONENT` names (an
/// older build for an A/B, or one with its name section for a profile), or
/// the one embedded in `kinesis-host`.
#[cfg(feature = "wasmtime")]
pub fn component() -> std::io::Result<Vec<u8>> {
    match std::env::var_os("BENCH_COMPONENT") {
        Some(path) => std::fs::read(path),
        None => Ok(kinesis_host::runtime::EMBEDDED_COMPONENT.to_vec()),
    }
}
