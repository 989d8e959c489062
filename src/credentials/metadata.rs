//! The two metadata services that hand out a role's credentials as JSON:
//! ECS / EKS Pod Identity container credentials, and EC2 instance metadata
//! (IMDSv2 only: a PUT for a session token, then GETs that carry it).

use super::Credentials;
use super::fetch::{check_expiry, failure, parse_time, retryable_status};
use crate::endpoint::{Endpoint, Scheme};
use crate::report::{Failure, codes};
use crate::send::{Clock, HttpRequest, Method, Transport, exchange_blocking};
use serde_json::Value;
use std::time::Duration;

/// Short, as in the SDKs: a machine off AWS must fail fast.
const IMDS_TIMEOUT: Duration = Duration::from_secs(1);
const CONTAINER_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts per call; only unreachable or failing (5xx) answers are tried again.
const ATTEMPTS: u32 = 2;

const IMDS_DEFAULT: &str = "http://169.254.169.254";
const IMDS_DEFAULT_IPV6: &str = "http://[fd00:ec2::254]";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const CONTAINER_HOST: &str = "http://169.254.170.2";

/// One provider call: where, and what a failure is called.
struct Call<'a> {
    code: &'static str,
    what: &'a str,
    endpoint: &'a Endpoint,
    timeout: Duration,
}

impl Call<'_> {
    /// `method path` with `headers`; the body of a 200 answer.
    fn run<T: Transport, C: Clock>(
        &self,
        t: &mut T,
        c: &C,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>, Failure> {
        let verb = match method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = HttpRequest {
                method,
                endpoint: self.endpoint,
                path,
                headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                body: Vec::new(),
                timeout: self.timeout,
            };
            let (message, retryable) = match exchange_blocking(t, c, request) {
                Ok(answer) if answer.status == 200 => return Ok(answer.body),
                Ok(answer) => (format!("HTTP {}", answer.status), retryable_status(answer.status)),
                Err(e) => (format!("{}: {}", e.code, e.message), true),
            };
            if !retryable || attempt >= ATTEMPTS {
                let url = self.endpoint.url();
                let url = url.trim_end_matches('/');
                return Err(failure(
                    self.code,
                    format!("{} at {url}: {verb} {path}: {message}", self.what),
                    retryable,
                ));
            }
        }
    }
}

/// Where instance metadata is: `AWS_EC2_METADATA_SERVICE_ENDPOINT`, or the
/// default of `..._ENDPOINT_MODE` (IPv4 unless `IPv6`).
pub(crate) fn instance_endpoint(env: &super::Environment) -> Result<Endpoint, String> {
    let ipv6 = env
        .var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
        .is_some_and(|m| m.eq_ignore_ascii_case("ipv6"));
    let url =
        env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or(if ipv6 { IMDS_DEFAULT_IPV6 } else { IMDS_DEFAULT });
    Endpoint::parse(url.trim_end_matches('/')).map_err(|e| format!("AWS_EC2_METADATA_SERVICE_ENDPOINT {e}"))
}

/// EC2 instance metadata, IMDSv2: `AWS_EC2_METADATA_SERVICE_ENDPOINT` (or
/// `..._ENDPOINT_MODE=IPv6`) says where.
pub(super) fn instance<T: Transport, C: Clock>(
    env: &super::Environment,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    let code = codes::INSTANCE_METADATA_CREDENTIALS_ERROR;
    let endpoint = instance_endpoint(env).map_err(|e| failure(code, e, false))?;
    let call = Call {
        code,
        what: "instance metadata (IMDSv2)",
        endpoint: &endpoint,
        timeout: IMDS_TIMEOUT,
    };
    let token = call.run(
        t,
        c,
        Method::Put,
        TOKEN_PATH,
        &[("x-aws-ec2-metadata-token-ttl-seconds", "21600")],
    )?;
    let token = String::from_utf8(token).map_err(|_| failure(code, "the session token is not text".into(), true))?;
    let auth = [("x-aws-ec2-metadata-token", token.trim())];
    let roles = call.run(t, c, Method::Get, ROLE_PATH, &auth)?;
    let roles = String::from_utf8_lossy(&roles);
    let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Err(failure(code, "no IAM role is attached to this instance".into(), false));
    };
    let body = call.run(t, c, Method::Get, &format!("{ROLE_PATH}{role}"), &auth)?;
    let credentials = from_json(&body).map_err(|e| failure(code, format!("role {role}: {e}"), true))?;
    check_expiry(credentials.expires, c.now(), code, "instance metadata")?;
    Ok(credentials)
}

