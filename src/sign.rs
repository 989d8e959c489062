//! SigV4 signing of a PutRecords request with the `aws-sigv4` crate; the
//! body's SHA-256 comes from [`crate::digest`] (the host's, in a component).
//!
//! `host` is signed but not returned among the headers to send: hosts derive
//! it from the URL authority (which `Endpoint` normalized to the same string),
//! and some component hosts refuse requests that set it themselves.

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

/// Signing service name of Kinesis Data Streams.
pub const SERVICE: &str = "kinesis";

/// What SigV4 signs with: an access key pair and, for temporary
/// credentials, their session token. Borrowed: `credentials` builds it from
/// what it fetched, so signing does not depend on how keys are found.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    /// `AKIA...` (long-term) or `ASIA...` (temporary).
    pub access_key_id: &'a str,
    /// The secret the signature is keyed with; never sent.
    pub secret_access_key: &'a str,
    /// Sent as `x-amz-security-token` with temporary credentials.
    pub session_token: Option<&'a str>,
}

/// Signs requests for one set of credentials and region.
#[derive(Debug, Clone)]
pub struct Signer {
    identity: Identity,
    region: String,
    service: &'static str,
}

impl Signer {
    /// A signer for Kinesis.
    pub fn new<'a>(keys: impl Into<Keys<'a>>, region: &str) -> Self {
        Self::for_service(keys.into(), region, SERVICE)
    }

    /// A signer for another service (`sts` for `AssumeRole`).
    pub fn for_service(keys: Keys<'_>, region: &str, service: &'static str) -> Self {
        let creds = aws_credential_types::Credentials::new(
            keys.access_key_id.to_string(),
            keys.secret_access_key.to_string(),
            keys.session_token.map(str::to_string),
            None,
            "config",
        );
        Self {
            // What `creds.into()` builds for credentials without expiry or
            // account id, minus its account-id feature tracking (a config-bag
            // layer in a hash map), which costs the component ~14 KB.
            identity: Identity::new(creds, None),
            region: region.to_string(),
            service,
        }
    }

    /// Signs `POST /` to `authority` with `headers` and `body`; returns the
    /// headers to add (`x-amz-date`, `authorization`, `x-amz-security-token`).
    ///
    /// ```
    /// use kinesis_target::sign::{Keys, Signer};
    /// let keys = Keys { access_key_id: "AKID", secret_access_key: "s", session_token: None };
    /// let added = Signer::new(keys, "us-east-1")
    ///     .sign("https", "kinesis.us-east-1.amazonaws.com", &[("content-type", "application/x-amz-json-1.1")], b"{}", std::time::UNIX_EPOCH)
    ///     .unwrap();
    /// assert!(added.iter().any(|(k, v)| k == "authorization" && v.contains("SignedHeaders=content-type;host;x-amz-date")));
    /// ```
    pub fn sign(
        &self,
        scheme: &str,
        authority: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, String> {
        let settings = SigningSettings::default();
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| format!("signing parameters: {e}"))?
            .into();
        let url = format!("{scheme}://{authority}/");
        let all_headers = std::iter::once(("host", authority)).chain(headers.iter().copied());
        let payload = SignableBody::Precomputed(crate::digest::sha256_hex(body)?);
        let request = SignableRequest::new("POST", &url, all_headers, payload)
            .map_err(|e| format!("request cannot be signed: {e}"))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("signing failed: {e}"))?
            .into_parts();
        let (added, _params) = instructions.into_parts();
        Ok(added
            .into_iter()
            .map(|h| (h.name().to_ascii_lowercase(), h.value().to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests;
