//! Compiled components kept on disk, so a host that starts often does not
//! pay Cranelift every time (a second or more of CPU for the component).
//!
//! A compiled artifact is only valid for the same wasmtime and the same
//! engine settings: its file name carries the SHA-256 of the component and
//! wasmtime's [`Engine::precompile_compatibility_hash`], and wasmtime checks
//! both again when it loads one; anything that does not load is compiled
//! anew. Loading native code is trusting it: the directory is created
//! private (0700) and a file is only loaded when this user owns it and
//! nobody else may write it.

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The default cache directory: `$KINESIS_HOST_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/kinesis-host`, else `~/.cache/kinesis-host`.
///
/// ```
/// let dir = kinesis_host::compile_cache::default_dir();
/// assert!(dir.map_or(true, |d| d.is_absolute() || d.starts_with(".")));
/// ```
pub fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("KINESIS_HOST_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("kinesis-host")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("kinesis-host")))
}

/// The component compiled for `engine`: loaded from `dir` when a usable
/// artifact is there, else compiled and (best effort) stored for next time.
/// Returns whether it came from the cache.
pub fn load_or_compile(engine: &Engine, bytes: &[u8], dir: &Path) -> Result<(Component, bool)> {
    let path = dir.join(file_name(engine, bytes));
    if trusted(&path) {
        // SAFETY: the file is this user's own, private, and named after the
        // exact component and engine; wasmtime checks the version and
        // settings again and refuses what does not match.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok((component, true));
        }
    }
    let compiled = engine
        .precompile_component(bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the kinesis-target component")?;
    // SAFETY: these bytes were made by this engine a moment ago.
    let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(anyhow::Error::from)?;
    let _ = store(dir, &path, &compiled);
    Ok((component, false))
}

fn file_name(engine: &Engine, bytes: &[u8]) -> String {
    let mut settings = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("kinesis-target-{hex}-{:016x}.cwasm", settings.finish())
}

/// Only this user's file, writable by nobody else, in a directory likewise.
fn trusted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let uid = unsafe { libc::geteuid() };
    let private = |p: &Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.uid() == uid && m.mode() & 0o022 == 0 && !m.file_type().is_symlink())
    };
    private(path) && path.parent().is_some_and(private)
}

/// Writes atomically (a temporary file renamed into place), privately.
fn store(dir: &Path, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let tmp = dir.join(format!(
        ".{}.{}",
        std::process::id(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = file.write_all(compiled).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component that imports and exports nothing: enough to compile and cache.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn the_second_load_comes_from_the_cache_and_a_foreign_file_is_not_trusted() {
        let dir = std::env::temp_dir().join(format!("kinesis-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Engine::default();
        let (_, cached) = load_or_compile(&engine, EMPTY_COMPONENT, &dir).unwrap();
        assert!(!cached, "nothing there yet: compiled");
        let (_, cached) = load_or_compile(&engine, EMPTY_COMPONENT, &dir).unwrap();
        assert!(cached, "the second start loads the artifact");

        // Writable by others: never loaded, compiled and replaced instead.
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join(file_name(&engine, EMPTY_COMPONENT));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let (_, cached) = load_or_compile(&engine, EMPTY_COMPONENT, &dir).unwrap();
        assert!(!cached);
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

        // A corrupt artifact is compiled anew, not an error.
        std::fs::write(&file, b"not an artifact").unwrap();
        let (_, cached) = load_or_compile(&engine, EMPTY_COMPONENT, &dir).unwrap();
        assert!(!cached);
        let (_, cached) = load_or_compile(&engine, EMPTY_COMPONENT, &dir).unwrap();
        assert!(cached);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
