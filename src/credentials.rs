//! Credentials for signing: static from the config, or found the way AWS
//! SDKs find them (environment, web identity, container, instance metadata;
//! see `chain`), optionally exchanged for a role's with STS `AssumeRole`;
//! cached, and refreshed minutes before they expire.
//!
//! Providers are called through the same [`Transport`] as PutRecords, one
//! exchange at a time with short timeouts. That is the one place a call may
//! wait on the network unasked, and only when credentials are missing or due
//! for refresh; a failed fetch is remembered for [`FAILURE_HOLD`] so that a
//! provider that is down costs one timeout, not one per request.

use crate::endpoint::Endpoint;
use crate::report::Failure;
use crate::rng::{Draw, Rng, Stream};
use crate::send::{Clock, Transport};
use crate::sign::{Keys, Signer};
use std::time::{Duration, SystemTime};

pub mod chain;
mod fetch;
#[cfg(test)]
pub(crate) use fetch::iso8601;
pub(crate) mod metadata;
mod sts;

/// Credentials with the time they stop working, when they do.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `None`: long-term credentials (config `key`/`secret`, environment).
    pub expires: Option<SystemTime>,
}

// Secrets must never reach a log line, even through `{:?}`.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expires", &self.expires)
            .finish()
    }
}

/// What signing needs of them.
impl<'a> From<&'a Credentials> for Keys<'a> {
    fn from(c: &'a Credentials) -> Self {
        Keys {
            access_key_id: &c.access_key_id,
            secret_access_key: &c.secret_access_key,
            session_token: c.session_token.as_deref(),
        }
    }
}

/// The `AWS_*` variables of the environment the host gave the component.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(String, String)>,
}

impl Environment {
    /// The component's own environment (`wasi:cli/environment`).
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Keeps the `AWS_*` variables of `vars`.
    ///
    /// ```
    /// use kinesis_target::credentials::Environment;
    /// let env = Environment::from_vars([("AWS_REGION".into(), "eu-west-1".into()), ("HOME".into(), "/root".into())]);
    /// assert_eq!(env.var("AWS_REGION"), Some("eu-west-1"));
    /// assert_eq!(env.var("HOME"), None);
    /// ```
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            vars: vars.into_iter().filter(|(k, _)| k.starts_with("AWS_")).collect(),
        }
    }

    /// A variable's value; unset and empty are the same, as in the SDKs.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

// Values may be secrets: show names only.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.vars.iter().map(|(k, _)| k)).finish()
    }
}

/// Where base credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `key` / `secret` / `session` of the config.
    Static(Credentials),
    /// Neither `key` nor `secret` set: the provider chain, over this environment.
    Chain(Environment),
}

/// Extension `role_arn`: STS `AssumeRole` with the base credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

/// Everything that decides which credentials sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialConfig {
    pub source: Source,
    pub assume_role: Option<AssumeRole>,
    /// STS for `role_arn` and web identity: `sts_endpoint`, `AWS_ENDPOINT_URL_STS`,
    /// `AWS_ENDPOINT_URL`, or the region's.
    pub sts_endpoint: Endpoint,
}

/// How long before expiry credentials are refreshed (plus up to a minute of jitter).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// How long a failed fetch answers for the provider before it is asked again.
pub const FAILURE_HOLD: Duration = Duration::from_secs(1);

/// Credentials in use, and when to fetch new ones.
struct Cached {
    signer: Signer,
    expires: Option<SystemTime>,
    refresh_at: Option<SystemTime>,
}

/// Hands out a signer with current credentials, fetching them when needed.
pub struct Provider {
    config: CredentialConfig,
    region: String,
    cached: Option<Cached>,
    /// The last failure and the monotonic time until which it stands.
    failed: Option<(Duration, Failure)>,
    jitter: Rng,
}

impl Provider {
    /// A provider of `config`'s credentials for `region`; `seed` spreads the
    /// refresh times of instances started together.
    pub fn new(config: CredentialConfig, region: &str, seed: u64) -> Self {
        Self {
            config,
            region: region.to_string(),
            cached: None,
            failed: None,
            jitter: Rng::new(seed, Stream::CREDENTIAL_REFRESH),
        }
    }

    /// Whether credentials come from a provider and can be fetched anew.
    pub fn refreshes(&self) -> bool {
        self.config.assume_role.is_some() || matches!(self.config.source, Source::Chain(_))
    }

    /// Kinesis said the credentials expired: fetch new ones before the next request.
    pub fn expire(&mut self) {
        if self.refreshes() {
            self.cached = None;
            self.failed = None;
        }
    }

    /// A signer for Kinesis with credentials that are current at `clock.now()`.
    pub fn signer<T: Transport, C: Clock>(&mut self, transport: &mut T, clock: &C) -> Result<&Signer, Failure> {
        let now = clock.now();
        let due = self
            .cached
            .as_ref()
            .is_none_or(|c| c.refresh_at.is_some_and(|at| now >= at));
        if due {
            let mono = clock.monotonic();
            let held = self
                .failed
                .as_ref()
                .filter(|(until, _)| mono < *until)
                .map(|(_, failure)| failure.clone());
            let was_held = held.is_some();
            let fetched = match held {
                Some(failure) => Err(failure),
                None => self.resolve(transport, clock),
            };
            match fetched {
                Ok(credentials) => {
                    self.failed = None;
                    self.cached = Some(self.cache(credentials, now));
                }
                Err(failure) => {
                    if !was_held {
                        self.failed = Some((mono + FAILURE_HOLD, failure.clone()));
                    }
                    // Credentials that still work outlive a failed refresh.
                    let usable = self.cached.as_ref().is_some_and(|c| c.expires.is_none_or(|e| now < e));
                    if !usable {
                        self.cached = None;
                        return Err(failure);
                    }
                }
            }
        }
        Ok(&self.cached.as_ref().expect("cached or returned").signer)
    }

    fn resolve<T: Transport, C: Clock>(&self, transport: &mut T, clock: &C) -> Result<Credentials, Failure> {
        let base = match &self.config.source {
            Source::Static(credentials) => credentials.clone(),
            Source::Chain(env) => chain::resolve(env, &self.config.sts_endpoint, transport, clock)?,
        };
        match &self.config.assume_role {
            Some(role) => sts::assume_role(role, &base, &self.config.sts_endpoint, &self.region, transport, clock),
            None => Ok(base),
        }
    }

    /// Refresh `REFRESH_AHEAD` plus jitter before expiry, or halfway for
    /// credentials that live shorter than that.
    fn cache(&mut self, credentials: Credentials, now: SystemTime) -> Cached {
        let ahead = REFRESH_AHEAD + Duration::from_millis(self.jitter.next_u64() % 60_000);
        let refresh_at = credentials.expires.map(|expires| {
            let life = expires.duration_since(now).unwrap_or_default();
            if life > ahead * 2 {
                expires - ahead
            } else {
                now + life / 2
            }
        });
        Cached {
            signer: Signer::new(&credentials, &self.region),
            expires: credentials.expires,
            refresh_at,
        }
    }
}

// Tested through a target in `target/tests/credentials.rs`.
