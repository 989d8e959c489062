//! Builds the guest component (the workspace's root package) for
//! `wasm32-wasip2` with the size-optimized `component` profile and hands its path to the host crate, so
//! `cargo run -p kinesis-host` works in one command on a fresh checkout.
//!
//! The nested cargo uses its own target directory (`target/guest`): sharing
//! the outer one would deadlock on cargo's build lock.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The size-optimized profile of the workspace Cargo.toml.
const PROFILE: &str = "component";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for path in ["src", "wit", "Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=KINESIS_TARGET_WASM");

    // A prebuilt component may be supplied instead (e.g. by packagers).
    if let Ok(prebuilt) = std::env::var("KINESIS_TARGET_WASM") {
        println!("cargo:rustc-env=KINESIS_TARGET_WASM={prebuilt}");
        return;
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ensure_target_installed(&root);
    let target_dir = root.join("target").join("guest");
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--profile",
            PROFILE,
            "--locked",
            "-p",
            "kinesis-target",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("failed to run cargo for the guest component");
    assert!(status.success(), "building the guest component for {TARGET} failed");
    let wasm = target_dir.join(TARGET).join(PROFILE).join("kinesis_target.wasm");
    assert!(wasm.exists(), "guest build produced no {}", wasm.display());
    println!("cargo:rustc-env=KINESIS_TARGET_WASM={}", wasm.display());
}

/// rustup installs the targets listed in rust-toolchain.toml only when it
/// installs the toolchain itself; on a machine that already had the toolchain
/// the target may be missing, so add it here once.
fn ensure_target_installed(root: &Path) {
    if target_installed(root) {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let ok = Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", TARGET])
        .status();
    assert!(
        matches!(ok, Ok(s) if s.success()),
        "`rustup target add {TARGET}` failed; run it by hand"
    );
}

/// Whether the toolchain the guest build uses (rust-toolchain.toml's, from
/// the workspace root, as the nested cargo runs) has the target's standard
/// library. Asked of plain `rustc` in `root`: the build script's `$RUSTC`
/// may be another toolchain's compiler, whose sysroot lacks the target.
fn target_installed(root: &Path) -> bool {
    let output = Command::new("rustc")
        .current_dir(root)
        .env_remove("RUSTC")
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["--print", "target-libdir", "--target", TARGET])
        .output();
    match output {
        Ok(o) if o.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
        }
        _ => false,
    }
}
