//! One instance's host state: its WASI context, its memory cap and what it
//! asked for, and the outbound hook that applies the tenant's policy.

use super::bindings;
use crate::grants::Grants;
use crate::options::{DebugLog, Transport};
use crate::outbound::Allowed;
use std::sync::Arc;
use wasmtime::ResourceLimiter;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, ResourceTable, WasmList};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Per-instance host state: WASI context, resource table, limits, outbound policy.
pub struct HostState {
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: TenantLimits,
    pub(super) hooks: TenantHooks,
    pub(super) grants: Grants,
    pub(super) debug_log: Option<DebugLog>,
}

/// The memory cap, and what the instance asked for.
pub(super) struct TenantLimits {
    pub(super) max_memory: usize,
    /// Largest linear memory granted so far.
    pub(super) peak_memory: usize,
    /// A growth that was refused: the size asked for.
    pub(super) refused: Option<usize>,
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
pub(super) struct TenantHooks {
    pub(super) allowed: Allowed,
    pub(super) tls: Arc<rustls::ClientConfig>,
    pub(super) denied: u64,
    pub(super) transport: Option<Transport>,
    /// The tenant's kept-alive connections (the built-in sender's).
    pub(super) pool: crate::send::Pool,
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
        match &self.transport {
            Some(transport) => transport.send(request),
            None => Box::new(crate::send::send(request, options, self.tls.clone(), self.pool.clone())),
        }
    }
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
/// to the embedder's [`DebugLog`], or to stderr with the target's name.
impl bindings::datastream::target::logging::Host for HostState {
    async fn log(&mut self, target: String, line: String) -> wasmtime::Result<()> {
        match &self.debug_log {
            Some(log) => log.write(&target, &line),
            None => eprintln!("[debug] target {target}: {line}"),
        }
        Ok(())
    }
}

/// Links `datastream:target/digest`: the SHA-256 of each request body the
/// component signs, with the CPU's SHA instructions where it has them
/// (`sha2` detects them at run time). One call per request, not per event.
///
/// Defined by hand, not through the bindings' `Host` trait: those lift the
/// body into a `Vec` first, a copy of every request body (3 % of the client's
/// CPU at 1 KiB events); this hashes it where it lies in linear memory.
pub(super) fn add_digest_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut digest = linker.instance("datastream:target/digest@0.3.0")?;
    digest.func_wrap(
        "sha256",
        |store: StoreContextMut<'_, HostState>, (data,): (WasmList<u8>,)| {
            use sha2::{Digest, Sha256};
            Ok((Sha256::digest(data.as_le_slice(&store)).to_vec(),))
        },
    )?;
    Ok(())
}
