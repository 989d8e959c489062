//! The provider chain, in the order the AWS SDKs use. A source whose
//! variables are absent is skipped; a source that is set up but fails stops
//! the chain with its own code, as in the SDKs, so a broken web identity
//! setup is not papered over by an instance role.
//!
//! 1. Environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
//! 2. Web identity: `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME`.
//! 3. Container: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `..._FULL_URI`.
//! 4. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`.

use super::fetch::failure;
use super::{Credentials, Environment, metadata, sts};
use crate::endpoint::Endpoint;
use crate::report::{Failure, codes};
use crate::send::{Clock, Transport};

/// The chain's providers, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainSource {
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE`: STS `AssumeRoleWithWebIdentity`.
    WebIdentity,
    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `..._FULL_URI`.
    Container,
    /// EC2 instance metadata (IMDSv2).
    InstanceMetadata,
    /// `AWS_EC2_METADATA_DISABLED=true` and nothing else set up.
    NotFound,
}

/// Which provider the chain asks in `env`: the first one set up. The one
/// rule for both the chain (`resolve`) and the endpoints a host allows
/// ([`crate::reach`]).
///
/// ```
/// use kinesis_target::credentials::{Environment, chain::{ChainSource, source}};
/// let env = Environment::from_vars([("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".into(), "/v2/creds".into())]);
/// assert_eq!(source(&env), ChainSource::Container);
/// assert_eq!(source(&Environment::default()), ChainSource::InstanceMetadata);
/// ```
pub fn source(env: &Environment) -> ChainSource {
    if env.var("AWS_ACCESS_KEY_ID").is_some() {
        ChainSource::Environment
    } else if env.var("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
        ChainSource::WebIdentity
    } else if env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        ChainSource::Container
    } else if env
        .var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        ChainSource::NotFound
    } else {
        ChainSource::InstanceMetadata
    }
}

pub(super) fn resolve<T: Transport, C: Clock>(
    env: &Environment,
    sts_endpoint: &Endpoint,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    match source(env) {
        ChainSource::Environment => environment(env),
        ChainSource::WebIdentity => web_identity(env, sts_endpoint, t, c),
        ChainSource::Container => metadata::container(env, t, c),
        ChainSource::InstanceMetadata => metadata::instance(env, t, c),
        ChainSource::NotFound => Err(failure(
            codes::CREDENTIALS_NOT_FOUND,
            "no credentials: properties.key and secret are not set, the environment has no AWS_ACCESS_KEY_ID, \
             AWS_WEB_IDENTITY_TOKEN_FILE or AWS_CONTAINER_CREDENTIALS_*, and AWS_EC2_METADATA_DISABLED=true"
                .to_string(),
            false,
        )),
    }
}

fn environment(env: &Environment) -> Result<Credentials, Failure> {
    // source() chose this provider: the key is set.
    let access_key_id = env.var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    let Some(secret) = env.var("AWS_SECRET_ACCESS_KEY") else {
        return Err(failure(
            codes::ENVIRONMENT_CREDENTIALS_ERROR,
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_string(),
            false,
        ));
    };
    Ok(Credentials {
        access_key_id: access_key_id.to_string(),
        secret_access_key: secret.to_string(),
        session_token: env.var("AWS_SESSION_TOKEN").map(str::to_string),
        expires: None,
    })
}

fn web_identity<T: Transport, C: Clock>(
    env: &Environment,
    sts_endpoint: &Endpoint,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    // source() chose this provider: the token file is named.
    let file = env.var("AWS_WEB_IDENTITY_TOKEN_FILE").unwrap_or_default();
    let code = codes::WEB_IDENTITY_CREDENTIALS_ERROR;
    let Some(role_arn) = env.var("AWS_ROLE_ARN") else {
        let message = "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not".to_string();
        return Err(failure(code, message, false));
    };
    // Read at every fetch: the kubelet rotates the token file.
    let token = std::fs::read_to_string(file).map_err(|e| {
        let message =
            format!("AWS_WEB_IDENTITY_TOKEN_FILE {file} cannot be read ({e}); the host must grant its directory");
        failure(code, message, true)
    })?;
    let session = match env.var("AWS_ROLE_SESSION_NAME") {
        Some(name) => name.to_string(),
        None => default_session_name(c),
    };
    sts::assume_role_with_web_identity(role_arn, &session, token.trim(), sts_endpoint, t, c)
}

/// What the SDKs do when `AWS_ROLE_SESSION_NAME` is unset: a name that says who and when.
pub(super) fn default_session_name<C: Clock>(c: &C) -> String {
    let millis = c
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("kinesis-target-{millis}")
}
