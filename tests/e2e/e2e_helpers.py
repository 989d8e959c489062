"""Shared helpers for the end-to-end tests: peers, streams, events, the CLI.

Nothing here knows about pytest fixtures; conftest.py wires these together.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
# Kinesis' per-record limit: data bytes + partition key bytes.
RECORD_LIMIT = 1024 * 1024  # 1048576
# The failure code the CLI itself reports for an event over RECORD_LIMIT.
RECORD_TOO_LARGE = "RecordTooLarge"

BOTO_CONFIG = Config(
    region_name=REGION,
    connect_timeout=10,
    read_timeout=300,
    # A failing call must fail at once and visibly: no silent retries that
    # could hide a bug or use up moto's unauthenticated calls.
    retries={"total_max_attempts": 1, "mode": "standard"},
)


@dataclass(frozen=True)
class Peer:
    """A Kinesis endpoint and the credentials to use with it."""

    name: str
    url: str
    key: str
    secret: str
    region: str = REGION

    def client(self, service: str = "kinesis", *, key: str | None = None,
               secret: str | None = None):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=key if key is not None else self.key,
            aws_secret_access_key=secret if secret is not None else self.secret,
            config=BOTO_CONFIG,
        )


def aws_error_code(err: Exception) -> str | None:
    """The AWS error code of a botocore ClientError.

    moto_server answers auth failures (SignatureDoesNotMatch,
    InvalidClientTokenId, AccessDenied) with an XML body and content-type
    text/html, even for JSON protocol services such as Kinesis; botocore's
    JSON parser then reports the HTTP status ("403") as the code and the XML
    as the message. Take the code from the XML in that case.
    """
    error = getattr(err, "response", {}).get("Error", {})
    code, message = error.get("Code"), error.get("Message") or ""
    m = re.search(r"<Code>([^<]+)</Code>", message)
    if m and (code is None or code.isdigit()):
        return m.group(1)
    return code


def unique_stream_name(prefix: str) -> str:
    # Kinesis stream names: [a-zA-Z0-9_.-]+, at most 128 chars.
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in prefix)[:80]
    return f"{safe}-{uuid.uuid4().hex[:12]}"


def create_stream(client, name: str, shards: int = 2, timeout: float = 60.0) -> None:
    """CreateStream and wait (polling fast, not boto3's 10 s waiter) for ACTIVE."""
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = client.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        time.sleep(0.1)
    raise AssertionError(f"stream {name} not ACTIVE after {timeout}s (last status {status})")


def delete_stream(client, name: str) -> None:
    try:
        client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    except Exception:  # best effort cleanup (frees kinesis-local's shard quota)
        pass


@dataclass(frozen=True)
class StreamRecord:
    data: bytes
    partition_key: str
    shard_id: str
    sequence_number: str


def list_shard_ids(client, stream: str) -> list[str]:
    ids: list[str] = []
    resp = client.list_shards(StreamName=stream)
    while True:
        ids.extend(s["ShardId"] for s in resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            return ids
        resp = client.list_shards(NextToken=token)


def read_stream(client, stream: str, *, idle_polls: int = 3, limit: int = 1000,
                poll_interval: float = 0.05, timeout: float = 300.0) -> list[StreamRecord]:
    """Everything in the stream, from TRIM_HORIZON of every shard.

    A shard counts as read once it is caught up (MillisBehindLatest == 0) and
    GetRecords returned nothing `idle_polls` times in a row, or once the shard
    is closed (no NextShardIterator). GetRecords is called with `limit`
    because kinesis-local stops at 10,000 records / 10 MiB a call and moto
    would otherwise return a whole shard in one response.
    """
    records: list[StreamRecord] = []
    deadline = time.monotonic() + timeout
    for shard_id in list_shard_ids(client, stream):
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        empty = 0
        while iterator is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {stream} took more than {timeout}s")
            resp = client.get_records(ShardIterator=iterator, Limit=limit)
            batch = resp["Records"]
            for r in batch:
                records.append(StreamRecord(
                    data=bytes(r["Data"]),
                    partition_key=r["PartitionKey"],
                    shard_id=shard_id,
                    sequence_number=r["SequenceNumber"],
                ))
            iterator = resp.get("NextShardIterator")
            if batch:
                empty = 0
                continue
            if resp.get("MillisBehindLatest", 0) == 0:
                empty += 1
                if empty >= idle_polls:
                    break
            time.sleep(poll_interval)
    return records


def assert_stream_holds_exactly(records: list[StreamRecord], expected: list[bytes],
                                partition_key: str, what: str = "stream") -> None:
    """Each expected payload exactly once (as a multiset), nothing else, one partition key."""
    got = Counter(r.data for r in records)
    want = Counter(expected)
    if got != want:
        missing = want - got
        extra = got - want
        raise AssertionError(
            f"{what}: {len(records)} records read, {len(expected)} expected; "
            f"{sum(missing.values())} missing (e.g. {_preview(missing)}), "
            f"{sum(extra.values())} unexpected or duplicated (e.g. {_preview(extra)})"
        )
    bad_keys = Counter(r.partition_key for r in records if r.partition_key != partition_key)
    assert not bad_keys, f"{what}: records with another partition key than {partition_key!r}: {dict(bad_keys)}"
    seqs = Counter((r.shard_id, r.sequence_number) for r in records)
    dup_seqs = [k for k, n in seqs.items() if n > 1]
    assert not dup_seqs, f"{what}: sequence numbers read twice: {dup_seqs[:5]}"


def _preview(c: Counter, n: int = 3) -> str:
    items = []
    for data, count in list(c.items())[:n]:
        head = data[:24]
        items.append(f"{len(data)} bytes {head!r}{'...' if len(data) > 24 else ''} x{count}")
    return "; ".join(items) or "-"


# ---------------------------------------------------------------- events

_MULTIBYTE = "äöüßéèçñ€£¥©®™✓✗→←↑↓∑∏√∞≠≈日本語中文한국어Ελληνικάрусский🙂🚀🎉𝄞"
_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_/{}[]\"'\\\t"


_TEXT_POOL = [c.encode("utf-8") for c in _ASCII * 3 + _MULTIBYTE]


def utf8_text(rng: random.Random, nbytes: int) -> bytes:
    """Valid UTF-8 of exactly `nbytes` bytes, mixing 1- to 4-byte characters."""
    out: list[bytes] = []
    total = 0
    full = False
    while total < nbytes and not full:
        for ch in rng.choices(_TEXT_POOL, k=min(4096, nbytes - total)):
            if total + len(ch) > nbytes:
                full = True
                break
            out.append(ch)
            total += len(ch)
    out.append(bytes(rng.choices(_ASCII[:62].encode(), k=nbytes - total)))
    data = b"".join(out)
    assert len(data) == nbytes
    data.decode("utf-8")
    return data


def binary(rng: random.Random, nbytes: int) -> bytes:
    """Arbitrary bytes: random, with every byte value and \\n, \\r, \\0 runs salted in."""
    data = bytearray(rng.randbytes(nbytes))
    specials = [b"\n", b"\r\n", b"\r", b"\x00", b"\x00\x00\n", bytes(range(256))]
    for _ in range(max(1, nbytes // 512)):
        s = rng.choice(specials)
        if len(s) <= nbytes:
            pos = rng.randrange(0, nbytes - len(s) + 1)
            data[pos:pos + len(s)] = s
    return bytes(data)


@dataclass
class EventSet:
    events: list[bytes]  # in input order; event id = index + 1
    oversized_ids: list[int] = field(default_factory=list)
    at_limit_ids: list[int] = field(default_factory=list)

    def deliverable(self) -> list[bytes]:
        skip = set(self.oversized_ids)
        return [e for i, e in enumerate(self.events, start=1) if i not in skip]

    @property
    def total_bytes(self) -> int:
        return sum(len(e) for e in self.events)


def mixed_events(seed: int, partition_key: str, count: int = 2000,
                 big: int = 10) -> EventSet:
    """`count` deliverable events plus one over the record limit.

    Sizes: mostly small (1 B .. 8 KiB, some up to 64 KiB), `big` of 100 KiB up
    to the limit, one exactly at the limit (data + key == 1 MiB) and one just
    over it (data + key == 1 MiB + 1). Contents: UTF-8 text with multibyte
    characters, arbitrary binary (all byte values, \\n, \\r, \\0), a few fixed
    edge cases and a few exact duplicates (the stream must hold them twice).
    """
    rng = random.Random(seed)
    pk_len = len(partition_key.encode("utf-8"))
    max_data = RECORD_LIMIT - pk_len

    fixed = [
        b"\n", b"\r", b"\r\n", b"\x00", b" ", b"\t", b"=", b"\xff", b"\xc3",
        bytes(range(256)), bytes(range(255, -1, -1)) * 3,
        "🙂".encode(), "line one\nline two\r\nline three".encode(),
        b"\x00" * 1000, b"\n" * 777, b"\r" * 333,
        json.dumps({"msg": "json-looking event", "n": 1}).encode(),
        b"not base64 !!! ====",
    ]
    sizes: list[int] = []
    for _ in range(count - len(fixed) - big - 5):  # room for big, at-limit, dups
        r = rng.random()
        if r < 0.70:
            sizes.append(rng.randint(1, 300))
        elif r < 0.95:
            sizes.append(rng.randint(301, 8 * 1024))
        else:
            sizes.append(rng.randint(8 * 1024 + 1, 64 * 1024))
    sizes += [rng.randint(100 * 1024, max_data) for _ in range(big - 1)]
    sizes.append(max_data - rng.randint(0, 16))  # near the limit

    events = list(fixed)
    for n in sizes:
        events.append(utf8_text(rng, n) if rng.random() < 0.5 else binary(rng, n))
    at_limit = binary(rng, max_data)
    events.append(at_limit)
    # Exact duplicates of a few random events.
    events += [rng.choice(events[len(fixed):]) for _ in range(4)]
    assert len(events) == count, len(events)
    rng.shuffle(events)

    oversized = utf8_text(rng, max_data + 1)
    pos = rng.randrange(count // 4, 3 * count // 4)
    events.insert(pos, oversized)

    es = EventSet(events=events)
    es.oversized_ids = [pos + 1]
    es.at_limit_ids = [i for i, e in enumerate(events, start=1) if len(e) == max_data]
    assert len(at_limit) + pk_len == RECORD_LIMIT
    assert len(oversized) + pk_len == RECORD_LIMIT + 1
    assert es.at_limit_ids, "no event exactly at the limit"
    return es


def write_base64_input(path: Path, events: list[bytes]) -> Path:
    with open(path, "wb") as f:
        for e in events:
            f.write(base64.b64encode(e))
            f.write(b"\n")
    return path


# ---------------------------------------------------------------- config

def target(name: str, peer: Peer, stream: str, partition_key: str, *,
           key: str | None = None, secret: str | None = None,
           max_events: int = 500, max_in_flight: int | None = None) -> dict[str, Any]:
    extra = {} if max_in_flight is None else {"max_in_flight": max_in_flight}
    return {
        "name": name,
        "type": "amazonkinesis",
        "properties": {
            "key": peer.key if key is None else key,
            "secret": peer.secret if secret is None else secret,
            "region": peer.region,
            "endpoint": peer.url,
            "stream": stream,
            "partition_key": partition_key,
            "max_events": max_events,
            **extra,
        },
    }


def write_json_config(path: Path, targets: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"targets": targets}, indent=2))
    return path


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def write_yaml_config(path: Path, targets: list[dict[str, Any]]) -> Path:
    lines = ["targets:"]
    for t in targets:
        lines.append(f"  - name: {_yaml_scalar(t['name'])}")
        lines.append(f"    type: {_yaml_scalar(t['type'])}")
        lines.append("    properties:")
        for k, v in t["properties"].items():
            lines.append(f"      {k}: {_yaml_scalar(v)}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- CLI

@dataclass
class CliRun:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def describe(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit code {self.returncode}\n"
                f"--- stdout (last 3000 chars) ---\n{self.stdout[-3000:]}\n"
                f"--- stderr (last 3000 chars) ---\n{self.stderr[-3000:]}")


def parse_report(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):  # tolerate stray lines before the report
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _cli_args(host_bin: str, config: Path, input_path: Path | str, input_format: str | None,
              target_name: str | None) -> list[str]:
    args = [host_bin, "run", "--config", str(config)]
    if target_name is not None:
        args += ["--target", target_name]
    args += ["--input", str(input_path)]
    if input_format is not None:
        args += ["--input-format", input_format]
    return args + ["--report", "json"]


def _cli_env(env: dict[str, str] | None) -> dict[str, str]:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return full_env


def run_cli(host_bin: str, config: Path, input_path: Path, *, input_format: str | None = None,
            target_name: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 900.0) -> CliRun:
    args = _cli_args(host_bin, config, input_path, input_format, target_name)
    proc = subprocess.run(args, capture_output=True, timeout=timeout, env=_cli_env(env),
                          stdin=subprocess.DEVNULL)
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    return CliRun(args, proc.returncode, stdout, stderr, parse_report(stdout))


class CliProcess:
    """`kinesis-host run --input -` fed by the test through a pipe that stays
    open until `finish`: for what the CLI does while its input is still open.
    Output goes to files, so a chatty CLI cannot block on a full pipe."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.args = args
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=self._out, stderr=self._err, env=env)

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self, timeout: float = 300.0) -> CliRun:
        """Closes the input (end of input) and waits for the report."""
        self.proc.stdin.close()
        self.proc.wait(timeout=timeout)
        self._out.seek(0)
        self._err.seek(0)
        stdout = self._out.read().decode("utf-8", "replace")
        stderr = self._err.read().decode("utf-8", "replace")
        return CliRun(self.args, self.proc.returncode, stdout, stderr, parse_report(stdout))

    def __enter__(self) -> "CliProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()


def start_cli(host_bin: str, config: Path, *, input_format: str | None = None,
              target_name: str | None = None, env: dict[str, str] | None = None) -> CliProcess:
    return CliProcess(_cli_args(host_bin, config, "-", input_format, target_name), _cli_env(env))


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    """Polls `condition` until it is true (returns True) or `timeout` s passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


REPORT_KEYS = {"events", "delivered", "failed", "failed_by_code", "failures", "requests",
               "bytes_sent", "elapsed_s", "events_per_s", "targets", "retries", "ambiguous_retries"}


def check_report_shape(run: CliRun) -> dict[str, Any]:
    assert run.report is not None, "no JSON report on stdout\n" + run.describe()
    rep = run.report
    missing = REPORT_KEYS - rep.keys()
    assert not missing, f"report lacks {sorted(missing)}\n{run.describe()}"
    for k in ("events", "delivered", "failed", "requests", "bytes_sent"):
        assert isinstance(rep[k], int) and rep[k] >= 0, f"report[{k!r}] = {rep[k]!r}"
    for k in ("elapsed_s", "events_per_s"):
        assert isinstance(rep[k], (int, float)) and rep[k] >= 0, f"report[{k!r}] = {rep[k]!r}"
    assert isinstance(rep["failed_by_code"], dict)
    assert isinstance(rep["failures"], list)
    assert isinstance(rep["targets"], list)
    for f in rep["failures"]:
        assert {"target", "id", "code", "message", "retryable", "maybe_delivered"} <= f.keys(), f
        assert isinstance(f["id"], int) and isinstance(f["retryable"], bool), f
    for k in ("retries", "ambiguous_retries"):
        assert isinstance(rep[k], int) and rep[k] >= 0, f"report[{k!r}] = {rep[k]!r}"
    for t in rep["targets"]:
        assert {"name", "stream", "endpoint", "delivered", "failed", "component"} <= t.keys(), t
        c = t["component"]
        if c is not None:
            # The component's own counts agree with the host's, and nothing is left.
            assert (c["delivered"], c["failed"]) == (t["delivered"], t["failed"]), t
            assert (c["in_flight_requests"], c["buffered_events"], c["buffered_bytes"]) == (0, 0, 0), t
    return rep


def no_crash_text(stderr: str) -> None:
    low = stderr.lower()
    for bad in ("panicked", "wasm trap"):
        assert bad not in low, f"stderr mentions {bad!r}:\n{stderr[-3000:]}"
