//! KPL aggregation (SPEC 3): events that map to one shard packed into one
//! Kinesis record, in the format the KCL, Lambda's deaggregation libraries
//! and `aws-kinesis-agg` decode: magic `F3 89 9A C2`, a protobuf
//! `AggregatedRecord`, and the MD5 of the protobuf bytes.
//!
//! The three messages are written by hand (tags, varints, length-delimited
//! fields): a protobuf crate would cost the component more than the format.
//! Sizes are computed exactly as events are added, so a batch knows what its
//! request will weigh before anything is encoded.
//!
//! ```text
//! message AggregatedRecord { repeated string partition_key_table = 1;
//!                            repeated string explicit_hash_key_table = 2;
//!                            repeated Record records = 3; }
//! message Record { required uint64 partition_key_index = 1;
//!                  optional uint64 explicit_hash_key_index = 2;
//!                  required bytes data = 3; }
//! ```

use crate::record::Record;
use md5::{Digest, Md5};
use std::ops::Range;

/// The first bytes of every aggregated record.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// The KPL's `AggregationMaxSize`: the default of `aggregation_max_size`.
pub const DEFAULT_MAX_SIZE: usize = 51_200;
/// Magic and MD5 trailer around the protobuf bytes.
const FRAMING: usize = MAGIC.len() + 16;

/// Kinesis' hash key of a partition key: its MD5 read as a 128-bit big-endian integer.
///
/// ```
/// assert_eq!(kinesis_target::aggregate::hash_key("pk1"), 329398341438914906102347661116985167824);
/// ```
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// A hash key in decimal, as `ExplicitHashKey` takes it. Written out here:
/// core's `u128` formatting costs the component ~2 KB.
///
/// ```
/// assert_eq!(kinesis_target::aggregate::decimal(u128::MAX), "340282366920938463463374607431768211455");
/// assert_eq!(kinesis_target::aggregate::decimal(0), "0");
/// ```
pub fn decimal(mut n: u128) -> String {
    let mut digits = Vec::with_capacity(39);
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Which events may share an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Events of one shard of the ListShards map of this generation (its index).
    Shard { generation: u32, index: u32 },
    /// Without a shard map: events of one hash key (one partition key).
    Key(u128),
}

/// Where an event goes: its group, and its hash key (`explicit_hash_key`,
/// or the MD5 of its partition key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub group: Group,
    pub hash_key: u128,
}

/// Events of one group, in order, on their way to becoming one Kinesis record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    records: Vec<Record>,
    /// Index into `keys` of each record's partition key.
    key_index: Vec<u32>,
    /// The partition key table, first seen first, each with its hash key
    /// (compared first: cheaper than the string).
    keys: Vec<(u128, String)>,
    /// `explicit_hash_key` of the config, carried by every record.
    explicit_hash_key: Option<String>,
    /// The first record's placement: the outer record's `ExplicitHashKey`
    /// and the shard it was packed for.
    placement: Placement,
    /// Bytes of the aggregated data: magic, protobuf, MD5.
    data_len: usize,
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Bytes of a length-delimited field of `len` bytes (tag, length, bytes).
fn field_len(len: usize) -> usize {
    1 + varint_len(len) + len
}

fn put_field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Bytes of one `Record` message, without its own tag and length.
fn record_len(key_index: usize, explicit_hash_key: bool, data: usize) -> usize {
    1 + varint_len(key_index) + if explicit_hash_key { 2 } else { 0 } + field_len(data)
}

impl Aggregate {
    /// An aggregate of one record. `static_key` is the partition key of
    /// records without their own.
    pub fn new(record: Record, static_key: &str, placement: Placement, explicit_hash_key: Option<String>) -> Self {
        let mut aggregate = Self {
            records: Vec::new(),
            key_index: Vec::new(),
            keys: Vec::new(),
            data_len: FRAMING + explicit_hash_key.as_ref().map_or(0, |k| field_len(k.len())),
            explicit_hash_key,
            placement,
        };
        let hash = aggregate.placement.hash_key;
        aggregate.push(record, static_key, hash);
        aggregate
    }

    /// Its events copy their bytes out of their batch buffers
    /// ([`crate::record::Data::own`]).
    pub fn own_data(&mut self) {
        for record in &mut self.records {
            record.data.own();
        }
    }

    /// Events in it.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Takes the record of an aggregate of one, which is sent plain.
    pub fn take_single(&mut self) -> Option<Record> {
        if self.records.len() != 1 {
            return None;
        }
        self.key_index.clear();
        self.records.pop()
    }

