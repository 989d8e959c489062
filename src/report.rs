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

/// What one call settled (mirrors the WIT `report`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub accepted: u32,
    pub outcomes: Vec<EventOutcome>,
    pub requests: u32,
    pub bytes_sent: u64,
    /// Events accepted and not settled yet.
    pub pending: u32,
    /// When `poll` should next be called, from now; `None`: not before new events or `flush`.
    pub poll_after: Option<std::time::Duration>,
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
