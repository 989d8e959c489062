//! `kinesis-target`: a `wasm32-wasip2` component that ships log events to
//! Amazon Kinesis Data Streams.
//!
//! The event's path through the modules: [`config`] (with [`cron`]) -> [`normalize`] ->
//! [`partition_key`] -> [`batch`] (with [`aggregate`] and [`shards`]) -> [`encode`] -> [`sign`] -> [`send`] (over `wasi_http` in a
//! component) -> [`response`] -> [`retry`] -> [`report`] and [`stats`];
//! [`target`] drives it. Everything but the WASI
//! glue also builds natively, for unit tests and benchmarks.

pub mod aggregate;
pub mod batch;
mod civil;
pub mod config;
pub mod credentials;
pub mod cron;
pub mod encode;
pub mod endpoint;
pub mod normalize;
pub mod pacing;
pub mod partition_key;
pub mod report;
pub mod response;
pub mod retry;
pub mod send;
pub mod shards;
pub mod sign;
pub mod stats;
pub mod target;
#[cfg(target_family = "wasm")]
pub mod wasi_http;

#[cfg(target_family = "wasm")]
mod component;
