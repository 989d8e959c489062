//! Where each event goes (its hash key and shard) and the ListShards map
//! behind that, which both pacing and KPL aggregation use; and what a put
//! that landed on another shard than its aggregate was packed for means for
//! its events.

use super::exchange;
use super::{Target, TargetConfig};
use crate::aggregate::{self, Aggregate, Group, Packer, Placement};
use crate::encode::Protocol;
use crate::partition_key::DEFAULT_KEY;
use crate::record::Record;
use crate::report::Failure;
use crate::send::{Clock, Log, Transport};
use crate::shards::{self, LIST_SHARDS_TARGET, Shard, Shards};

/// The one hash key of every event of `config`: `explicit_hash_key`, or the
/// static partition key's. `None`: each event's own key decides.
pub(super) fn fixed_hash_key(config: &TargetConfig) -> Option<u128> {
    match (&config.explicit_hash_key, config.partition_key.as_static()) {
        (Some(hash_key), _) => hash_key.parse::<u128>().ok(),
        (None, Some(key)) => Some(aggregate::hash_key(key)),
        (None, None) => None,
    }
}

/// Only when keys differ per event, and something uses shards (pacing or
/// aggregation), is the shard map worth asking for.
pub(super) fn wants_shard_map(config: &TargetConfig) -> bool {
    fixed_hash_key(config).is_none() && (config.pacing.is_some() || config.aggregation.is_some())
}

/// How a target with `aggregation` groups its events.
pub(super) struct Grouping {
    /// [`fixed_hash_key`].
    fixed: Option<u128>,
}

impl Grouping {
    /// `None` without `aggregation`.
    pub fn new(config: &TargetConfig) -> Option<Self> {
        config.aggregation?;
        Some(Self {
            fixed: fixed_hash_key(config),
        })
    }

    /// Where `record` goes: with one hash key for all there is one group;
    /// else the shard map's shard, or (without a map) the key's own group.
    pub fn place(&self, record: &Record, shards: Option<&Shards>) -> Placement {
        let hash = self
            .fixed
            .unwrap_or_else(|| aggregate::hash_key(record.partition_key.as_deref().unwrap_or(DEFAULT_KEY)));
        match shards {
            Some(shards) if self.fixed.is_none() => shards.place(hash),
            _ => Placement {
                group: Group::Key(hash),
                hash_key: hash,
            },
        }
    }
}

/// A ListShards call under way: a page's exchange, and what the pages
/// before it listed.
pub(super) struct Listing<E> {
    exchange: E,
    listed: Vec<Shard>,
    /// Pages asked for so far, this one included.
    pages: usize,
    /// Monotonic time by which this page's answer must have come.
    deadline: std::time::Duration,
}

impl<E> Listing<E> {
    /// The exchange a `wait` should wake for.
    pub fn exchange(&self) -> &E {
        &self.exchange
    }
}

impl<T: Transport, C: Clock, L: Log> Target<T, C, L> {
    /// Starts ListShards when the map is missing and the last failure is old
    /// enough. It is an exchange like PutRecords: `push` and `poll` never
    /// wait for it, and events are placed without a map until it answers.
    pub(super) fn refresh_shards_if_due(&mut self) {
        let now = self.clock.monotonic();
        if self.listing.is_some() || !self.shards.as_ref().is_some_and(|s| s.due(now)) {
            return;
        }
        self.list_page(Vec::new(), None, 1);
    }

    /// Asks for the page after `token` (the first without one).
    fn list_page(&mut self, listed: Vec<Shard>, token: Option<&str>, pages: usize) {
        let body = shards::request_body(&self.config.stream, token);
        let started = self
            .credentials
            .signer(&mut self.transport, &self.clock)
            .and_then(|signer| {
                exchange::signed_request(
                    &self.config,
                    signer,
                    (LIST_SHARDS_TARGET, Protocol::Json),
                    body,
                    self.clock.now(),
                )
            })
            .map_err(shards::said)
            .and_then(|mut request| {
                request.timeout = request.timeout.min(shards::TIMEOUT);
                let deadline = self.clock.monotonic() + request.timeout * 3;
                let exchange = self
                    .transport
                    .start(request)
                    .map_err(|e| shards::said(Failure::target(e.code, e.message, false)))?;
                Ok((exchange, deadline))
            });
        match started {
            Ok((exchange, deadline)) => {
                self.listing = Some(Listing {
                    exchange,
                    listed,
                    pages,
                    deadline,
                });
                // An answer that is there already is taken at once.
                self.progress_listing();
            }
            Err(why) => self.listed(Err(why)),
        }
    }

