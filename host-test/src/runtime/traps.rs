//! Why an instance stopped: the codes its events fail with.

use super::state::TenantLimits;
use wasmtime::Trap;

/// Code of events whose tenant tried to grow its memory past the limit.
pub const MEMORY_LIMIT_EXCEEDED: &str = "MemoryLimitExceeded";
/// Code of events whose tenant ran a call past its time budget.
pub const CALL_BUDGET_EXCEEDED: &str = "CallBudgetExceeded";
/// Code of events whose tenant trapped for another reason.
pub const TARGET_TRAPPED: &str = "TargetTrapped";

/// The failure code and message for a call that failed with `error`.
pub(super) fn classify(limits: &TenantLimits, error: &anyhow::Error) -> (&'static str, String) {
    if let Some(asked) = limits.refused {
        let limit = limits.max_memory;
        return (
            MEMORY_LIMIT_EXCEEDED,
            format!("the instance needed {asked} bytes of memory, over its limit of {limit}: {error:#}"),
        );
    }
    if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return (
            CALL_BUDGET_EXCEEDED,
            format!("a call ran past its time budget: {error:#}"),
        );
    }
    (TARGET_TRAPPED, format!("{error:#}"))
}
