//! Events waiting to be sent, cut into PutRecords-sized batches.
//!
//! A batch closes when it holds `max_events` records or when the next record
//! would push it past `max_request_size` (AWS counts data + partition key
//! bytes, before base64), so every closed batch is a valid request.
//!
//! With aggregation the same limits apply to the Kinesis records the events
//! are packed into ([`Packer`]): a batch closes when the next event would
//! need a Kinesis record past `max_events` or bytes past `max_request_size`.

use crate::aggregate::{Aggregate, Packer, Placement};
// Batches hold records; re-exported, as callers name it with the batch.
pub use crate::record::Record;
use std::collections::VecDeque;

/// Records for one PutRecords request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub records: Vec<Record>,
    /// Sum over records of data + partition key bytes.
    pub payload_bytes: usize,
    /// With aggregation, the events instead, one Kinesis record per
    /// aggregate (an aggregate of one event is sent plain); `records` is empty.
    pub aggregates: Vec<Aggregate>,
}

impl Batch {
    /// Events in the batch.
    pub fn events(&self) -> usize {
        self.records.len() + self.aggregates.iter().map(Aggregate::len).sum::<usize>()
    }
}

/// Limits a batch must respect.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_events: usize,
    pub max_request_size: usize,
    /// Bytes of the static partition key, for records without their own.
    pub partition_key_len: usize,
}

/// Accumulates records; closed batches wait in `ready` until sent.
#[derive(Debug)]
pub struct Batcher {
    limits: BatchLimits,
    open: Batch,
    ready: VecDeque<Batch>,
    /// With aggregation: packs the open batch's events.
    packer: Option<Packer>,
}

impl Batcher {
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            open: Batch::default(),
            ready: VecDeque::new(),
            packer: None,
        }
    }

    /// A batcher that packs events with `packer` ([`Self::add_placed`]).
    pub fn aggregating(limits: BatchLimits, packer: Packer) -> Self {
        Self {
            packer: Some(packer),
            ..Self::new(limits)
        }
    }

    /// Size a record counts for against the limits: data + partition key bytes.
    pub fn record_size(&self, record: &Record) -> usize {
        let key = record
            .partition_key
            .as_ref()
            .map_or(self.limits.partition_key_len, String::len);
        record.data.len() + key
    }

    /// Adds a record that fits the record limit (the caller checked).
    pub fn add(&mut self, record: Record) {
        let size = self.record_size(&record);
        if !self.open.records.is_empty() && self.open.payload_bytes + size > self.limits.max_request_size {
            self.close();
        }
        self.open.payload_bytes += size;
        self.open.records.push(record);
        if self.open.records.len() >= self.limits.max_events || self.open.payload_bytes >= self.limits.max_request_size
        {
            self.close();
        }
    }

    /// Adds a record that fits the record limit to an aggregating batcher
    /// (panics on another), packed by `placement`.
    pub fn add_placed(&mut self, record: Record, placement: Placement) {
        let limits = self.limits;
        let packer = self.packer.as_ref().expect("an aggregating batcher");
        let fit = packer.fit(&record, &placement);
        let (records, bytes) = fit.cost();
        let full = packer.units() + records > limits.max_events || packer.payload() + bytes > limits.max_request_size;
        let close = full && !packer.is_empty();
        if close {
            self.close();
        }
        let packer = self.packer.as_mut().expect("an aggregating batcher");
        if close {
            // Emptied: the event starts the next batch's first aggregate.
            packer.add(record, placement);
        } else {
            packer.add_fitted(record, placement, fit);
        }
        // Every event that comes adds bytes: nothing fits a full batch.
        if packer.payload() >= limits.max_request_size {
            self.close();
        }
    }

    /// Closes the open batch, if it has records, so it can be sent.
    pub fn close(&mut self) {
        if let Some(packer) = self.packer.as_mut().filter(|p| !p.is_empty()) {
            self.open.payload_bytes += packer.payload();
            self.open.aggregates = packer.take();
        }
        if !self.open.records.is_empty() || !self.open.aggregates.is_empty() {
            self.ready.push_back(std::mem::take(&mut self.open));
        }
    }

    /// The next batch that is ready to send.
    pub fn pop_ready(&mut self) -> Option<Batch> {
        self.ready.pop_front()
    }

    /// Whether a closed batch waits to be sent.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Closed batches waiting to be sent.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Events in the open batch (packed ones included).
    pub fn open_events(&self) -> usize {
        self.open.records.len() + self.packer.as_ref().map_or(0, Packer::events)
    }

    /// Records buffered, open or closed.
    pub fn len(&self) -> usize {
        let packed = self.packer.as_ref().map_or(0, Packer::events);
        self.open.records.len() + packed + self.ready.iter().map(Batch::events).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
