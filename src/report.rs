//! Outcomes handed back to the host: one per event, exactly once.

/// Who produced a failure code (mirrors the WIT `failure-origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Kinesis,
    Transport,
    Target,
}

/// Why an event was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub origin: Origin,
    pub retryable: bool,
    /// An earlier attempt ended ambiguously (timeout or broken connection
    /// after sending, unreadable answer): the record may be in the stream
    /// despite this failure.
    pub maybe_delivered: bool,
}

impl Failure {
    /// A failure the component decided itself.
    pub fn target(code: &str, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            origin: Origin::Target,
            retryable,
            maybe_delivered: false,
        }
    }
}

/// The end of one event's journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered { shard_id: String, sequence_number: String },
    Failed(Failure),
}

/// An outcome with the host's event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOutcome {
    pub id: u64,
    pub outcome: Outcome,
}

/// The events delivered during one call, packed (mirrors the WIT
/// `deliveries`): no allocation per event, where a `String` for each of a
/// delivered event's shard id and sequence number, made here and again in
/// the host, cost 7 % more client CPU per 100 B event (BENCHMARKS.md
/// "Issue 14, third pass"). The events of one aggregated Kinesis record
/// share its shard and sequence number, written once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    pub ids: Vec<u64>,
    /// Per id: the Kinesis record that carried it, an index into `shards`
    /// and `sequence_lengths`. Empty with `outcome_detail: ids`.
    pub records: Vec<u32>,
    /// Shards named by `shards`; usually each once (see [`Deliveries::push`]).
    pub shard_ids: Vec<String>,
    /// Per Kinesis record: an index into `shard_ids`.
    pub shards: Vec<u32>,
    /// Per Kinesis record: the byte length of its sequence number in
    /// `sequence_numbers`.
    pub sequence_lengths: Vec<u32>,
    pub sequence_numbers: String,
}

/// How many shard ids [`Deliveries::push`] searches before it names a shard
/// again: a report rarely touches more, and the search stays bounded.
const SHARD_SEARCH: usize = 16;

impl Deliveries {
    /// Adds a delivered event, with the shard id and sequence number of
    /// the Kinesis record that carried it (`outcome_detail: full`) or
    /// without (`ids`).
    ///
    /// ```
    /// use kinesis_target::report::Deliveries;
    /// let mut d = Deliveries::default();
    /// d.push(7, Some(("shardId-1", "495")));
    /// d.push(8, Some(("shardId-1", "496")));
    /// d.push_same_record(9); // aggregated with 8
    /// assert_eq!(d.shard_ids, ["shardId-1"]);
    /// assert_eq!(d.records, [0, 1, 1]);
    /// assert_eq!(d.iter().nth(2), Some((9, Some(("shardId-1", "496")))));
    /// ```
    pub fn push(&mut self, id: u64, detail: Option<(&str, &str)>) {
        self.ids.push(id);
        match detail {
            None if self.records.is_empty() => {}
            // The lists stay one record per id: in a report that has both
            // (`configure` changed `outcome_detail`), an event without
            // detail is in a record with an empty shard id and sequence
            // number.
            None => {
                let empty = self.push_record("", "");
                self.records.push(empty);
            }
            Some((shard_id, sequence_number)) => {
                if self.records.len() + 1 < self.ids.len() {
                    let empty = self.push_record("", "");
                    self.records.resize(self.ids.len() - 1, empty);
                }
                let record = self.push_record(shard_id, sequence_number);
                self.records.push(record);
            }
        }
    }

    /// Adds a delivered event that travelled in the same Kinesis record as
    /// the one pushed last (an aggregated record's next event).
    pub fn push_same_record(&mut self, id: u64) {
        self.ids.push(id);
        if let Some(&last) = self.records.last() {
            self.records.push(last);
        }
    }

    /// A Kinesis record's shard and sequence number; returns its index.
    fn push_record(&mut self, shard_id: &str, sequence_number: &str) -> u32 {
        // Answers come in request order, so the last shard named is the
        // likeliest; a shard named twice is only a few bytes more.
        let known = self
            .shard_ids
            .iter()
            .rev()
            .take(SHARD_SEARCH)
            .position(|s| crate::bytes::same(s.as_bytes(), shard_id.as_bytes()));
        let shard = match known {
            Some(back) => self.shard_ids.len() - 1 - back,
            None => {
                self.shard_ids.push(shard_id.to_string());
                self.shard_ids.len() - 1
            }
        };
        self.shards.push(shard as u32);
        self.sequence_lengths.push(sequence_number.len() as u32);
        self.sequence_numbers.push_str(sequence_number);
        (self.shards.len() - 1) as u32
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Each delivered id, with its shard id and sequence number when they
    /// were recorded.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Option<(&str, &str)>)> + '_ {
        let mut starts = Vec::with_capacity(self.sequence_lengths.len());
        let mut at = 0;
        for &len in &self.sequence_lengths {
            starts.push(at);
            at += len as usize;
        }
        self.ids.iter().enumerate().map(move |(i, &id)| {
            let detail = self.records.get(i).map(|&r| {
                let r = r as usize;
                let start = starts[r];
                let sequence_number = &self.sequence_numbers[start..start + self.sequence_lengths[r] as usize];
                (self.shard_ids[self.shards[r] as usize].as_str(), sequence_number)
            });
            (id, detail)
        })
    }

