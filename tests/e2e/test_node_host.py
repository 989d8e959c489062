"""The shipped component outside wasmtime: in Node.js, through `jco transpile`
and @bytecodealliance/preview2-shim (whose wasi:http makes the requests),
against kinesis-local.

The host code is README.md's "Node.js host" section, taken out of the README
by this test (so the two cannot drift): its `jco transpile` command is run
with the pinned jco that scripts/peers.sh installs into .peers/jco (npm ci of
tests/node/package.json and package-lock.json), its ship.mjs is written next
to the output, and tests/node/host.mjs drives it: a few hundred mixed events
(binary, multi-byte UTF-8, one at the record limit, one over it) through
`push` on one component instance and `push-batch` on another, with a buffer
small enough to push back. Every event must come back exactly once, and the
stream must hold exactly the deliverable ones, byte for byte, each under the
shard and sequence number its outcome reported. A second test runs the same
host against moto with signature checking: the SHA-256 of each body comes
from the host's `digest` import (node:crypto in the README's module), so a
wrong one would fail every request there. A third sends with aggregation
and CBOR and reads the aggregates back through aws-kinesis-agg, which
checks each one's MD5 trailer.

Environment: KINESIS_LOCAL_URL (scripts/peers.sh), KINESIS_TARGET_WASM_FILE
(optional: the component, default target/guest/wasm32-wasip2/component/
kinesis_target.wasm), PEERS_DIR (optional, default .peers).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from aws_kinesis_agg.deaggregator import iter_deaggregate_records

from e2e_helpers import (
    RECORD_TOO_LARGE,
    assert_stream_holds_exactly,
    mixed_events,
    read_stream,
    target,
    write_base64_input,
)

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
NODE_DIR = REPO / "tests" / "node"
DEFAULT_WASM = REPO / "target" / "guest" / "wasm32-wasip2" / "component" / "kinesis_target.wasm"

PARTITION_KEY = "node-host"
# Not listening: only a configure of a disabled target ever sees it.
GRANTED_ENDPOINT = "http://127.0.0.1:9"
LEAKED_ENDPOINT = "http://127.0.0.1:1"
AWS_DEFAULT_ENDPOINT = "https://kinesis.us-east-1.amazonaws.com/"
TARGET_NAMES = ("node-push", "node-push-batch")


def readme_block(name: str) -> str:
    """The fenced block right after the `<!-- node-host: NAME -->` line in README.md."""
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^<!-- node-host: " + re.escape(name) + r" -->\n```[a-z]*\n(.*?)^```$",
                  text, re.MULTILINE | re.DOTALL)
    assert m, f"README.md has no fenced block after <!-- node-host: {name} -->"
    return m.group(1)


def debug_line(event_id: int, data: bytes) -> str:
    """What the component logs for an event with debug.status (src/target/debug.rs)."""
    shown = data[:4096]
    out = [f"event {event_id}: "]
    for c in shown.decode("utf-8", "replace"):
        if c in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[c])
        elif unicodedata.category(c) == "Cc":
            out.append("?")
        else:
            out.append(c)
    if len(data) > len(shown):
        out.append(f" ... ({len(data)} bytes in all)")
    return "".join(out)


@pytest.fixture(scope="session")
def node_bin() -> str:
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not on PATH (Node.js 20 or later is needed)", pytrace=False)
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True,
                               check=True).stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"node {major} found, Node.js 20 or later is needed", pytrace=False)
    return node


@pytest.fixture(scope="session")
def node_modules() -> Path:
    peers = Path(os.environ.get("PEERS_DIR") or REPO / ".peers")
    modules = peers / "jco" / "node_modules"
    for pkg in ("jco", "preview2-shim"):
        if not (modules / "@bytecodealliance" / pkg / "package.json").is_file():
            pytest.fail(f"{modules}/@bytecodealliance/{pkg} is not installed: run "
                        "`source scripts/peers.sh; peers_install` (or scripts/test-all)",
                        pytrace=False)
    return modules


@pytest.fixture(scope="session")
def component_wasm() -> Path:
    path = Path(os.environ.get("KINESIS_TARGET_WASM_FILE") or DEFAULT_WASM)
    if not path.is_file():
        pytest.fail(f"{path} does not exist: build it with `cargo build --release -p kinesis-host` "
                    "or set KINESIS_TARGET_WASM_FILE", pytrace=False)
    return path.resolve()


def transpile(node: str, host_dir: Path, node_modules: Path, wasm: Path) -> None:
    """The README's `npx jco transpile` line, run with the pinned jco in host_dir."""
    lines = [line for line in readme_block("transpile").splitlines()
             if line.startswith("npx jco transpile ")]
    assert len(lines) == 1, f"the README's transpile block has {len(lines)} `npx jco transpile` lines"
    argv = shlex.split(lines[0])
    assert argv[3] == "kinesis_target.wasm", argv
    jco = node_modules / "@bytecodealliance" / "jco" / "dist" / "jco.js"
    cmd = [node, str(jco), "transpile", str(wasm), *argv[4:], "--quiet"]
    proc = subprocess.run(cmd, cwd=host_dir, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"$ {shlex.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    assert (host_dir / "kinesis" / "kinesis_target.js").is_file(), list(host_dir.iterdir())


def node_host(node: str, node_modules: Path, wasm: Path, tmp_path: Path) -> Path:
    """The host's project: package.json ("type": "module", the pins), the
    installed modules, the transpiled component, the README's ship.mjs."""
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    shutil.copy(NODE_DIR / "package.json", host_dir / "package.json")
    (host_dir / "node_modules").symlink_to(node_modules, target_is_directory=True)
    transpile(node, host_dir, node_modules, wasm)
    (host_dir / "ship.mjs").write_text(readme_block("ship.mjs"), encoding="utf-8")
    return host_dir


def run_host(node: str, host_dir: Path, config_file: Path, events_file: Path) -> tuple[dict, str]:
    """tests/node/host.mjs on the README's ship.mjs: its JSON report and stderr."""
    env = dict(os.environ, GRANTED_ENDPOINT=GRANTED_ENDPOINT,
               AWS_ENDPOINT_URL_KINESIS=LEAKED_ENDPOINT)  # must not reach a sandboxed target
    proc = subprocess.run([node, str(NODE_DIR / "host.mjs"), str(host_dir / "ship.mjs"),
                           str(config_file), str(events_file)],
                          cwd=host_dir, env=env, capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8")
    assert proc.returncode == 0, f"node exited {proc.returncode}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return json.loads(stdout), stderr


def test_node_host_delivers_every_event_byte_for_byte(node_bin, node_modules, component_wasm,
                                                      kinesis_local, new_stream, tmp_path):
    started = time.monotonic()
    stream = new_stream(kinesis_local, shards=2, tag="node-host")
    host_dir = node_host(node_bin, node_modules, component_wasm, tmp_path)

    es = mixed_events(seed=20251202, partition_key=PARTITION_KEY, count=300, big=3)
    events = es.events
    deliverable_ids = [i for i in range(1, len(events) + 1) if i not in es.oversized_ids]
    events_file = write_base64_input(tmp_path / "events.b64", events)
    props = target("node", kinesis_local, stream, PARTITION_KEY, max_events=50)
    # Each target gets half the bytes (~2.5 MB): both must push back, and
    # poll must wait.
    props["properties"]["max_buffer_size"] = 3 << 19  # 1.5 MiB
    props["properties"]["debug"] = {"status": True}  # every event through the logging import
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(props))

    rep, stderr = run_host(node_bin, host_dir, config_file, events_file)

    # configure's error is thrown, with the WIT config-error as payload.
    assert rep["config_error"] == {
        "name": "ComponentError",
        "payload": {"field": "properties.max_events", "message": "must be 1..=500, got 501"},
    }, rep["config_error"]
    # The sandbox: the granted variable is seen, the process environment is not.
    assert rep["endpoints"] == {"granted": GRANTED_ENDPOINT + "/", "default": AWS_DEFAULT_ENDPOINT}, \
        rep["endpoints"]

    # Every id exactly once (host.mjs and ship.mjs throw on a second outcome).
    outcomes = rep["outcomes"]
    assert sorted(map(int, outcomes)) == list(range(1, len(events) + 1)), \
        f"{len(outcomes)} outcomes for {len(events)} events"
    failed = {int(i): o["failed"] for i, o in outcomes.items() if "failed" in o}
    assert list(failed) == es.oversized_ids, failed
    (oversized,) = failed.values()
    assert oversized["code"] == RECORD_TOO_LARGE and oversized["origin"] == "target", oversized
    assert not oversized["retryable"] and not oversized["maybe_delivered"], oversized
    assert (rep["delivered"], rep["failed"]) == (len(deliverable_ids), 1), rep

    # The component's own counters agree, nothing is left, and backpressure happened.
    stats = rep["stats"]
    assert set(stats) == set(TARGET_NAMES), stats.keys()
    assert sum(s["delivered"] for s in stats.values()) == len(deliverable_ids), stats
    assert sum(s["failed"] for s in stats.values()) == 1, stats
    for name, s in stats.items():
        assert (s["inFlightRequests"], s["bufferedEvents"], s["bufferedBytes"]) == (0, 0, 0), (name, s)
        assert s["eventsRefused"] > 0, f"{name}: no backpressure, max_buffer_size never pushed back: {s}"

    # The stream holds each deliverable event once, byte for byte...
    records = read_stream(kinesis_local.client(), stream)
    assert_stream_holds_exactly(records, es.deliverable(), PARTITION_KEY, what=f"kinesis-local {stream}")
    # ...and each one under the shard and sequence number its outcome names.
    stored = {(r.shard_id, r.sequence_number): r.data for r in records}
    for i in deliverable_ids:
        d = outcomes[str(i)]["delivered"]
        where = (d["shard_id"], d["sequence_number"])
        assert where in stored, f"event {i}: reported at {where}, nothing stored there"
        assert stored[where] == events[i - 1], \
            f"event {i}: stored bytes at {where} differ ({len(stored[where])} vs {len(events[i - 1])} bytes)"

    # The logging import: one debug line per event (the oversized one too),
    # under the target that took it, multi-byte UTF-8 intact.
    logged = Counter()
    lines = {}
    for line in stderr.split("\n"):
        m = re.match(r"\[debug\] target (\S+): (event (\d+): .*)$", line, re.DOTALL)
        if m:
            logged[int(m.group(3))] += 1
            lines[int(m.group(3))] = (m.group(1), m.group(2))
    assert sorted(logged) == list(range(1, len(events) + 1)) and set(logged.values()) == {1}, \
        f"debug lines for {len(logged)} of {len(events)} events, counts {Counter(logged.values())}"
    first_batch_id = rep["first_batch_id"]
    assert 1 < first_batch_id <= len(events), first_batch_id
    for i, data in enumerate(events, start=1):
        name, line = lines[i]
        assert name == TARGET_NAMES[i >= first_batch_id], (i, name)
        assert line == debug_line(i, data), f"event {i}: logged {line[:200]!r}"

    elapsed = time.monotonic() - started
    assert elapsed < 60, f"the Node.js host test took {elapsed:.0f}s"


def test_node_host_signatures_pass_moto_signature_check(node_bin, node_modules, component_wasm,
                                                        moto, new_stream, tmp_path):
    # kinesis-local checks no signature; moto (INITIAL_NO_AUTH_ACTION_COUNT
    # spent) recomputes each one over the body, so a body hash from the
    # host's `digest` import that is wrong, or mangled on its way into the
    # guest, fails the request with SignatureDoesNotMatch.
    stream = new_stream(moto, shards=1, tag="node-host-moto")
    host_dir = node_host(node_bin, node_modules, component_wasm, tmp_path)
    events = [bytes(range(256)), "🙂 multi-byte".encode(), b"\x00" * 100]
    events += [f"event {i} ".encode() * (1 + i % 40) for i in range(57)]
    events_file = write_base64_input(tmp_path / "events.b64", events)
    props = target("node", moto, stream, PARTITION_KEY, max_events=10)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(props))

    rep, stderr = run_host(node_bin, host_dir, config_file, events_file)

    failed = {i: o["failed"] for i, o in rep["outcomes"].items() if "failed" in o}
    assert not failed, f"{len(failed)} of {len(events)} failed, e.g. {next(iter(failed.values()))}"
    assert rep["delivered"] == len(events), rep["delivered"]
    assert_stream_holds_exactly(read_stream(moto.client(), stream), events, PARTITION_KEY,
                                what=f"moto {stream}")


