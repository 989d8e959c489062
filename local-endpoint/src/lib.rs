//! Embedded local Kinesis endpoint: a small Kinesis Data Streams compatible
//! HTTP server (JSON 1.1 and CBOR protocols) on 127.0.0.1 that keeps records in memory,
//! verifies SigV4 signatures and enforces the Kinesis request limits (and,
//! if asked, the per-shard write limits; see [`ShardLimits`]).
//!
//! It lets the CLI demo and end-to-end tests run without an AWS account. It
//! is strict on purpose, but it is not the reference for the wire format:
//! real Kinesis is.

mod amz_date;
mod api;
mod cbor;
mod faults;
mod get;
mod limits;
mod outage;
mod put;
mod server;
mod shapes;
mod sigv4;
mod store;
mod streams;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Faults, RequestError};
pub use limits::{KINESIS_BYTES_PER_SECOND, KINESIS_RECORDS_PER_SECOND, ShardLimits};
pub use outage::{Outage, OutageKind};

/// Access key id the endpoint accepts by default.
pub const DEFAULT_ACCESS_KEY: &str = "AKIDLOCALKINESIS";
/// Secret key matching [`DEFAULT_ACCESS_KEY`].
pub const DEFAULT_SECRET_KEY: &str = "local-kinesis-secret";
/// Region the endpoint accepts in credential scopes by default.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Kinesis' per-record limit: data plus partition key bytes (1 MiB).
pub const DEFAULT_MAX_RECORD_SIZE: usize = 1024 * 1024;
/// Kinesis' PutRecords limit: sum of data plus partition key bytes (5 MiB).
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 5 * 1024 * 1024;

/// Settings of a [`LocalEndpoint`].
#[derive(Clone, Debug)]
pub struct LocalEndpointConfig {
    /// The only access key id accepted.
    pub access_key: String,
    /// Secret key used to recompute signatures.
    pub secret_key: String,
    /// The only region accepted in the credential scope.
    pub region: String,
    /// TCP port on 127.0.0.1; 0 picks any free port.
    pub port: u16,
    /// Maximum data + partition key bytes of one record.
    pub max_record_size: usize,
    /// Maximum sum of data + partition key bytes of one PutRecords request.
    pub max_request_size: usize,
    /// Faults to inject from the start (none by default); see
    /// [`LocalEndpoint::set_faults`] to change them while running.
    pub faults: Faults,
    /// Per-shard write limits to enforce from the start; None (the default)
    /// accepts any rate. See [`LocalEndpoint::set_shard_limits`].
    pub shard_limits: Option<ShardLimits>,
    /// An outage to simulate (none by default); see
    /// [`LocalEndpoint::set_outage`].
    pub outage: Option<Outage>,
}

impl Default for LocalEndpointConfig {
    fn default() -> Self {
        LocalEndpointConfig {
            access_key: DEFAULT_ACCESS_KEY.to_owned(),
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            port: 0,
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            faults: Faults::default(),
            shard_limits: None,
            outage: None,
        }
    }
}

/// A record as stored by the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Shard the record was routed to, e.g. `shardId-000000000000`.
    pub shard_id: String,
    /// Decimal sequence number, increasing within the shard.
    pub sequence_number: String,
    /// Partition key as sent.
    pub partition_key: String,
    /// ExplicitHashKey as sent, if any.
    pub explicit_hash_key: Option<String>,
    /// Decoded record data.
    pub data: Vec<u8>,
}

