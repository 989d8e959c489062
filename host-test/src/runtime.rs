//! Compiling and instantiating the component.
//!
//! One [`KinesisRuntime`] compiles the component once and keeps an
//! `InstancePre`; each target gets its own [`TargetInstance`] with its own
//! `Store`, so targets share no memory. The store links all of WASI 0.2 (the
//! guest's std imports `wasi:cli` and `wasi:random` besides `wasi:http`) but
//! grants no files, no environment, no sockets: the guest's only way out is
//! `wasi:http/outgoing-handler`.

use anyhow::{Context, Result};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "amazonkinesis",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
        },
    });
}

/// The component's exported types (`event`, `report`, `outcome`, ...).
pub use bindings::exports::datastream::target::kinesis as wit;

/// The component built from this workspace, embedded at compile time.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("KINESIS_TARGET_WASM"));

/// Per-instance host state: WASI context and resource table.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// `datastream:target/logging`: the component's debug lines (`debug.status`),
/// shown on stderr with the target's name.
impl bindings::datastream::target::logging::Host for HostState {
    async fn log(&mut self, target: String, line: String) -> wasmtime::Result<()> {
        eprintln!("[debug] target {target}: {line}");
        Ok(())
    }
}

/// A compiled component, ready to instantiate many times.
pub struct KinesisRuntime {
    engine: Engine,
    pre: bindings::AmazonkinesisPre<HostState>,
}

impl KinesisRuntime {
    /// Compiles the embedded component.
    pub fn new() -> Result<Self> {
        Self::from_bytes(EMBEDDED_COMPONENT)
    }

    /// Compiles a component from its bytes (a `.wasm` component file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let config = Config::new();
        let engine = Engine::new(&config)?;
        let component = Component::new(&engine, bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the kinesis-target component")?;
        let mut linker = Linker::<HostState>::new(&engine);
        bindings::datastream::target::logging::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre = bindings::AmazonkinesisPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self { engine, pre })
    }

    /// The engine the component was compiled with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A fresh, unconfigured instance with its own store.
    pub async fn instantiate(&self) -> Result<TargetInstance> {
        let wasi = WasiCtx::builder().inherit_stderr().build();
        let state = HostState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok(TargetInstance { store, instance })
    }
}

/// One instance of the component: one target.
///
/// An `Err` from these calls is a trap (a bug in the component, or a host
/// limit); the instance must not be used after one.
pub struct TargetInstance {
    store: Store<HostState>,
    instance: bindings::Amazonkinesis,
}

impl TargetInstance {
    /// `configure`: validates the target definition (JSON) and makes it current.
    pub async fn configure(&mut self, config_json: &str) -> Result<Result<wit::TargetInfo, wit::ConfigError>> {
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_configure(&mut self.store, config_json)
            .await?)
    }

    /// `push`: takes events from the front while the buffer has room (see
    /// `report.accepted`), starts requests for full batches; returns what settled.
    pub async fn push(&mut self, events: &[wit::Event]) -> Result<wit::Report> {
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_push(&mut self.store, events)
            .await?)
    }

    /// `poll`: collects answers and starts what is due, waiting up to `wait`
    /// for something to settle.
    pub async fn poll(&mut self, wait: std::time::Duration) -> Result<wit::Report> {
        let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_poll(&mut self.store, wait_ns)
            .await?)
    }

    /// `stats`: counters since the instance started, and what it holds now.
    pub async fn stats(&mut self) -> Result<wit::TargetStats> {
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_stats(&mut self.store)
            .await?)
    }

    /// `flush`: sends everything; every event pushed so far then has an outcome.
    pub async fn flush(&mut self) -> Result<wit::Report> {
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_flush(&mut self.store)
            .await?)
    }
}
