//! The event as it travels: its id, its bytes, and its own partition key
//! when it has one. Its own module so that batching, aggregation and
//! encoding all take it without depending on one another.

/// One event on its way to becoming a Kinesis record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    pub data: Vec<u8>,
    /// This record's own key, when the target's key depends on the event;
    /// `None`: the target's static key.
    pub partition_key: Option<String>,
}

impl Record {
    /// An event with the target's static key.
    pub fn new(id: u64, data: Vec<u8>) -> Self {
        Self {
            id,
            data,
            partition_key: None,
        }
    }
}