    /// Takes the ListShards answer if it came (or its time ran out), and asks
    /// for the next page or takes the map.
    pub(super) fn progress_listing(&mut self) {
        let Some(listing) = self.listing.as_mut() else { return };
        let ended = match self.transport.progress(&mut listing.exchange) {
            Some(ended) => ended.map_err(|e| shards::said(Failure::target(e.code, e.message, false))),
            None if self.clock.monotonic() >= listing.deadline => Err("Timeout: no ListShards answer in time".into()),
            None => return,
        };
        let Listing { mut listed, pages, .. } = self.listing.take().expect("a listing");
        let page =
            ended.and_then(|answer| shards::parse_answer(answer.status, answer.error_type.as_deref(), &answer.body));
        match page {
            Ok((page, next)) => {
                listed.extend(page);
                match next {
                    Some(_) if pages >= shards::MAX_PAGES => {
                        self.listed(Err(format!("more than {} pages of shards", shards::MAX_PAGES)))
                    }
                    Some(token) => self.list_page(listed, Some(&token), pages + 1),
                    None => self.listed(Ok(listed)),
                }
            }
            Err(why) => self.listed(Err(why)),
        }
    }

    /// Takes what ListShards came to: the lanes follow the map, or pace the
    /// whole stream without one.
    fn listed(&mut self, listed: Result<Vec<Shard>, String>) {
        let now = self.clock.monotonic();
        let Some(shards) = self.shards.as_mut() else { return };
        let line = shards.update(listed, now);
        if self.config.pacing.is_some() {
            match shards.map() {
                Some(map) => self.lanes.follow(map, now),
                None => self.lanes.unfollow(now),
            }
        }
        if let Some(line) = line {
            self.log.log(&self.config.name, &line);
        }
    }

    /// A record landed on another shard than its lane's: the map the lanes
    /// follow is stale (the stream was resharded); ask again.
    pub(super) fn shard_map_stale(&mut self, generation: u32) {
        if self.shards.as_mut().is_some_and(|s| s.invalidate(generation)) {
            self.refresh_shards_if_due();
        }
    }

    /// Settles the events of an aggregate Kinesis took into `shard_id`.
    ///
    /// When that is not the shard it was packed for, the stream was
    /// resharded: the map is fetched again, and the events whose hash key the
    /// shard does not hold are returned to be sent again. They are in the
    /// stream, but the KCL skips user records outside a shard's hash key
    /// range; the KPL sends them again too.
    pub(super) fn deliver_packed(
        &mut self,
        aggregate: Aggregate,
        shard_id: &str,
        sequence_number: &str,
    ) -> Vec<Record> {
        let placement = aggregate.placement();
        let range = match self.shards.as_mut() {
            Some(shards) if !shards.expected(placement.group, shard_id) => {
                if let Group::Shard { generation, .. } = placement.group
                    && shards.invalidate(generation)
                {
                    self.refresh_shards_if_due();
                }
                let landed = self
                    .shards
                    .as_ref()
                    .and_then(Shards::map)
                    .and_then(|m| m.shard(shard_id));
                // Unknown: only what shares the first event's hash key surely belongs there.
                Some(landed.map_or((placement.hash_key, placement.hash_key), |s| (s.start, s.end)))
            }
            _ => None,
        };
        let mut misplaced = Vec::new();
        let mut first = true;
        for (record, hash) in aggregate.into_records() {
            if range.is_some_and(|(start, end)| hash < start || hash > end) {
                misplaced.push(record);
                continue;
            }
            let held = super::held_size(&record);
            if first {
                self.settle_delivered(record.id, held, shard_id, sequence_number);
                first = false;
            } else {
                self.settle_delivered_alongside(record.id, held);
            }
        }
        misplaced
    }

    /// Packs events to be sent again by the current map.
    pub(super) fn repack(&self, records: Vec<Record>) -> Vec<Aggregate> {
        let max_size = self.config.aggregation.unwrap_or(aggregate::DEFAULT_MAX_SIZE);
        let key = self.config.partition_key.as_static().unwrap_or(DEFAULT_KEY);
        let mut packer = Packer::new(max_size, key, self.config.explicit_hash_key.as_deref());
        for record in records {
            let placement = match &self.grouping {
                Some(grouping) => grouping.place(&record, self.shards.as_ref()),
                None => Shards::default().place(0),
            };
            packer.add(record, placement);
        }
        packer.take()
    }
}
