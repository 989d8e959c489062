"""Scenarios at Kinesis' own limits, through `kinesis-host run`: the local
endpoint run standalone (the `kinesis-local-endpoint` runner) with per-shard write
limits (1,000 records/s, 1 MiB/s), another producer's share, or an outage;
the CLI ships a generated input to it and its JSON report is read.

Used by tests/e2e/test_limits.py (assertions) and bench/limits.py (the
BENCHMARKS.md table, with the 0.2.0 defaults beside the new ones).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCESS_KEY = "AKIDLOCALKINESIS"
SECRET_KEY = "local-kinesis-secret"
STREAM = "limits"

# What 0.2.0 did by default: no pacing, three retries, a minute at most.
DEFAULTS_0_2_0 = {"shard_pacing": False, "max_retries": 3, "retry_max_duration": 60}


def endpoint_bin(host_bin: str) -> str:
    """The standalone local endpoint next to the CLI (cargo builds it with the tests)."""
    path = os.environ.get("LOCAL_ENDPOINT_BIN") or str(Path(host_bin).parent / "kinesis-local-endpoint")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} is not built: cargo build --release --workspace")
    return path


@dataclass
class Endpoint:
    """A running local endpoint with limits; `stop` returns its stats."""

    proc: subprocess.Popen
    url: str
    stats_path: Path

    @classmethod
    def start(cls, binary: str, *, shards: int, limits: bool = True, other: float = 0.0,
              outage: tuple[float, float, str] | None = None) -> "Endpoint":
        stats_path = Path(tempfile.mkdtemp(prefix="limits-")) / "stats.json"
        args = [binary, "0", STREAM, "--shards", str(shards), "--stats-on-exit", str(stats_path)]
        if limits:
            args.append("--shard-limits")
        if other:
            args += ["--other-producer", str(other)]
        if outage:
            after, length, kind = outage
            args += ["--outage-after", str(after), "--outage-for", str(length), "--outage-kind", kind]
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            proc.kill()
            raise AssertionError(f"local endpoint printed {url!r}, not its URL")
        return cls(proc, url, stats_path)

    def stop(self) -> dict[str, Any]:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        stats = json.loads(self.stats_path.read_text())
        shutil.rmtree(self.stats_path.parent, ignore_errors=True)
        return stats


def events(count: int, size: int = 100, keys: list[str] | None = None) -> list[bytes]:
    """`count` JSON events of `size` bytes; with `keys`, field `k` takes them in turn."""
    out = []
    for n in range(count):
        key = f',"k":"{keys[n % len(keys)]}"' if keys else ""
        head = f'{{"n":{n}{key},"pad":"'
        pad = max(0, size - len(head) - 2)
        out.append((head + "x" * pad + '"}').encode())
    return out


@dataclass
class Outcome:
    """What one run of the CLI came to."""

    exit_code: int
    report: dict[str, Any]
    endpoint: dict[str, Any]
    wall_s: float
    stderr: str = field(repr=False)

    @property
    def component(self) -> dict[str, Any]:
        return self.report["targets"][0]["component"] or {}

    @property
    def throttled(self) -> int:
        """Throttled record attempts, as the component counted them."""
        return self.component.get("throttled", 0)

    def row(self) -> dict[str, Any]:
        return {"delivered": self.report["delivered"], "failed": self.report["failed"],
                "throttled": self.throttled, "wall_s": round(self.wall_s, 2),
                "stored": self.endpoint.get("records_stored")}


def run(host_bin: str, *, lines: list[bytes], shards: int, partition_key: str = "{{random}}",
        props: dict[str, Any] | None = None, other: float = 0.0,
        outage: tuple[float, float, str] | None = None, limits: bool = True,
        timeout: float = 600.0) -> Outcome:
    """Ships `lines` through one target into a fresh local endpoint."""
    ep = Endpoint.start(endpoint_bin(host_bin), shards=shards, limits=limits, other=other, outage=outage)
    work = Path(tempfile.mkdtemp(prefix="limits-run-"))
    try:
        target = {"name": "limits", "type": "amazonkinesis", "properties": {
            "key": ACCESS_KEY, "secret": SECRET_KEY, "region": "us-east-1", "endpoint": ep.url,
            "stream": STREAM, "partition_key": partition_key, **(props or {})}}
        config = work / "config.json"
        config.write_text(json.dumps({"targets": [target]}))
        input_path = work / "input.txt"
        input_path.write_bytes(b"\n".join(lines) + b"\n")
        started = time.monotonic()
        proc = subprocess.run([host_bin, "run", "--config", str(config), "--input", str(input_path),
                               "--report", "json"], capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        wall = time.monotonic() - started
        stdout = proc.stdout.decode("utf-8", "replace")
        report = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    finally:
        stats = ep.stop()
        shutil.rmtree(work, ignore_errors=True)
    return Outcome(proc.returncode, report, stats, wall, proc.stderr.decode("utf-8", "replace"))
