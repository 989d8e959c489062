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

use crate::outbound::{Allowed, OutboundPolicy};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
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

/// Code of events whose tenant tried to grow its memory past the limit.
pub const MEMORY_LIMIT_EXCEEDED: &str = "MemoryLimitExceeded";
/// Code of events whose tenant ran a call past its time budget.
pub const CALL_BUDGET_EXCEEDED: &str = "CallBudgetExceeded";
/// Code of events whose tenant trapped for another reason.
pub const TARGET_TRAPPED: &str = "TargetTrapped";

/// How tenants are isolated. The defaults suit an edge host running a few
/// targets; see README "Embedding in your own host".
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Linear memory one instance may grow to (default 64 MiB). Growing past
    /// it stops that instance (`MemoryLimitExceeded`), not the process.
    pub memory_limit: usize,
    /// Wall-clock budget of `configure`, `push` and `stats` (default 30 s:
    /// a push may wait on a credential provider); `poll` gets its wait on top.
    pub call_budget: Duration,
    /// Budget of `flush`, which waits on the network and retries (default 10 min).
    pub flush_budget: Duration,
    /// `Some(n)`: wasmtime's pooling allocator with slots for `n` instances,
    /// for hosts with many tenants; `None`: allocate on demand.
    pub pooling: Option<u32>,
    /// What tenants may reach (default: their configured endpoint).
    pub outbound: OutboundPolicy,
    /// A PEM file of extra CA certificates trusted for `https`, besides the platform's roots.
    pub extra_ca: Option<PathBuf>,
    /// For benchmarks and tests only: answers every request the outbound
    /// policy allowed in place of the network (`None`, the default: send it).
    pub answerer: Option<Answerer>,
}

/// What [`Answerer`] returns: the response, and a future that ends with the exchange.
pub type Answered = Box<dyn Future<Output = Result<crate::send::Sent, wasmtime_wasi_http::Error>> + Send>;

/// A sender that stands in for the network ([`RuntimeOptions::answerer`]):
/// benchmarks of the component alone plug in one that answers at once.
#[derive(Clone)]
pub struct Answerer(pub Arc<dyn Fn(http::Request<wasmtime_wasi_http::WasiBody>) -> Answered + Send + Sync>);

impl std::fmt::Debug for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answerer(..)")
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            memory_limit: 64 << 20,
            call_budget: Duration::from_secs(30),
            flush_budget: Duration::from_secs(600),
            pooling: None,
            outbound: OutboundPolicy::ConfiguredEndpoints,
            extra_ca: None,
            answerer: None,
        }
    }
}

/// How often the epoch advances: the granularity of call budgets.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-instance host state: WASI context, resource table, limits, outbound policy.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: TenantLimits,
    hooks: TenantHooks,
    grants: Grants,
}

/// The memory cap, and what the instance asked for.
struct TenantLimits {
    max_memory: usize,
    /// Largest linear memory granted so far.
    peak_memory: usize,
    /// A growth that was refused: the size asked for.
    refused: Option<usize>,
}

impl ResourceLimiter for TenantLimits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.refused = Some(desired);
            return Ok(false);
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The outbound policy in force for one tenant, and the sender.
struct TenantHooks {
    allowed: Allowed,
    tls: Arc<rustls::ClientConfig>,
    denied: u64,
    answerer: Option<Answerer>,
}

impl wasmtime_wasi_http::WasiHttpHooks for TenantHooks {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<crate::send::Sent, wasmtime_wasi_http::Error>> + Send> {
        let https = request.uri().scheme_str() == Some("https");
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        if !self.allowed.permits(https, &authority) {
            self.denied += 1;
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        match &self.answerer {
            Some(answer) => (answer.0)(request),
            None => Box::new(crate::send::send(request, options, self.tls.clone())),
        }
    }
}

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
            hooks: &mut self.hooks,
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
                answerer: self.options.answerer.clone(),
            },
            grants: grants.clone(),
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

/// One instance of the component: one target.
///
/// An `Err` from these calls is a trap (a bug in the component, or a host
/// limit); the instance must not be used after one.
pub struct TargetInstance {
    store: Store<HostState>,
    instance: bindings::Amazonkinesis,
    options: RuntimeOptions,
}

impl TargetInstance {
    /// `configure`: validates the target definition (JSON) and makes it
    /// current. The outbound policy follows the new definition; while the
    /// call sends what the old one buffered, both are allowed.
    pub async fn configure(&mut self, config_json: &str) -> Result<Result<wit::TargetInfo, wit::ConfigError>> {
        let config: serde_json::Value = serde_json::from_str(config_json).unwrap_or_default();
        let data = self.store.data_mut();
        let new = Allowed::for_target(&self.options.outbound, &config, &data.grants);
        let old = std::mem::replace(&mut data.hooks.allowed, new.clone());
        data.hooks.allowed = old.union(&new);
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        let result = self
            .instance
            .datastream_target_kinesis()
            .call_configure(&mut self.store, config_json)
            .await?;
        let hooks = &mut self.store.data_mut().hooks;
        hooks.allowed = if result.is_ok() { new } else { old };
        Ok(result)
    }