/// Where container credentials are, and their path:
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on 169.254.170.2, else
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` (plain http only to the agent or
/// this machine, as in the SDKs).
pub(crate) fn container_endpoint(env: &super::Environment) -> Result<(Endpoint, String), String> {
    let url = match env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        Some(relative) => format!("{CONTAINER_HOST}{relative}"),
        None => env
            .var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .unwrap_or_default()
            .to_string(),
    };
    let (endpoint, path) =
        Endpoint::parse_with_path(&url).map_err(|e| format!("AWS_CONTAINER_CREDENTIALS_*_URI {e}"))?;
    if endpoint.scheme == Scheme::Http && !allowed_http_host(&endpoint.authority) {
        return Err(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must use https, or http to a loopback or ECS/EKS agent address, got host {:?}",
            endpoint.authority
        ));
    }
    Ok((endpoint, path))
}

/// ECS / EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on
/// 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the token of
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `..._TOKEN` when set.
pub(super) fn container<T: Transport, C: Clock>(
    env: &super::Environment,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    let code = codes::CONTAINER_CREDENTIALS_ERROR;
    let (endpoint, path) = container_endpoint(env).map_err(|e| failure(code, e, false))?;
    let token = match env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => Some(std::fs::read_to_string(file).map_err(|e| {
            failure(
                code,
                format!("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {file}: {e}"),
                true,
            )
        })?),
        None => env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(str::to_string),
    };
    let token = token.map(|t| t.trim().to_string());
    if token.as_deref().is_some_and(|t| t.contains(['\r', '\n'])) {
        return Err(failure(code, "the authorization token spans lines".into(), false));
    }
    let headers: Vec<(&str, &str)> = token.as_deref().map(|t| ("authorization", t)).into_iter().collect();
    let call = Call {
        code,
        what: "container credentials",
        endpoint: &endpoint,
        timeout: CONTAINER_TIMEOUT,
    };
    let body = call.run(t, c, Method::Get, &path, &headers)?;
    let credentials = from_json(&body).map_err(|e| failure(code, e, true))?;
    check_expiry(credentials.expires, c.now(), code, "the container credentials endpoint")?;
    Ok(credentials)
}

fn allowed_http_host(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    host == "localhost"
        || host == "[::1]"
        || host.starts_with("127.")
        || matches!(host, "169.254.170.2" | "169.254.170.23" | "[fd00:ec2::23]")
}

/// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`, the shape
/// both services answer with. Messages never quote the body: it holds secrets.
fn from_json(body: &[u8]) -> Result<Credentials, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_string())?;
    let text = |name: &str| v.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(code) = text("Code").filter(|c| *c != "Success") {
        return Err(format!(
            "answer code {code}: {}",
            text("Message").unwrap_or("no message")
        ));
    }
    let (Some(id), Some(secret)) = (text("AccessKeyId"), text("SecretAccessKey")) else {
        return Err("the answer has no AccessKeyId and SecretAccessKey".to_string());
    };
    let expires = match text("Expiration") {
        Some(at) => Some(parse_time(at).ok_or_else(|| format!("Expiration is not an RFC 3339 time: {at:?}"))?),
        None => None,
    };
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret.to_string(),
        session_token: text("Token").map(str::to_string),
        expires,
    })
}