    /// Each record with its hash key, in order.
    pub fn into_records(self) -> impl Iterator<Item = (Record, u128)> {
        let keys = self.keys;
        self.records
            .into_iter()
            .zip(self.key_index)
            .map(move |(record, i)| (record, keys[i as usize].0))
    }

    /// Where the first record goes, and so the whole aggregate.
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// The outer record's partition key: the first record's own, or `None`
    /// for the static key.
    pub fn partition_key(&self) -> Option<&str> {
        self.records.first().and_then(|r| r.partition_key.as_deref())
    }

    /// What the outer record counts for against the limits: data +
    /// partition key bytes. One record is sent plain, as it is.
    pub fn size(&self) -> usize {
        let key = self.keys.first().map_or(0, |(_, k)| k.len());
        match self.records.as_slice() {
            [one] => one.data.len() + key,
            _ => self.data_len + key,
        }
    }

    /// [`Self::size`] once a record of `data` bytes with partition key `key`
    /// (hash `hash`) is added.
    pub fn size_with(&self, key: &str, hash: u128, data: usize) -> usize {
        self.size_and_key(key, hash, data).0
    }

    /// [`Self::size_with`], and where `key` is in the key table (`None`: it
    /// would be added), for [`Self::push_keyed`].
    fn size_and_key(&self, key: &str, hash: u128, data: usize) -> (usize, Option<usize>) {
        let found = self.find(key, hash);
        let (index, table) = match found {
            Some(i) => (i, 0),
            None => (self.keys.len(), field_len(key.len())),
        };
        let record = field_len(record_len(index, self.explicit_hash_key.is_some(), data));
        let size = self.data_len + table + record + self.keys.first().map_or(0, |(_, k)| k.len());
        (size, found)
    }

    /// Adds a record whose hash key is `hash`; `static_key` as for [`Self::new`].
    pub fn push(&mut self, record: Record, static_key: &str, hash: u128) {
        let key = record.partition_key.as_deref().unwrap_or(static_key);
        let found = self.find(key, hash);
        self.push_keyed(record, static_key, hash, found);
    }

    /// [`Self::push`] with the key's place in the table already looked up.
    fn push_keyed(&mut self, record: Record, static_key: &str, hash: u128, found: Option<usize>) {
        let index = match found {
            Some(i) => i,
            None => {
                let key = record.partition_key.as_deref().unwrap_or(static_key);
                self.keys.push((hash, key.to_string()));
                self.data_len += field_len(key.len());
                self.keys.len() - 1
            }
        };
        self.data_len += field_len(record_len(index, self.explicit_hash_key.is_some(), record.data.len()));
        self.key_index.push(index as u32);
        self.records.push(record);
    }

    /// Linear: a table holds what fits in `aggregation_max_size`, and
    /// comparing hash keys first makes a miss cheap.
    fn find(&self, key: &str, hash: u128) -> Option<usize> {
        self.keys
            .iter()
            .position(|(h, k)| *h == hash && crate::bytes::same(k.as_bytes(), key.as_bytes()))
    }

    /// Bytes of [`Self::encode`]'s output, known before it is built.
    pub fn encoded_len(&self) -> usize {
        self.data_len
    }

    /// The aggregated record's data: magic, protobuf, MD5 of the protobuf.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data_len);
        let protobuf = self.encode_unsealed_into(&mut out);
        let digest = Md5::digest(&out[protobuf.clone()]);
        out[protobuf.end..].copy_from_slice(&digest);
        out
    }

    /// [`Self::encode`] appended to `out`, with the MD5 trailer left as 16
    /// zero bytes: a CBOR body takes the aggregate as it is built, with no
    /// buffer of its own to fill and copy, and hashes all of its aggregates'
    /// trailers at once ([`crate::encode::Trailers`]). Returns the span of
    /// `out` whose MD5 goes there: the protobuf.
    pub fn encode_unsealed_into(&self, out: &mut Vec<u8>) -> Range<usize> {
        let start = out.len();
        out.reserve(self.data_len);
        out.extend_from_slice(&MAGIC);
        for (_, key) in &self.keys {
            put_field(out, 0x0A, key.as_bytes());
        }
        if let Some(hash_key) = &self.explicit_hash_key {
            put_field(out, 0x12, hash_key.as_bytes());
        }
        let ehk = self.explicit_hash_key.is_some();
        for (record, &index) in self.records.iter().zip(&self.key_index) {
            out.push(0x1A);
            put_varint(out, record_len(index as usize, ehk, record.data.len()));
            out.push(0x08);
            put_varint(out, index as usize);
            if ehk {
                out.extend_from_slice(&[0x10, 0x00]);
            }
            put_field(out, 0x1A, &record.data);
        }
        let protobuf = start + MAGIC.len()..out.len();
        out.extend_from_slice(&[0; 16]);
        debug_assert_eq!(out.len() - start, self.data_len);
        protobuf
    }
}

