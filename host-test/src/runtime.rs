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

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
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

/// The environment variables the component's credential chain reads, and
/// the endpoint overrides the SDKs honour (README, "Credentials").
pub const CREDENTIAL_CHAIN_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_ENDPOINT_URL_STS",
];

/// Variables naming files the chain reads: their directories are granted.
const TOKEN_FILE_VARS: &[&str] = &["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"];

/// What an instance may see of the host besides `wasi:http`: nothing unless
/// granted here.
///
/// ```
/// let grants = kinesis_host::Grants::from_vars([("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"), ("HOME", "/root")]);
/// assert_eq!(grants.env, [("AWS_ROLE_ARN".to_string(), "arn:aws:iam::1:role/r".to_string())]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Environment variables the component sees.
    pub env: Vec<(String, String)>,
    /// Host directories the component may read, at the same path.
    pub read_only_dirs: Vec<PathBuf>,
}

impl Grants {
    /// The credential chain's variables from `vars` (others are dropped),
    /// and read-only access to the directories of the token files they name.
    pub fn from_vars<K: AsRef<str>, V: AsRef<str>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        let env: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| CREDENTIAL_CHAIN_VARS.contains(&k.as_ref()))
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let read_only_dirs = env
            .iter()
            .filter(|(k, _)| TOKEN_FILE_VARS.contains(&k.as_str()))
            .filter_map(|(_, file)| Path::new(file).parent().map(Path::to_path_buf))
            .filter(|dir| dir.is_absolute())
            .collect();
        Self { env, read_only_dirs }
    }

    /// [`Grants::from_vars`] of this process's environment.
    pub fn credential_chain_from_env() -> Self {
        Self::from_vars(std::env::vars())
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
