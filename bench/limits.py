"""Delivery at Kinesis' own limits (BENCHMARKS.md "At Kinesis' limits"):
each scenario through `kinesis-host run` into the local endpoint with
per-shard write limits, once with the defaults and once with the 0.2.0
defaults (`shard_pacing: false, max_retries: 3, retry_max_duration: 60`),
in the same run; then the memory scenarios through the demo.

    python3 bench/limits.py target/release/kinesis-host

BENCH_LIMITS_ONLY=name,... runs some of them. Prints Markdown tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
import limits  # noqa: E402

HOST = os.path.abspath(sys.argv[1])
ONLY = set(filter(None, os.environ.get("BENCH_LIMITS_ONLY", "").split(",")))

SCENARIOS = [
    ("2 shards, 20,000 x 100 B, {{random}}", dict(lines=limits.events(20_000), shards=2)),
    ("1 hot key, 6,000 x 100 B", dict(lines=limits.events(6_000), shards=2, partition_key="hot")),
    ("2 shards, another producer takes half, 20,000", dict(lines=limits.events(20_000), shards=2, other=0.5)),
    ("503 for 20 s after 3 s, 20,000", dict(lines=limits.events(20_000), shards=2, outage=(3.0, 20.0, "503"))),
    ("refused connections for 20 s after 3 s, 20,000",
     dict(lines=limits.events(20_000), shards=2, outage=(3.0, 20.0, "refuse"))),
]


def row(name: str, which: str, out: limits.Outcome, events: int) -> str:
    r = out.row()
    share = 100.0 * r["throttled"] / events
    return (f"| {name} | {which} | {r['delivered']:,} | {r['failed']:,} | {r['throttled']:,} ({share:.1f} %) "
            f"| {out.report.get('elapsed_s', 0):.1f} | {out.exit_code} |")


def limits_table() -> None:
    print("| scenario | config | delivered | failed | throttled attempts | elapsed s | exit |")
    print("|---|---|---|---|---|---|---|")
    for name, kw in SCENARIOS:
        if ONLY and not any(o in name for o in ONLY):
            continue
        events = len(kw["lines"])
        for which, props in (("defaults", {}), ("0.2.0 defaults", limits.DEFAULTS_0_2_0)):
            out = limits.run(HOST, props=props, **kw)
            print(row(name, which, out, events), flush=True)


def demo(lines: list[bytes]) -> dict:
    path = Path(tempfile.mkdtemp(prefix="limits-demo-")) / "in.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    started = time.monotonic()
    proc = subprocess.run([HOST, "run", "--input", str(path), "--report", "json"], capture_output=True,
                          timeout=1800, stdin=subprocess.DEVNULL)
    report = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    path.unlink()
    path.parent.rmdir()
    report["_wall"] = time.monotonic() - started
    report["_exit"] = proc.returncode
    return report


def memory_table() -> None:
    print()
    print("| demo input (default caps) | delivered | failed | peak linear memory | refused offers | exit |")
    print("|---|---|---|---|---|---|")
    cases = [
        ("1,000,000 events of 1-7 bytes (seq)", [str(n).encode() for n in range(1, 1_000_001)]),
        ("1,000,000 events of 100 B", limits.events(1_000_000)),
        ("1,000 events of 1 MiB (less the key)", [b"x" * (1024 * 1024 - 16) for _ in range(1_000)]),
    ]
    for name, lines in cases:
        if ONLY and not any(o in name for o in ONLY):
            continue
        rep = demo(lines)
        t = rep["targets"][0]
        mem = t["host"]["memory_bytes"] / (1 << 20)
        refused = (t.get("component") or {}).get("events_refused", 0)
        print(f"| {name} | {rep['delivered']:,} | {rep['failed']:,} | {mem:.1f} MiB | {refused:,} "
              f"| {rep['_exit']} |", flush=True)


if __name__ == "__main__":
    limits_table()
    memory_table()