    /// Adds `other`'s deliveries after these.
    pub fn append(&mut self, other: Deliveries) {
        let mut last = None;
        for (i, (id, detail)) in other.iter().enumerate() {
            let record = other.records.get(i);
            if record.is_some() && record == last {
                self.push_same_record(id);
            } else {
                self.push(id, detail);
            }
            last = record;
        }
    }
}

/// What one call settled (mirrors the WIT `report`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub accepted: u32,
    /// Failed events.
    pub outcomes: Vec<EventOutcome>,
    /// Delivered events.
    pub delivered: Deliveries,
    pub requests: u32,
    pub bytes_sent: u64,
    /// Events accepted and not settled yet.
    pub pending: u32,
    /// When `poll` should next be called, from now; `None`: not before new events or `flush`.
    pub poll_after: Option<std::time::Duration>,
}

impl Report {
    /// How many events this report settled, delivered or failed.
    pub fn settled(&self) -> usize {
        self.outcomes.len() + self.delivered.len()
    }

    /// One outcome per settled event, deliveries first, each delivery with
    /// its shard id and sequence number (empty with `outcome_detail: ids`):
    /// the per-event view, for native callers and tests.
    pub fn event_outcomes(&self) -> Vec<EventOutcome> {
        let delivered = self.delivered.iter().map(|(id, detail)| {
            let (shard_id, sequence_number) = detail.unwrap_or_default();
            EventOutcome {
                id,
                outcome: Outcome::Delivered {
                    shard_id: shard_id.to_string(),
                    sequence_number: sequence_number.to_string(),
                },
            }
        });
        delivered.chain(self.outcomes.iter().cloned()).collect()
    }

    /// Adds `other`'s settled events (failures and deliveries) to this
    /// report's; its counters are left out.
    pub fn append_settled(&mut self, other: Report) {
        self.outcomes.extend(other.outcomes);
        self.delivered.append(other.delivered);
    }
}

