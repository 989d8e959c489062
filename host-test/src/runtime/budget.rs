//! Call budgets as epoch deadlines, and the pooling allocator's slots.

use std::time::Duration;
use wasmtime::PoolingAllocationConfig;

/// How often the epoch advances: the granularity of call budgets.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks in `budget`, at least one.
pub(super) fn ticks(budget: Duration) -> u64 {
    (budget.as_nanos() / EPOCH_TICK.as_nanos()).clamp(1, u128::from(u64::MAX / 2)) as u64
}

/// Slots for `instances` tenants, each with memory up to `memory_limit`.
pub(super) fn pooling(instances: u32, memory_limit: usize) -> PoolingAllocationConfig {
    // A component here is a few core instances (the guest and its WASI
    // adapter shims), one memory and a few tables.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(4))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(memory_limit);
    pool
}
