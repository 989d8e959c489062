//! Outbound policy: which authorities a tenant's component may reach.
//!
//! The host decides from the target's config and the [`Grants`] it gave,
//! never from what the component says: the configured Kinesis endpoint and,
//! when its credentials come from a provider, that provider's endpoint. The
//! rules that find them are the component's own (`kinesis_target::reach`,
//! the guest crate linked natively), so host and guest cannot disagree. Any
//! other request is refused with `HttpRequestDenied`, which the component
//! reports as a permanent failure of the events it carried.

use crate::grants::Grants;
use kinesis_target::credentials::Environment;
use kinesis_target::endpoint::Scheme;
use serde_json::Value;

/// What a tenant may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OutboundPolicy {
    /// The default: the configured endpoint, and the credential providers its
    /// config and grants need, plus `extra` (`host[:port]`, e.g. a proxy's).
    #[default]
    ConfiguredEndpoints,
    /// [`OutboundPolicy::ConfiguredEndpoints`] plus these authorities.
    AlsoAllow(Vec<String>),
    /// The operator's list: of what a tenant's config needs, only these
    /// authorities. A tenant configured to send elsewhere (another host, an
    /// internal service) is refused: the multi-tenant default to choose.
    Only(Vec<String>),
    /// Anything: for trusted single-tenant hosts only.
    Any,
}

/// The authorities one tenant may reach, as `host:port` (port always set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    any: bool,
    authorities: Vec<String>,
}

impl Allowed {
    /// Everything.
    pub fn any() -> Self {
        Self {
            any: true,
            authorities: Vec::new(),
        }
    }

    /// What `policy` lets the target defined by `config` (the JSON given to
    /// `configure`) reach, with `grants` as its environment.
    ///
    /// ```
    /// use kinesis_host::outbound::{Allowed, OutboundPolicy};
    /// let config = serde_json::json!({"name": "t", "type": "amazonkinesis",
    ///     "properties": {"key": "k", "secret": "s", "region": "eu-west-1", "stream": "logs"}});
    /// let allowed = Allowed::for_target(&OutboundPolicy::default(), &config, &Default::default());
    /// assert!(allowed.permits(true, "kinesis.eu-west-1.amazonaws.com"));
    /// assert!(!allowed.permits(true, "example.com"));
    /// assert!(!allowed.permits(false, "169.254.169.254"), "static keys need no instance metadata");
    /// ```
    pub fn for_target(policy: &OutboundPolicy, config: &Value, grants: &Grants) -> Self {
        let (extra, only) = match policy {
            OutboundPolicy::Any => return Self::any(),
            OutboundPolicy::ConfiguredEndpoints => (&[][..], None),
            OutboundPolicy::AlsoAllow(list) => (&list[..], None),
            OutboundPolicy::Only(list) => (&[][..], Some(&list[..])),
        };
        // The component's own rules, linked natively: what it will contact
        // is what it is allowed, and the two cannot drift apart.
        let env = Environment::from_vars(grants.env.iter().cloned());
        let mut authorities: Vec<String> = kinesis_target::reach::endpoints(&config.to_string(), env)
            .iter()
            .map(|e| with_port(&e.authority, e.scheme == Scheme::Https))
            .collect();
        authorities.extend(extra.iter().map(|a| with_port(&a.to_ascii_lowercase(), false)));
        if let Some(only) = only {
            let only: Vec<String> = only.iter().map(|a| with_port(&a.to_ascii_lowercase(), false)).collect();
            authorities.retain(|a| only.contains(a));
        }
        authorities.sort();
        authorities.dedup();
        Self {
            any: false,
            authorities,
        }
    }

    /// Whether a request to `authority` (as the guest set it; `https` says
    /// which default port applies) is allowed.
    pub fn permits(&self, https: bool, authority: &str) -> bool {
        self.any
            || self
                .authorities
                .contains(&with_port(&authority.to_ascii_lowercase(), https))
    }

