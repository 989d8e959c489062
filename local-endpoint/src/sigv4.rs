//! SigV4 verification of header-signed requests.
//!
//! The signature is recomputed with the same aws-sigv4 crate clients use,
//! over the headers the client says it signed, with their received values;
//! only the parsing and the policy checks around it are ours.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, Uri};

use super::LocalEndpointConfig;
use super::amz_date::{format_amz_date, parse_amz_date};

/// Signing name of Kinesis in the credential scope.
const SERVICE: &str = "kinesis";
/// How far X-Amz-Date may be from the endpoint's clock.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Why a request was not authenticated: the AWS error code and message.
#[derive(Debug)]
pub(super) struct AuthError {
    pub code: &'static str,
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> AuthError {
    AuthError {
        code,
        message: message.into(),
    }
}

fn invalid(message: impl Into<String>) -> AuthError {
    err("InvalidSignatureException", message)
}

fn incomplete(message: impl Into<String>) -> AuthError {
    err("IncompleteSignatureException", message)
}

/// The three parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
struct AuthHeader<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<AuthHeader<'_>, AuthError> {
    let Some(params) = value.strip_prefix(ALGORITHM).and_then(|r| r.strip_prefix(' ')) else {
        let algorithm = value.split(' ').next().unwrap_or_default();
        return Err(incomplete(format!("Unsupported AWS 'algorithm': '{algorithm}'")));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in params.split(',') {
        let Some((key, val)) = part.trim().split_once('=') else {
            return Err(incomplete(format!(
                "Authorization header requires each component to be of the form key=value: '{part}'"
            )));
        };
        match key {
            "Credential" => credential = Some(val),
            "SignedHeaders" => signed_headers = Some(val),
            "Signature" => signature = Some(val),
            _ => {}
        }
    }
    Ok(AuthHeader {
        credential: required(credential, "Credential", value)?,
        signed_headers: required(signed_headers, "SignedHeaders", value)?,
        signature: required(signature, "Signature", value)?,
    })
}

fn required<'a>(v: Option<&'a str>, name: &str, header: &str) -> Result<&'a str, AuthError> {
    v.ok_or_else(|| {
        incomplete(format!(
            "Authorization header requires '{name}' parameter. Authorization={header}"
        ))
    })
}

/// Verifies the SigV4 `Authorization` header of a request against the
/// endpoint's single access key.
///
/// Session tokens: aws-sigv4's signer (SessionTokenMode::Include, its
/// default) always puts `x-amz-security-token` into the signed headers, so a
/// token must be signed here too; it is handed to the signer as the session
/// token of the credentials, which reproduces the client's canonical request.
/// Its value is not checked against anything (there is no STS here).
pub(super) fn verify(
    config: &LocalEndpointConfig,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), AuthError> {
    let Some(auth) = headers.get(http::header::AUTHORIZATION) else {
        return Err(err(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ));
    };
    let auth = auth
        .to_str()
        .map_err(|_| incomplete("Authorization header is not valid ASCII"))?;
    let auth = parse_authorization(auth)?;

    let scope: Vec<&str> = auth.credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope[..] else {
        return Err(incomplete(format!(
            "Credential should have 5 '/'-separated components: '{}'",
            auth.credential
        )));
    };
    if access_key != config.access_key {
        return Err(err(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if region != config.region {
        return Err(invalid(format!(
            "Credential should be scoped to a valid region, not '{region}'."
        )));
    }
    if service != SERVICE {
        return Err(invalid(format!(
            "Credential should be scoped to correct service: '{SERVICE}'."
        )));
    }
    if terminator != "aws4_request" {
        return Err(invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }

    let amz_date = header_str(headers, "x-amz-date")?
        .ok_or_else(|| incomplete("Authorization header requires existence of a 'X-Amz-Date' header."))?;
    let time = parse_amz_date(amz_date).ok_or_else(|| {
        invalid(format!(
            "X-Amz-Date must be in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z'), got '{amz_date}'"
        ))
    })?;
    if date != &amz_date[..8] {
        return Err(invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}', from '{amz_date}'.",
            &amz_date[..8]
        )));
    }
    check_skew(time, now, amz_date)?;

    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    // aws-sigv4 (like every AWS SDK) always signs the date; say so plainly
    // rather than report a mismatching signature.
    if !signed.contains(&"x-amz-date") {
        return Err(invalid(
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let session_token = header_str(headers, "x-amz-security-token")?;
    if session_token.is_some() && !signed.contains(&"x-amz-security-token") {
        return Err(invalid(
            "X-Amz-Security-Token is present but not among the SignedHeaders.",
        ));
    }
    // Every signed header must be present; repeated ones are all passed on
    // so the signer joins them the way the client's canonical request did.
    let mut signable = Vec::new();
    for name in &signed {
        let mut found = false;
        for v in headers.get_all(*name) {
            let v = v
                .to_str()
                .map_err(|_| invalid(format!("Signed header '{name}' is not valid ASCII.")))?;
            signable.push((*name, v));
            found = true;
        }
        if !found {
            return Err(invalid(format!(
                "Header '{name}' is listed in SignedHeaders but is missing from the request."
            )));
        }
    }

    let expected = compute_signature(config, session_token, method, uri, signable, body, time)?;
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. \
             Consult the service documentation for details.",
        ));
    }
    Ok(())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AuthError> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| invalid(format!("'{name}' is not valid ASCII."))))
        .transpose()
}

fn check_skew(time: SystemTime, now: SystemTime, amz_date: &str) -> Result<(), AuthError> {
    if time + MAX_SKEW < now {
        return Err(invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - MAX_SKEW),
            format_amz_date(now)
        )));
    }
    if time > now + MAX_SKEW {
        return Err(invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW),
            format_amz_date(now)
        )));
    }
    Ok(())
}

fn compute_signature(
    config: &LocalEndpointConfig,
    session_token: Option<&str>,
    method: &str,
    uri: &Uri,
    headers: Vec<(&str, &str)>,
    body: &[u8],
    time: SystemTime,
) -> Result<String, AuthError> {
    let creds = Credentials::new(
        &config.access_key,
        &config.secret_key,
        session_token.map(str::to_owned),
        None,
        "local-endpoint",
    );
    let identity = Identity::from(creds);
    let mut settings = SigningSettings::default();
    // The defaults drop user-agent & co. from what the *signer* chooses to
    // sign; here the client's SignedHeaders list is authoritative instead.
    settings.excluded_headers = None;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&config.region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| invalid(format!("cannot build signing parameters: {e}")))?;
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = SignableRequest::new(method, path_and_query, headers.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| invalid(format!("cannot canonicalize request: {e}")))?;
    let (_, signature) = sign(request, &params.into())
        .map_err(|e| invalid(format!("cannot canonicalize request: {e}")))?
        .into_parts();
    Ok(signature)
}

/// Compares without an early exit so timing does not reveal the length of
/// the matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_parsing() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20261125/us-east-1/kinesis/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .unwrap();
        assert_eq!(a.signed_headers, "host;x-amz-date");
        assert_eq!(a.signature, "abc");
        let e = parse_authorization("AWS4-HMAC-SHA256 Credential=x, Signature=y").err();
        assert_eq!(e.unwrap().code, "IncompleteSignatureException");
        let e = parse_authorization("AWS AK:sig").err();
        assert_eq!(e.unwrap().code, "IncompleteSignatureException");
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