    /// What the host measured: peak memory, its cap, refused requests.
    pub fn host_stats(&self) -> HostStats {
        let data = self.store.data();
        HostStats {
            memory_bytes: data.limits.peak_memory as u64,
            memory_limit: data.limits.max_memory as u64,
            denied_requests: data.hooks.denied,
        }
    }

    /// The failure code and message for events of an instance whose call
    /// failed with `error`: over its memory cap, over its time budget, or
    /// another trap.
    pub fn classify(&self, error: &anyhow::Error) -> (&'static str, String) {
        if let Some(asked) = self.store.data().limits.refused {
            let limit = self.options.memory_limit;
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

    /// `push`: takes events from the front while the buffer has room (see
    /// `report.accepted`), starts requests for full batches; returns what settled.
    pub async fn push(&mut self, events: &[wit::Event]) -> Result<wit::Report> {
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_push(&mut self.store, events)
            .await?)
    }

    /// `push-batch`: `push` for events packed into one buffer
    /// ([`wit::EventBatch::pack`]), which is cheaper to hand over than one
    /// list per event. `report.accepted` counts from the front, as for `push`.
    ///
    /// At most [`MAX_LOWERED_BYTES`] of event data (and always one event)
    /// is handed over per call: what the instance's buffer cannot take
    /// would only be copied into its memory to be refused, and 500 events of
    /// 1 MiB would not fit a 64 MiB instance at all. The rest is not
    /// accepted, and is offered again like any backpressure.
    pub async fn push_batch(&mut self, batch: &wit::EventBatch) -> Result<wit::Report> {
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        let target = self.instance.datastream_target_kinesis();
        match batch.prefix(MAX_LOWERED_BYTES) {
            Some(prefix) => Ok(target.call_push_batch(&mut self.store, &prefix).await?),
            None => Ok(target.call_push_batch(&mut self.store, batch).await?),
        }
    }

    /// `poll`: collects answers and starts what is due, waiting up to `wait`
    /// for something to settle.
    pub async fn poll(&mut self, wait: std::time::Duration) -> Result<wit::Report> {
        let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.store.set_epoch_deadline(ticks(self.options.call_budget + wait));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_poll(&mut self.store, wait_ns)
            .await?)
    }

    /// `stats`: counters since the instance started, and what it holds now.
    pub async fn stats(&mut self) -> Result<wit::TargetStats> {
        self.store.set_epoch_deadline(ticks(self.options.call_budget));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_stats(&mut self.store)
            .await?)
    }

    /// `flush`: sends everything; every event pushed so far then has an outcome.
    pub async fn flush(&mut self) -> Result<wit::Report> {
        self.store.set_epoch_deadline(ticks(self.options.flush_budget));
        Ok(self
            .instance
            .datastream_target_kinesis()
            .call_flush(&mut self.store)
            .await?)
    }
}

/// Event data one `push-batch` call hands over at most (one event more when
/// that event alone is larger).
pub const MAX_LOWERED_BYTES: usize = 4 << 20;

impl wit::EventBatch {
    /// The first events holding at most `max_bytes` (at least one), when
    /// that is not all of them.
    fn prefix(&self, max_bytes: usize) -> Option<Self> {
        if self.data.len() <= max_bytes {
            return None;
        }
        let (mut events, mut bytes) = (0, 0);
        for &len in &self.lengths {
            if events > 0 && bytes + len as usize > max_bytes {
                break;
            }
            events += 1;
            bytes += len as usize;
        }
        let events = events.min(self.ids.len());
        Some(Self {
            ids: self.ids[..events].to_vec(),
            lengths: self.lengths[..events].to_vec(),
            data: self.data[..bytes.min(self.data.len())].to_vec(),
        })
    }

    /// `events` packed into one batch, in order.
    pub fn pack(events: &[wit::Event]) -> Self {
        let mut data = Vec::with_capacity(events.iter().map(|e| e.data.len()).sum());
        for e in events {
            data.extend_from_slice(&e.data);
        }
        Self {
            ids: events.iter().map(|e| e.id).collect(),
            // Past u32::MAX (no event that large fits a guest's memory) the
            // batch no longer adds up, and its events fail with InvalidBatch.
            lengths: events
                .iter()
                .map(|e| u32::try_from(e.data.len()).unwrap_or(u32::MAX))
                .collect(),
            data,
        }
    }

    /// Events in the batch (ids).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Removes the first `n` events: what is left is what to offer again
    /// when `push-batch` accepted `n`.
    pub fn remove_first(&mut self, n: usize) {
        let n = n.min(self.ids.len());
        let bytes: usize = self.lengths.iter().take(n).map(|&l| l as usize).sum();
        self.ids.drain(..n);
        self.lengths.drain(..n.min(self.lengths.len()));
        self.data.drain(..bytes.min(self.data.len()));
    }
}

/// Epoch ticks in `budget`, at least one.
fn ticks(budget: Duration) -> u64 {
    (budget.as_nanos() / EPOCH_TICK.as_nanos()).clamp(1, u128::from(u64::MAX / 2)) as u64
}

/// Slots for `instances` tenants, each with memory up to `memory_limit`.
fn pooling(instances: u32, memory_limit: usize) -> PoolingAllocationConfig {
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
