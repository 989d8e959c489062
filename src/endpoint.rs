//! The URL PutRecords requests go to, and the `host` that is signed.
//!
//! wasmtime sends the URL's authority as the `host` header exactly as given,
//! while SigV4 signers drop a default port (`:443` for https, `:80` for http).
//! The authority is therefore normalized once here, without a default port, so
//! the signed host and the sent host are the same string.

/// URL scheme of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A Kinesis endpoint: scheme and normalized authority; requests go to `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    /// `host[:port]`, lowercase host, no default port.
    pub authority: String,
}

impl Endpoint {
    /// The AWS endpoint of a region; `.amazonaws.com.cn` for China regions.
    ///
    /// ```
    /// use kinesis_target::endpoint::Endpoint;
    /// assert_eq!(Endpoint::for_region("cn-north-1").authority, "kinesis.cn-north-1.amazonaws.com.cn");
    /// ```
    pub fn for_region(region: &str) -> Self {
        Self::aws("kinesis", region)
    }

    fn aws(service: &str, region: &str) -> Self {
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Self {
            scheme: Scheme::Https,
            authority: format!("{service}.{region}.{suffix}"),
        }
    }

    /// Parses a user-given `http://` or `https://` URL with no path beyond `/`.
    ///
    /// ```
    /// use kinesis_target::endpoint::Endpoint;
    /// let e = Endpoint::parse("https://Kinesis.example.com:443/").unwrap();
    /// assert_eq!(e.authority, "kinesis.example.com");
    /// assert_eq!(Endpoint::parse("http://localhost:4566").unwrap().url(), "http://localhost:4566/");
    /// ```
    pub fn parse(url: &str) -> Result<Self, String> {
        let (endpoint, path) = Self::parse_with_path(url)?;
        if !matches!(path.as_str(), "" | "/") {
            return Err(format!("must have no path or query (requests go to /), got {url:?}"));
        }
        Ok(endpoint)
    }

    /// Parses an `http://` or `https://` URL into the endpoint and its path
    /// and query (`/` when it has none).
    ///
    /// ```
    /// use kinesis_target::endpoint::Endpoint;
    /// let (e, path) = Endpoint::parse_with_path("http://127.0.0.1:8080/v2/credentials?id=1").unwrap();
    /// assert_eq!((e.authority.as_str(), path.as_str()), ("127.0.0.1:8080", "/v2/credentials?id=1"));
    /// ```
    pub fn parse_with_path(url: &str) -> Result<(Self, String), String> {
        let uri: http::Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("not a valid URL ({e}): {url:?}"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            _ => return Err(format!("must start with http:// or https://, got {url:?}")),
        };
        let authority = uri.authority().ok_or_else(|| format!("has no host: {url:?}"))?;
        if authority.as_str().contains('@') {
            return Err(format!("must not carry user info: {url:?}"));
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(format!("has no host: {url:?}"));
        }
        let default_port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let authority = match authority.port_u16() {
            Some(port) if port != default_port => format!("{host}:{port}"),
            _ => host,
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let path = if path.is_empty() { "/" } else { path };
        Ok((Self { scheme, authority }, path.to_string()))
    }

    /// The AWS STS endpoint of a region.
    ///
    /// ```
    /// use kinesis_target::endpoint::Endpoint;
    /// assert_eq!(Endpoint::sts_for_region("eu-west-1").url(), "https://sts.eu-west-1.amazonaws.com/");
    /// ```
    pub fn sts_for_region(region: &str) -> Self {
        Self::aws("sts", region)
    }

    /// The request URL, always with path `/`.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}/", self.authority)
    }
}
