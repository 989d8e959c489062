//! Reference wasmtime host for the `kinesis-target` component.
//!
//! - [`runtime`]: compile the component once, instantiate one isolated
//!   [`runtime::TargetInstance`] per target, call `configure`/`push`/`flush`.
//! - [`tenant`]: a target instance plus the bookkeeping that proves every
//!   event comes back exactly once.
//! - [`config_file`]: the user's YAML/JSON `targets:` file, with `${VAR}`.
//! - [`local_endpoint`]: a small in-process Kinesis endpoint for the demo
//!   and tests.

pub mod compile_cache;
pub mod config_file;
pub mod local_endpoint;
pub mod outbound;
pub mod runtime;
pub mod send;
pub mod tenant;

pub use outbound::OutboundPolicy;
pub use runtime::{
    Answerer, CREDENTIAL_CHAIN_VARS, Grants, HostStats, KinesisRuntime, RuntimeOptions, TargetInstance, wit,
};
pub use tenant::Tenant;
