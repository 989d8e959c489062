//! STS `AssumeRole` (signed with the base credentials) and
//! `AssumeRoleWithWebIdentity` (unsigned: the token is the proof), in the
//! query protocol: a form-encoded POST, an XML answer.
//!
//! The answer is read by element name rather than with an XML parser: the
//! five values we need are plain text, and a parser would cost the component
//! more than everything else here.

use super::fetch::{check_expiry, failure, parse_time, retryable_status};
use super::{AssumeRole, Credentials};
use crate::endpoint::{Endpoint, Scheme};
use crate::report::{Failure, codes};
use crate::send::{Clock, HttpRequest, Method, Transport, exchange_blocking};
use crate::sign::Signer;
use crate::xml::element;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// RFC 3986 unreserved characters stay as they are.
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `AssumeRole` of extension `role_arn`, signed with `base`.
pub(super) fn assume_role<T: Transport, C: Clock>(
    role: &AssumeRole,
    base: &Credentials,
    endpoint: &Endpoint,
    region: &str,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    let mut params = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role.role_arn.as_str()),
        ("RoleSessionName", role.session_name.as_str()),
    ];
    if let Some(id) = &role.external_id {
        params.push(("ExternalId", id));
    }
    let body = form(&params);
    let scheme = match endpoint.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let mut headers = vec![("content-type".to_string(), FORM.to_string())];
    let signed = Signer::for_service(base.into(), region, "sts")
        .sign(
            scheme,
            &endpoint.authority,
            &[("content-type", FORM)],
            body.as_bytes(),
            c.now(),
        )
        .map_err(|e| failure(codes::ASSUME_ROLE_ERROR, e, false))?;
    headers.extend(signed);
    call(codes::ASSUME_ROLE_ERROR, "AssumeRole", endpoint, headers, body, t, c)
}

/// `AssumeRoleWithWebIdentity` of EKS IRSA and other OIDC federation.
pub(super) fn assume_role_with_web_identity<T: Transport, C: Clock>(
    role_arn: &str,
    session_name: &str,
    token: &str,
    endpoint: &Endpoint,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    let body = form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token),
    ]);
    let headers = vec![("content-type".to_string(), FORM.to_string())];
    let code = codes::WEB_IDENTITY_CREDENTIALS_ERROR;
    call(code, "AssumeRoleWithWebIdentity", endpoint, headers, body, t, c)
}

fn call<T: Transport, C: Clock>(
    code: &str,
    action: &str,
    endpoint: &Endpoint,
    headers: Vec<(String, String)>,
    body: String,
    t: &mut T,
    c: &C,
) -> Result<Credentials, Failure> {
    let url = endpoint.url();
    let request = HttpRequest {
        method: Method::Post,
        endpoint,
        path: "/",
        headers,
        body: body.into_bytes(),
        timeout: TIMEOUT,
    };
    let answer = exchange_blocking(t, c, request)
        .map_err(|e| failure(code, format!("STS {action} at {url}: {}: {}", e.code, e.message), true))?;
    let xml = String::from_utf8_lossy(&answer.body);
    if answer.status != 200 {
        let error = element(&xml, "Code").map_or_else(|| "no error code".to_string(), unescape);
        let message = element(&xml, "Message").map(unescape).unwrap_or_default();
        let retryable =
            retryable_status(answer.status) || matches!(error.as_str(), "Throttling" | "IDPCommunicationError");
        return Err(failure(
            code,
            format!("STS {action} at {url}: HTTP {} {error}: {message}", answer.status),
            retryable,
        ));
    }
    let credentials = credentials(&xml).ok_or_else(|| {
        failure(
            code,
            format!("STS {action} at {url}: the answer carries no credentials"),
            true,
        )
    })?;
    check_expiry(credentials.expires, c.now(), code, "STS")?;
    Ok(credentials)
}

/// The `<Credentials>` element of an `AssumeRole*Result`.
fn credentials(xml: &str) -> Option<Credentials> {
    let block = element(xml, "Credentials")?;
    Some(Credentials {
        access_key_id: unescape(element(block, "AccessKeyId")?),
        secret_access_key: unescape(element(block, "SecretAccessKey")?),
        session_token: element(block, "SessionToken").map(unescape),
        expires: Some(parse_time(element(block, "Expiration")?)?),
    })
}

/// The five predefined XML entities; `&amp;` last so `&amp;lt;` stays `&lt;`.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

// Built in place: joining a `Vec<String>` would link a second `join` (~1 KB).
fn form(params: &[(&str, &str)]) -> String {
    let mut form = String::new();
    for (k, v) in params {
        if !form.is_empty() {
            form.push('&');
        }
        form.push_str(k);
        form.push('=');
        form.extend(utf8_percent_encode(v, FORM_VALUE));
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assume_role_answer_yields_its_credentials_and_expiry() {
        let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
          <AssumedRoleUser><Arn>arn:aws:sts::123:assumed-role/r/s</Arn><AssumedRoleId>ARO:s</AssumedRoleId></AssumedRoleUser>
          <Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>se&amp;cret</SecretAccessKey>
          <SessionToken>tok+/=</SessionToken><Expiration>2026-11-26T03:00:00Z</Expiration></Credentials>
          </AssumeRoleResult></AssumeRoleResponse>"#;
        let c = credentials(xml).unwrap();
        assert_eq!(c.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key, "se&cret");
        assert_eq!(c.session_token.as_deref(), Some("tok+/="));
        assert_eq!(c.expires, parse_time("2026-11-26T03:00:00Z"));
        assert!(c.expires.is_some());
    }

    #[test]
    fn form_values_are_percent_encoded_except_unreserved() {
        assert_eq!(
            form(&[("RoleArn", "arn:aws:iam::1:role/a b"), ("X", "a-_.~+")]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&X=a-_.~%2B"
        );
    }
}