/// Packs events into aggregates of at most `max_size` bytes, one filling
/// aggregate per group; an event that does not fit its group's starts a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packer {
    max_size: usize,
    /// The partition key of records without their own.
    static_key: String,
    explicit_hash_key: Option<String>,
    /// Aggregates in the order they were started.
    units: Vec<Aggregate>,
    /// The aggregate still filling for each group, as an index into `units`.
    filling: Vec<(Group, usize)>,
    /// Sum of the units' sizes.
    payload: usize,
    events: usize,
}

/// What adding an event does: join the aggregate at this index (its key
/// found in that aggregate's table at `key`, or new), or start one.
#[derive(Debug, Clone, Copy)]
pub struct Fit(Place);

#[derive(Debug, Clone, Copy)]
enum Place {
    Join {
        unit: usize,
        grows_by: usize,
        key: Option<usize>,
    },
    Start {
        size: usize,
    },
}

impl Fit {
    /// Kinesis records and bytes (data + partition key) adding the event adds.
    pub fn cost(&self) -> (usize, usize) {
        match self.0 {
            Place::Join { grows_by, .. } => (0, grows_by),
            Place::Start { size } => (1, size),
        }
    }
}

impl Packer {
    pub fn new(max_size: usize, static_key: &str, explicit_hash_key: Option<&str>) -> Self {
        Self {
            max_size,
            static_key: static_key.to_string(),
            explicit_hash_key: explicit_hash_key.map(str::to_string),
            units: Vec::new(),
            filling: Vec::new(),
            payload: 0,
            events: 0,
        }
    }

    /// Where this event would go, and what it would cost ([`Fit::cost`]);
    /// valid for [`Self::add_fitted`] until the packer changes.
    pub fn fit(&self, record: &Record, placement: &Placement) -> Fit {
        let key = record.partition_key.as_deref().unwrap_or(&self.static_key);
        let plain = record.data.len() + key.len();
        let Some(&(_, unit)) = self.filling.iter().find(|(g, _)| *g == placement.group) else {
            return Fit(Place::Start { size: plain });
        };
        let aggregate = &self.units[unit];
        let (size, key) = aggregate.size_and_key(key, placement.hash_key, record.data.len());
        if size > self.max_size {
            return Fit(Place::Start { size: plain });
        }
        Fit(Place::Join {
            unit,
            grows_by: size - aggregate.size(),
            key,
        })
    }

    /// Kinesis records and bytes (data + partition key) adding this event would add.
    pub fn cost(&self, record: &Record, placement: &Placement) -> (usize, usize) {
        self.fit(record, placement).cost()
    }

    pub fn add(&mut self, record: Record, placement: Placement) {
        let fit = self.fit(&record, &placement);
        self.add_fitted(record, placement, fit);
    }

    /// [`Self::add`] with what [`Self::fit`] said for this event since the
    /// packer last changed: one key lookup per event instead of three.
    pub fn add_fitted(&mut self, record: Record, placement: Placement, fit: Fit) {
        self.events += 1;
        match fit.0 {
            Place::Join { unit, grows_by, key } => {
                self.units[unit].push_keyed(record, &self.static_key, placement.hash_key, key);
                self.payload += grows_by;
            }
            Place::Start { size } => {
                let group = placement.group;
                let aggregate = Aggregate::new(record, &self.static_key, placement, self.explicit_hash_key.clone());
                self.units.push(aggregate);
                self.payload += size;
                match self.filling.iter_mut().find(|(g, _)| *g == group) {
                    Some(slot) => slot.1 = self.units.len() - 1,
                    None => self.filling.push((group, self.units.len() - 1)),
                }
            }
        }
    }

    /// Kinesis records so far (aggregates, and single events sent plain).
    pub fn units(&self) -> usize {
        self.units.len()
    }

    /// Data + partition key bytes of those records.
    pub fn payload(&self) -> usize {
        self.payload
    }

    /// Events packed.
    pub fn events(&self) -> usize {
        self.events
    }

    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Hands over what was packed and starts empty.
    pub fn take(&mut self) -> Vec<Aggregate> {
        self.filling.clear();
        self.payload = 0;
        self.events = 0;
        std::mem::take(&mut self.units)
    }
}

#[cfg(test)]
pub(crate) mod tests;
