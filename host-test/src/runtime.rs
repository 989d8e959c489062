//! Compiling and instantiating the component.
//!
//! One [`KinesisRuntime`] compiles the component once and keeps an
//! `InstancePre`; each target gets its own [`TargetInstance`] with its own
//! `Store`, so targets share no memory. The store links all of WASI 0.2 (the
//! guest's std imports `wasi:cli` and `wasi:random` besides `wasi:http`) but
//! grants no sockets: the guest's only way out is `wasi:http/outgoing-handler`.
//! Files and environment are what [`Grants`] gives (nothing by default): the
//! credential chain's `AWS_*` variables and its token files' directories,
//! read-only.
//!
//! By concern: `bindings` (the world), `state` (WASI views, memory
//! limiter, outbound hook), `budget` (epoch deadlines, pooling), `traps`
//! (failure codes), [`TargetInstance`] (the calls), `event_batch`.

mod bindings;
mod budget;
mod deliveries;
mod event_batch;
mod instance;
mod state;
mod traps;

pub use bindings::EMBEDDED_COMPONENT;
/// The component's exported types (`event`, `report`, `outcome`, ...).
pub use bindings::exports::datastream::target::kinesis as wit;
pub use event_batch::MAX_LOWERED_BYTES;
pub use instance::TargetInstance;
pub use state::HostState;
pub use traps::{CALL_BUDGET_EXCEEDED, MEMORY_LIMIT_EXCEEDED, TARGET_TRAPPED};

use crate::grants::Grants;
use crate::options::RuntimeOptions;
use crate::outbound::Allowed;
use anyhow::{Context, Result};
use budget::{EPOCH_TICK, pooling, ticks};
use state::{TenantHooks, TenantLimits};
use std::path::Path;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store};
use wasmtime_wasi::{FsPerms, WasiCtx};
use wasmtime_wasi_http::WasiHttpCtx;

/// What the host measured of one instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostStats {
    /// Largest linear memory the instance has had, in bytes.
    pub memory_bytes: u64,
    /// Its cap ([`RuntimeOptions::memory_limit`]).
    pub memory_limit: u64,
    /// Requests the outbound policy refused.
    pub denied_requests: u64,
}

/// A compiled component, ready to instantiate many times.
pub struct KinesisRuntime {
    engine: Engine,
    pre: bindings::AmazonkinesisPre<HostState>,
    options: RuntimeOptions,
    tls: Arc<rustls::ClientConfig>,
    from_cache: bool,
}

impl KinesisRuntime {
    /// Compiles the embedded component.
    pub fn new() -> Result<Self> {
        Self::from_bytes(EMBEDDED_COMPONENT)
    }

    /// Compiles a component from its bytes (a `.wasm` component file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::with_options(bytes, RuntimeOptions::default())
    }

    /// Compiles a component with the isolation `options` ask for.
    pub fn with_options(bytes: &[u8], options: RuntimeOptions) -> Result<Self> {
        Self::with_options_cached(bytes, options, None)
    }

    /// [`Self::with_options`], loading the compiled component from
    /// `cache_dir` when it holds one for this component and engine, and
    /// storing it there otherwise ([`crate::compile_cache`]): a start that
    /// costs milliseconds instead of a compile.
    pub fn with_options_cached(bytes: &[u8], options: RuntimeOptions, cache_dir: Option<&Path>) -> Result<Self> {
        let mut config = Config::new();
        // Call budgets: the epoch advances every EPOCH_TICK; a call past its
        // deadline traps (`CallBudgetExceeded`).
        config.epoch_interruption(true);
        if let Some(instances) = options.pooling {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(
                instances,
                options.memory_limit,
            )));
        }
        let engine = Engine::new(&config)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("kinesis-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("starting the epoch thread")?;
        let tls = crate::send::tls_config(options.extra_ca.as_deref())?;
        let (component, from_cache) = match cache_dir {
            Some(dir) => crate::compile_cache::load_or_compile(&engine, bytes, dir)?,
            None => (
                Component::new(&engine, bytes)
                    .map_err(anyhow::Error::from)
                    .context("compiling the kinesis-target component")?,
                false,
            ),
        };
        let mut linker = Linker::<HostState>::new(&engine);
        bindings::datastream::target::logging::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        state::add_digest_to_linker(&mut linker)?;
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = bindings::AmazonkinesisPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            pre,
            options,
            tls,
            from_cache,
        })
    }

    /// Whether the compiled component came from the cache directory.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The options the runtime was built with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// The engine the component was compiled with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A fresh, unconfigured instance with its own store, granted nothing.
    pub async fn instantiate(&self) -> Result<TargetInstance> {
        self.instantiate_with(&Grants::default()).await
    }

    /// A fresh, unconfigured instance that sees what `grants` gives.
    pub async fn instantiate_with(&self, grants: &Grants) -> Result<TargetInstance> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stderr();
        for (k, v) in &grants.env {
            wasi.env(k, v);
        }
        for dir in &grants.read_only_dirs {
            let guest = dir.to_str().context("a granted directory's path is not UTF-8")?;
            wasi.preopened_dir(dir, guest, FsPerms::ReadOnly)
                .map_err(|e| anyhow::anyhow!("granting read access to {}: {e}", dir.display()))?;
        }
        let wasi = wasi.build();
        let state = HostState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: TenantLimits {
                max_memory: self.options.memory_limit,
                peak_memory: 0,
                refused: None,
            },
            // Nothing is reachable before `configure` says where the target sends.
            hooks: TenantHooks {
                allowed: Allowed::default(),
                tls: self.tls.clone(),
                denied: 0,
                transport: self.options.transport.clone(),
                pool: crate::send::Pool::default(),
            },
            grants: grants.clone(),
            debug_log: self.options.debug_log.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks(self.options.call_budget));
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok(TargetInstance {
            store,
            instance,
            options: self.options.clone(),
        })
    }
}