/// Counters since the endpoint started.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EndpointStats {
    /// HTTP requests handled (any outcome).
    pub requests: u64,
    /// TCP connections accepted and served (not those an outage or a fault
    /// refused): with kept-alive connections, far fewer than `requests`.
    pub connections: u64,
    /// PutRecords calls that passed authentication.
    pub put_records_requests: u64,
    /// PutRecord calls that passed authentication.
    pub put_record_requests: u64,
    /// GetRecords calls that passed authentication.
    pub get_records_requests: u64,
    /// Records stored by PutRecord and PutRecords.
    pub records_stored: u64,
    /// Data bytes (decoded) of the stored records.
    pub data_bytes_stored: u64,
    /// Requests rejected by authentication of any kind.
    pub auth_failures: u64,
    /// Of those, InvalidSignatureException rejections.
    pub signature_failures: u64,
    /// All requests answered with an error status (auth failures included).
    pub error_responses: u64,
    /// PutRecords calls that stored at least one record. A batch resent
    /// after a lost answer counts again, and [`LocalEndpoint::records`]
    /// holds every copy.
    pub put_records_stored_requests: u64,
    /// Records answered with an injected ProvisionedThroughputExceededException.
    pub faults_throttled_records: u64,
    /// PutRecords calls failed whole by [`Faults::fail_requests`].
    pub faults_failed_requests: u64,
    /// Connections closed unread by [`Faults::refuse_connections`].
    pub faults_refused_connections: u64,
    /// PutRecords answers held back by [`Faults::slow_answers`].
    pub faults_slow_answers: u64,
    /// PutRecords answers spoiled by [`Faults::malformed_answers`].
    pub faults_malformed_answers: u64,
    /// Connections closed unanswered by [`Faults::drop_after_processing`].
    pub faults_dropped_connections: u64,
    /// Records answered ProvisionedThroughputExceededException because
    /// their shard was over its [`ShardLimits`] (a PutRecord call counts
    /// one).
    pub limit_throttled_records: u64,
    /// Calls answered 503 by an [`OutageKind::Http503`] outage.
    pub outage_unavailable_answers: u64,
    /// Connections closed unread at accept by an
    /// [`OutageKind::RefuseConnections`] outage.
    pub outage_refused_connections: u64,
    /// Kept-alive connections closed unanswered at their next request by an
    /// [`OutageKind::RefuseConnections`] outage.
    pub outage_dropped_connections: u64,
}

/// One shard's counters, from [`LocalEndpoint::shard_stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShardStats {
    /// Shard id, e.g. `shardId-000000000000`.
    pub shard_id: String,
    /// Records the shard holds (every copy of a resent record).
    pub records_stored: u64,
    /// Data plus partition key bytes of those records, as the limits count.
    pub bytes_stored: u64,
    /// Records turned away by the shard's [`ShardLimits`].
    pub limit_throttled_records: u64,
}

/// Live counters behind [`EndpointStats`].
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    connections: AtomicU64,
    put_records_requests: AtomicU64,
    put_record_requests: AtomicU64,
    get_records_requests: AtomicU64,
    records_stored: AtomicU64,
    data_bytes_stored: AtomicU64,
    auth_failures: AtomicU64,
    signature_failures: AtomicU64,
    error_responses: AtomicU64,
    put_records_stored_requests: AtomicU64,
    faults_throttled_records: AtomicU64,
    faults_failed_requests: AtomicU64,
    faults_refused_connections: AtomicU64,
    faults_slow_answers: AtomicU64,
    faults_malformed_answers: AtomicU64,
    faults_dropped_connections: AtomicU64,
    limit_throttled_records: AtomicU64,
    outage_unavailable_answers: AtomicU64,
    outage_refused_connections: AtomicU64,
    outage_dropped_connections: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> EndpointStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EndpointStats {
            requests: get(&self.requests),
            connections: get(&self.connections),
            put_records_requests: get(&self.put_records_requests),
            put_record_requests: get(&self.put_record_requests),
            get_records_requests: get(&self.get_records_requests),
            records_stored: get(&self.records_stored),
            data_bytes_stored: get(&self.data_bytes_stored),
            auth_failures: get(&self.auth_failures),
            signature_failures: get(&self.signature_failures),
            error_responses: get(&self.error_responses),
            put_records_stored_requests: get(&self.put_records_stored_requests),
            faults_throttled_records: get(&self.faults_throttled_records),
            faults_failed_requests: get(&self.faults_failed_requests),
            faults_refused_connections: get(&self.faults_refused_connections),
            faults_slow_answers: get(&self.faults_slow_answers),
            faults_malformed_answers: get(&self.faults_malformed_answers),
            faults_dropped_connections: get(&self.faults_dropped_connections),
            limit_throttled_records: get(&self.limit_throttled_records),
            outage_unavailable_answers: get(&self.outage_unavailable_answers),
            outage_refused_connections: get(&self.outage_refused_connections),
            outage_dropped_connections: get(&self.outage_dropped_connections),
        }
    }
}

/// Everything a request handler needs; shared by all connections.
struct State {
    config: LocalEndpointConfig,
    store: Mutex<store::Store>,
    counters: Counters,
    faults: faults::FaultState,
    outage: outage::OutageState,
}