/// Our own failure codes, beside the ones Kinesis returns.
pub mod codes {
    /// Data + partition key exceed `max_record_size`.
    pub const RECORD_TOO_LARGE: &str = "RecordTooLarge";
    /// The target is disabled (`status: false`): nothing is sent.
    pub const TARGET_DISABLED: &str = "TargetDisabled";
    /// `push` before a successful `configure`.
    pub const NOT_CONFIGURED: &str = "NotConfigured";
    /// The connection could not be made or broke.
    pub const CONNECTION_ERROR: &str = "ConnectionError";
    /// No answer within `timeout`.
    pub const TIMEOUT: &str = "Timeout";
    /// The host refused the outgoing request (its outbound policy).
    pub const HTTP_REQUEST_DENIED: &str = "HttpRequestDenied";
    /// The answer could not be understood.
    pub const MALFORMED_RESPONSE: &str = "MalformedResponse";
    /// An HTTP error status with no error code in the body.
    pub const HTTP_ERROR: &str = "HttpError";
    /// The request could not be signed.
    pub const SIGNING_ERROR: &str = "SigningError";
    /// `debug.dont_send_logs`: the event was logged and deliberately not sent.
    pub const DONT_SEND_LOGS: &str = "DontSendLogs";
    /// Credentials come from the chain and none of its sources is set up.
    pub const CREDENTIALS_NOT_FOUND: &str = "CredentialsNotFound";
    /// `AWS_ACCESS_KEY_ID` without `AWS_SECRET_ACCESS_KEY`.
    pub const ENVIRONMENT_CREDENTIALS_ERROR: &str = "EnvironmentCredentialsError";
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`: the token or STS `AssumeRoleWithWebIdentity` failed.
    pub const WEB_IDENTITY_CREDENTIALS_ERROR: &str = "WebIdentityCredentialsError";
    /// `AWS_CONTAINER_CREDENTIALS_*`: the container endpoint failed.
    pub const CONTAINER_CREDENTIALS_ERROR: &str = "ContainerCredentialsError";
    /// EC2 instance metadata (IMDSv2) failed or is not there.
    pub const INSTANCE_METADATA_CREDENTIALS_ERROR: &str = "InstanceMetadataCredentialsError";
    /// Extension `role_arn`: STS `AssumeRole` failed.
    pub const ASSUME_ROLE_ERROR: &str = "AssumeRoleError";
    /// Extension `aggregation`: the event's aggregate landed on another shard
    /// than the one it was packed for (the stream was resharded), one whose
    /// hash key range does not hold the event: it is sent again.
    pub const SHARD_MISMATCH: &str = "ShardMismatch";
    /// `push-batch`: its `ids`, `lengths` and `data` disagree, so it cannot
    /// be cut into events.
    pub const INVALID_BATCH: &str = "InvalidBatch";
}

/// Kinesis (and STS) saying the credentials' session token expired: with
/// credentials from a provider, fetch new ones and send again.
pub fn is_expired_token_code(code: &str) -> bool {
    matches!(code, "ExpiredTokenException" | "ExpiredToken")
}

/// A credential provider's failure (the chain's sources, `role_arn`).
pub fn is_credentials_code(code: &str) -> bool {
    use codes::*;
    [
        CREDENTIALS_NOT_FOUND,
        ENVIRONMENT_CREDENTIALS_ERROR,
        WEB_IDENTITY_CREDENTIALS_ERROR,
        CONTAINER_CREDENTIALS_ERROR,
        INSTANCE_METADATA_CREDENTIALS_ERROR,
        ASSUME_ROLE_ERROR,
    ]
    .contains(&code)
}

/// Kinesis saying a shard (or the stream) is at its write limit: wait for
/// its budget, not a backoff.
pub fn is_throttle(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException" | "LimitExceededException" | "ThrottlingException"
    )
}

/// Error codes worth sending again (SPEC section 2): per-record throughput and
/// internal failures, whole-request throttling.
pub fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "InternalFailure"
            | "InternalFailureException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "LimitExceededException"
            | "ThrottlingException"
            | "Throttling"
            | "RequestLimitExceeded"
            | "KMSThrottlingException"
    )
}

/// Extension `outcome_detail`: `full` hands back each delivered event's shard
/// id and sequence number; `ids` only which ids were delivered (failures are
/// always in full), which a host that only counts pays far less for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutcomeDetail {
    #[default]
    Full,
    Ids,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(i: u64, shards: u64) -> (String, String) {
        (format!("shardId-{:012}", i % shards), format!("4959{i}"))
    }

    #[test]
    fn deliveries_give_back_every_shard_id_and_sequence_number_in_order() {
        // 40 shards round robin: more than the search reaches, so some are
        // named twice; every event still reads back as it went in.
        for shards in [1, 3, 16, 40] {
            let mut d = Deliveries::default();
            let all: Vec<(String, String)> = (0..200).map(|i| detail(i, shards)).collect();
            for (i, (shard, seq)) in all.iter().enumerate() {
                d.push(i as u64, Some((shard, seq)));
            }
            let back: Vec<(u64, (String, String))> = d
                .iter()
                .map(|(id, detail)| {
                    let (shard, seq) = detail.expect("full detail");
                    (id, (shard.to_string(), seq.to_string()))
                })
                .collect();
            assert_eq!(
                back,
                all.into_iter()
                    .enumerate()
                    .map(|(i, x)| (i as u64, x))
                    .collect::<Vec<_>>()
            );
            if shards <= SHARD_SEARCH as u64 {
                assert_eq!(d.shard_ids.len() as u64, shards, "each shard named once");
            }
        }
    }

    #[test]
    fn events_of_one_aggregated_record_name_its_shard_and_sequence_number_once() {
        let mut d = Deliveries::default();
        d.push(1, Some(("shardId-000000000001", "4955")));
        d.push_same_record(2);
        d.push_same_record(3);
        d.push(4, Some(("shardId-000000000001", "4956")));
        assert_eq!(
            (d.records.as_slice(), d.sequence_numbers.as_str()),
            ([0, 0, 0, 1].as_slice(), "49554956")
        );
        assert_eq!(d.iter().nth(2), Some((3, Some(("shardId-000000000001", "4955")))));
        let mut appended = Deliveries::default();
        appended.append(d.clone());
        assert_eq!(appended, d, "appending keeps the sharing");
    }

    #[test]
    fn deliveries_without_detail_keep_ids_only_until_one_has_detail() {
        let mut a = Deliveries::default();
        a.push(1, None);
        a.push(2, None);
        assert!(a.shards.is_empty() && a.sequence_numbers.is_empty());
        let mut b = Deliveries::default();
        b.push(3, Some(("shardId-000000000009", "77")));
        let mut report = Report {
            delivered: a,
            ..Default::default()
        };
        report.append_settled(Report {
            delivered: b,
            ..Default::default()
        });
        let back: Vec<_> = report.delivered.iter().collect();
        assert_eq!(
            back,
            [
                (1, Some(("", ""))),
                (2, Some(("", ""))),
                (3, Some(("shardId-000000000009", "77")))
            ]
        );
        assert_eq!(report.settled(), 3);
    }
}