    /// Both lists (for the moment a target changes its endpoint).
    pub fn union(&self, other: &Allowed) -> Allowed {
        let mut authorities = [self.authorities.clone(), other.authorities.clone()].concat();
        authorities.sort();
        authorities.dedup();
        Allowed {
            any: self.any || other.any,
            authorities,
        }
    }

    /// The allowed authorities, `host:port`, sorted (empty with [`Allowed::any`]).
    pub fn authorities(&self) -> &[String] {
        &self.authorities
    }
}

/// `authority` with its port made explicit.
fn with_port(authority: &str, https: bool) -> String {
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if https { 443 } else { 80 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(props: Value) -> Value {
        json!({"name": "t", "type": "amazonkinesis", "properties": props})
    }

    fn grants(vars: &[(&str, &str)]) -> Grants {
        Grants::from_vars(vars.iter().copied())
    }

    #[test]
    fn the_configured_endpoint_only_by_default() {
        let c = config(
            json!({"key": "k", "secret": "s", "region": "us-east-1", "stream": "x", "endpoint": "http://127.0.0.1:4567"}),
        );
        let a = Allowed::for_target(&OutboundPolicy::default(), &c, &Grants::default());
        assert_eq!(a.authorities(), ["127.0.0.1:4567"]);
        assert!(a.permits(false, "127.0.0.1:4567"));
        assert!(!a.permits(false, "127.0.0.1:4568"));
        assert!(!a.permits(false, "169.254.169.254"));
    }

    #[test]
    fn the_credential_source_the_chain_will_use_is_allowed_and_no_other() {
        let c = config(json!({"region": "eu-west-1", "stream": "x"}));
        let imds = Allowed::for_target(&OutboundPolicy::default(), &c, &Grants::default());
        assert_eq!(
            imds.authorities(),
            ["169.254.169.254:80", "kinesis.eu-west-1.amazonaws.com:443"]
        );
        let web = grants(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ]);
        let a = Allowed::for_target(&OutboundPolicy::default(), &c, &web);
        assert_eq!(
            a.authorities(),
            ["kinesis.eu-west-1.amazonaws.com:443", "sts.eu-west-1.amazonaws.com:443"]
        );
        let ecs = grants(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")]);
        let a = Allowed::for_target(&OutboundPolicy::default(), &c, &ecs);
        assert!(a.permits(false, "127.0.0.1:9") && !a.permits(false, "169.254.169.254"));
        let role = config(json!({"key": "k", "secret": "s", "region": "eu-west-1", "stream": "x",
            "role_arn": "arn:aws:iam::1:role/r", "sts_endpoint": "http://127.0.0.1:5000"}));
        let a = Allowed::for_target(&OutboundPolicy::default(), &role, &Grants::default());
        assert!(a.permits(false, "127.0.0.1:5000") && !a.permits(false, "169.254.169.254"));
    }

    #[test]
    fn extra_authorities_and_any() {
        let c = config(json!({"key": "k", "secret": "s", "region": "us-east-1", "stream": "x"}));
        let a = Allowed::for_target(
            &OutboundPolicy::AlsoAllow(vec!["Proxy.internal:3128".into()]),
            &c,
            &Grants::default(),
        );
        assert!(a.permits(false, "proxy.internal:3128"));
        assert!(Allowed::for_target(&OutboundPolicy::Any, &c, &Grants::default()).permits(true, "example.com"));
    }

    #[test]
    fn an_operator_list_keeps_tenants_off_other_hosts() {
        let only = OutboundPolicy::Only(vec!["127.0.0.1:4567".into()]);
        let ok = config(
            json!({"key": "k", "secret": "s", "region": "us-east-1", "stream": "x", "endpoint": "http://127.0.0.1:4567"}),
        );
        assert!(Allowed::for_target(&only, &ok, &Grants::default()).permits(false, "127.0.0.1:4567"));
        let internal = config(
            json!({"key": "k", "secret": "s", "region": "us-east-1", "stream": "x", "endpoint": "http://10.0.0.5:8080"}),
        );
        let a = Allowed::for_target(&only, &internal, &Grants::default());
        assert!(a.authorities().is_empty() && !a.permits(false, "10.0.0.5:8080"));
    }
}
