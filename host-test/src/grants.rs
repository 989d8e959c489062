//! What an instance may see of the host besides `wasi:http`: the credential
//! chain's environment variables and its token files' directories.

use std::path::{Path, PathBuf};

/// The environment variables the component's credential chain reads, and
/// the endpoint overrides the SDKs honour (README, "Credentials").
pub const CREDENTIAL_CHAIN_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_ENDPOINT_URL_STS",
];

/// Variables naming files the chain reads: their directories are granted.
const TOKEN_FILE_VARS: &[&str] = &["AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"];

/// What an instance may see of the host besides `wasi:http`: nothing unless
/// granted here.
///
/// ```
/// let grants = kinesis_host::Grants::from_vars([("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"), ("HOME", "/root")]);
/// assert_eq!(grants.env, [("AWS_ROLE_ARN".to_string(), "arn:aws:iam::1:role/r".to_string())]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Environment variables the component sees.
    pub env: Vec<(String, String)>,
    /// Host directories the component may read, at the same path.
    pub read_only_dirs: Vec<PathBuf>,
}

impl Grants {
    /// The credential chain's variables from `vars` (others are dropped),
    /// and read-only access to the directories of the token files they name.
    pub fn from_vars<K: AsRef<str>, V: AsRef<str>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        let env: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| CREDENTIAL_CHAIN_VARS.contains(&k.as_ref()))
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let read_only_dirs = env
            .iter()
            .filter(|(k, _)| TOKEN_FILE_VARS.contains(&k.as_str()))
            .filter_map(|(_, file)| Path::new(file).parent().map(Path::to_path_buf))
            .filter(|dir| dir.is_absolute())
            .collect();
        Self { env, read_only_dirs }
    }

    /// [`Grants::from_vars`] of this process's environment.
    pub fn credential_chain_from_env() -> Self {
        Self::from_vars(std::env::vars())
    }
}