impl State {
    fn new(config: LocalEndpointConfig) -> Self {
        State {
            faults: faults::FaultState::new(config.faults.clone()),
            outage: outage::OutageState::new(config.outage),
            store: Mutex::new(store::Store::new(config.shard_limits)),
            config,
            counters: Counters::default(),
        }
    }

    fn store(&self) -> MutexGuard<'_, store::Store> {
        // A panic while holding the lock cannot leave the store half-written
        // in a way that matters for a test double, so keep serving.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn now_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A running local Kinesis endpoint. Dropping it stops the server too;
/// [`LocalEndpoint::shutdown`] also waits for it.
pub struct LocalEndpoint {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LocalEndpoint {
    /// Binds 127.0.0.1:`config.port` (never another interface) and serves on
    /// a spawned tokio task. Fails if a fraction of `config.faults` is
    /// outside 0.0..=1.0, or `config.shard_limits` are invalid (see
    /// [`LocalEndpoint::set_shard_limits`]).
    pub async fn start(config: LocalEndpointConfig) -> anyhow::Result<LocalEndpoint> {
        config.faults.check().map_err(anyhow::Error::msg)?;
        if let Some(limits) = &config.shard_limits {
            limits.check().map_err(anyhow::Error::msg)?;
        }
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(config));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state), stopped));
        Ok(LocalEndpoint {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:45678`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration the endpoint started with (its `faults`,
    /// `shard_limits` and `outage` are the starting ones; the methods of
    /// the same names have those in force).
    pub fn config(&self) -> &LocalEndpointConfig {
        &self.state.config
    }

    /// Creates an ACTIVE stream with `shard_count` evenly split shards; does
    /// nothing if a stream of that name exists. Panics if `shard_count` is 0.
    pub fn create_stream(&self, name: &str, shard_count: u32) {
        assert!(shard_count > 0, "a stream needs at least one shard");
        let now = now_ms(SystemTime::now());
        self.state.store().create(name, shard_count, now);
    }

    /// ARN of a stream as the endpoint reports it (whether or not it exists).
    pub fn stream_arn(&self, name: &str) -> String {
        let region = &self.state.config.region;
        format!("arn:aws:kinesis:{region}:{}:stream/{name}", store::ACCOUNT_ID)
    }

    /// All records of a stream, shard by shard, in sequence order (empty if
    /// the stream does not exist).
    pub fn records(&self, stream: &str) -> Vec<StoredRecord> {
        self.state
            .store()
            .get(stream)
            .map(store::Stream::stored_records)
            .unwrap_or_default()
    }

    /// Replaces the faults in force and reseeds their RNG with
    /// `faults.seed`, so the draws start over as if the endpoint had just
    /// started with them. Requests already being handled keep what they
    /// drew. Panics if a fraction is outside 0.0..=1.0.
    pub fn set_faults(&self, faults: Faults) {
        if let Err(e) = faults.check() {
            panic!("{e}");
        }
        self.state.faults.set(faults);
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.state.faults.get()
    }

    /// Replaces the per-shard write limits (None: any rate). Every shard's
    /// buckets start over full, as if the endpoint had just started with
    /// these limits. Panics if a rate is 0 or `other_producer` is outside
    /// 0.0..1.0.
    pub fn set_shard_limits(&self, limits: Option<ShardLimits>) {
        if let Some(Err(e)) = limits.as_ref().map(ShardLimits::check) {
            panic!("{e}");
        }
        self.state.store().set_shard_limits(limits);
    }

    /// The per-shard write limits in force.
    pub fn shard_limits(&self) -> Option<ShardLimits> {
        self.state.store().shard_limits()
    }

    /// Replaces the outage (None: no outage, ending one under way). Its
    /// clock starts at the next PutRecords or PutRecord call.
    pub fn set_outage(&self, outage: Option<Outage>) {
        self.state.outage.set(outage);
    }

    /// The outage in force, whether or not its window has come.
    pub fn outage(&self) -> Option<Outage> {
        self.state.outage.get()
    }

    /// Per-shard counters of a stream, in shard order (empty if the stream
    /// does not exist).
    pub fn shard_stats(&self, stream: &str) -> Vec<ShardStats> {
        self.state
            .store()
            .get(stream)
            .map(store::Stream::shard_stats)
            .unwrap_or_default()
    }

    /// Counters since start.
    pub fn stats(&self) -> EndpointStats {
        self.state.counters.snapshot()
    }

    /// Stops accepting, drops open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LocalEndpoint {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
