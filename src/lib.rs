//! `kinesis-target`: a `wasm32-wasip2` component that ships log events to
//! Amazon Kinesis Data Streams.
//!
//! The event's path through the modules: [`config`] (with [`cron`]) -> [`normalize`] ->
//! [`partition_key`] -> [`batch`] (with [`aggregate`] and [`shards`]) -> [`encode`] (with
//! [`md5x4`] for the aggregates' trailers) ->
//! [`sign`] (keys from [`credentials`], the body's hash from [`digest`]) -> [`send`] (over `wasi_http` in a component) ->
//! [`response`] -> [`retry`] -> [`report`] and [`stats`]; [`target`] drives it.
//! Each module owns its settings types and [`config`] builds them: no stage
//! imports `config`, only [`target`], [`reach`] and the component glue. Shared by several stages, owned by
//! none: [`record`] (the event itself), [`endpoint`], [`rng`] (one stream per
//! use), [`debug`] (SPEC 6), and the JSON and XML readers. Everything but the
//! WASI glue also builds natively, for unit tests and benchmarks.

pub mod aggregate;
pub mod batch;
pub mod bytes;
mod civil;
pub mod config;
pub mod credentials;
pub mod cron;
pub mod debug;
pub mod digest;
pub mod encode;
pub mod endpoint;
mod json;
pub mod md5x4;
pub mod normalize;
pub mod pacing;
pub mod partition_key;
pub mod reach;
pub mod record;
pub mod report;
pub mod response;
pub mod retry;
pub mod rng;
pub mod send;
pub mod shards;
pub mod sign;
pub mod stats;
pub mod target;
#[cfg(target_family = "wasm")]
pub mod wasi_http;
mod xml;

#[cfg(target_family = "wasm")]
mod component;
