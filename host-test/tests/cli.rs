//! `kinesis-host run` as the README's first command runs it: no config, the
//! sample events, the embedded local endpoint.

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn sample_events() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/events.jsonl")
}

fn demo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinesis-host"));
    cmd.args(["run", "--input"]).arg(sample_events());
    cmd
}

#[test]
fn the_readme_main_command_ships_every_sample_event_to_the_embedded_endpoint() {
    let out = demo().output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("the local endpoint holds 1000 records"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn a_reader_that_closes_stdout_early_gets_no_panic_and_the_runs_exit_code() {
    let mut child = demo().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Closed before the run ends, as `| head -c 0` would: every line of
    // the report meets a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    assert!(!stderr.contains("cannot write the report"), "stderr:\n{stderr}");
}