def test_node_host_aggregates_in_cbor_read_back_through_the_reference_deaggregator(
        node_bin, node_modules, component_wasm, kinesis_local, new_stream, tmp_path):
    # With aggregation + CBOR the component hashes each body's aggregates
    # four side by side in wasm SIMD lanes (src/md5x4.rs): here V8 runs
    # them. aws-kinesis-agg hands back an aggregate whose MD5 is wrong as
    # one opaque record, which would then match no event pushed.
    stream = new_stream(kinesis_local, shards=2, tag="node-host-agg")
    host_dir = node_host(node_bin, node_modules, component_wasm, tmp_path)
    events = [f"event {i} ".encode() * (1 + i % 37) + bytes([i % 256]) for i in range(3000)]
    events_file = write_base64_input(tmp_path / "events.b64", events)
    props = target("node", kinesis_local, stream, PARTITION_KEY)
    props["properties"].update(aggregation=True, protocol="cbor")
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(props))

    rep, _ = run_host(node_bin, host_dir, config_file, events_file)

    failed = {i: o["failed"] for i, o in rep["outcomes"].items() if "failed" in o}
    assert not failed, f"{len(failed)} of {len(events)} failed, e.g. {next(iter(failed.values()))}"
    records = read_stream(kinesis_local.client(), stream)
    assert len(records) * 50 <= len(events), f"{len(records)} Kinesis records for {len(events)} events"
    got = []
    for r in records:
        boto3_record = {"SequenceNumber": r.sequence_number, "PartitionKey": r.partition_key,
                        "ApproximateArrivalTimestamp": 0, "Data": r.data}
        for u in iter_deaggregate_records(boto3_record, data_format="Boto3"):
            k = u["kinesis"]
            assert k.get("aggregated"), f"record {r.sequence_number} came back whole: its MD5 is wrong"
            got.append(base64.b64decode(k["data"]))
    assert sorted(got) == sorted(events), f"{len(got)} events read back, {len(events)} pushed"
