//! The `amazonkinesis` world's bindings, and the component built from this
//! workspace.

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

/// The component built from this workspace, embedded at compile time.
pub const EMBEDDED_COMPONENT: &[u8] = include_bytes!(env!("KINESIS_TARGET_WASM"));
