//! Which endpoints a target contacts: its Kinesis endpoint, STS when it
//! assumes a role (`role_arn`) or a web identity, and the one credential
//! provider its chain asks. A host that allows a tenant only these
//! (the reference host's outbound policy) asks here, natively, so that the
//! component's rules (region defaults, `AWS_ENDPOINT_URL*` precedence, the
//! chain's order, the metadata services' defaults) are written once.

use crate::config::{TargetConfig, parse_with_env};
use crate::credentials::chain::{self, ChainSource};
use crate::credentials::{Environment, Source, metadata};
use crate::endpoint::Endpoint;

/// The endpoints the target defined by `config_json` contacts with `env` as
/// its environment; none when the config is refused (`configure` fails, and
/// nothing is sent).
///
/// ```
/// use kinesis_target::credentials::Environment;
/// let config = r#"{"name": "t", "type": "amazonkinesis",
///     "properties": {"region": "eu-west-1", "stream": "logs"}}"#;
/// let urls: Vec<String> = kinesis_target::reach::endpoints(config, Environment::default())
///     .iter().map(|e| e.url()).collect();
/// assert_eq!(urls, ["https://kinesis.eu-west-1.amazonaws.com/", "http://169.254.169.254/"]);
/// ```
pub fn endpoints(config_json: &str, env: Environment) -> Vec<Endpoint> {
    match parse_with_env(config_json, env) {
        Ok(config) => of(&config),
        Err(_) => Vec::new(),
    }
}

/// The endpoints a parsed target contacts.
pub fn of(config: &TargetConfig) -> Vec<Endpoint> {
    let credentials = &config.credentials;
    let mut out = vec![config.endpoint.clone()];
    if credentials.assume_role.is_some() {
        out.push(credentials.sts_endpoint.clone());
    }
    if let Source::Chain(env) = &credentials.source {
        match chain::source(env) {
            ChainSource::Environment | ChainSource::NotFound => {}
            ChainSource::WebIdentity => out.push(credentials.sts_endpoint.clone()),
            ChainSource::Container => out.extend(metadata::container_endpoint(env).ok().map(|(e, _)| e)),
            ChainSource::InstanceMetadata => out.extend(metadata::instance_endpoint(env).ok()),
        }
    }
    out.dedup();
    out
}
