//! Reference wasmtime host for the `kinesis-target` component.
//!
//! - [`runtime`]: compile the component once, instantiate one isolated
//!   [`runtime::TargetInstance`] per target, call `configure`/`push`/`flush`.
//! - [`tenant`]: a target instance plus the bookkeeping that proves every
//!   event comes back exactly once.
//! - [`config_file`]: the user's YAML/JSON `targets:` file, with `${VAR}`.
//!
//! The local endpoint the demo, the tests and the benchmarks send to is a
//! crate of its own (`kinesis-local-endpoint`), not part of this library.

pub mod compile_cache;
pub mod config_file;
pub mod grants;
pub mod options;
pub mod outbound;
pub mod pending;
pub mod room;
pub mod runtime;
pub mod send;
pub mod settled;
pub mod tenant;

pub use grants::{CREDENTIAL_CHAIN_VARS, Grants};
pub use options::{DebugLog, RuntimeOptions, Transport};
pub use outbound::OutboundPolicy;
pub use runtime::{HostStats, KinesisRuntime, TargetInstance, wit};
pub use settled::Settled;
pub use tenant::Tenant;
