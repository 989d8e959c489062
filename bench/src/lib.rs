//! What the benchmarks share: the guest crate driven natively with an
//! instant transport ([`native_guest`]), and the process's CPU time
//! ([`cpu_time`]), so that every figure is measured the same way.

pub mod cpu_time;
pub mod native_guest;
