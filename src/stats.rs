//! Counters over a target's life, exported through the WIT `stats` call.

use std::collections::BTreeMap;

/// What a target has done since it was created, and what it holds now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Events taken by `push`, including those failed at once (too large, disabled).
    pub events_accepted: u64,
    /// Offers `push` turned down because `max_buffer_size` was reached.
    pub events_refused: u64,
    pub delivered: u64,
    pub failed: u64,
    /// Sorted by code, so reports are stable.
    pub failed_by_code: BTreeMap<String, u64>,
    /// PutRecords requests started, retries included.
    pub requests: u64,
    /// Records sent again after a retryable failure.
    pub retries: u64,
    /// Of those, records sent again after an ambiguous failure: possible duplicates.
    pub ambiguous_retries: u64,
    pub bytes_sent: u64,
    /// Events `field_format` sent as they came because they are not a JSON object.
    pub normalize_passthrough: u64,
    /// Requests started and not answered yet.
    pub in_flight_requests: u64,
    /// Events in those requests.
    pub in_flight_events: u64,
    /// Events buffered or waiting for a retry.
    pub buffered_events: u64,
    /// Event bytes held: buffered, waiting and in flight.
    pub buffered_bytes: u64,
}
