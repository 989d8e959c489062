"""`kinesis-host run` as a service, through the CLI against kinesis-local:
a graceful stop on SIGTERM, an immediate one on a second signal, checkpoints
that survive `kill -9` (with `--checkpoint` and with `pipelines:
[checkpoint]`), dead letters that replay with `--input`, and `--follow`
through a copytruncate and a rename rotation (README "Running it as a
service").
"""

from __future__ import annotations

import base64
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from e2e_helpers import (
    check_report_shape,
    create_stream,
    delete_stream,
    no_crash_text,
    parse_report,
    read_stream,
    target,
    write_json_config,
)


class Cli:
    """A `kinesis-host run` in the background; stdout and stderr are
    collected on threads so a full pipe never blocks it."""

    def __init__(self, host_bin: str, args: list[str], *, stdin=subprocess.DEVNULL,
                 env: dict[str, str] | None = None):
        self.args = [host_bin, "run", *args]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(self.args, stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env)
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._threads = [threading.Thread(target=self._drain, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self._out), (self.proc.stderr, self._err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _drain(stream, sink: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            sink.append(chunk)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=10)
        return code

    @property
    def stdout(self) -> str:
        return b"".join(self._out).decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode("utf-8", "replace")

    @property
    def report(self):
        return parse_report(self.stdout)

    def describe(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit code {self.proc.returncode}\n"
                f"--- stdout (last 3000) ---\n{self.stdout[-3000:]}\n"
                f"--- stderr (last 3000) ---\n{self.stderr[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def wait_until(what: str, check, timeout: float, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def stored(peer, stream: str) -> list[bytes]:
    return [r.data for r in read_stream(peer.client(), stream, idle_polls=1)]


def wait_stored(peer, stream: str, count: int, timeout: float = 60.0) -> list[bytes]:
    def enough():
        got = stored(peer, stream)
        return got if len(got) >= count else None
    return wait_until(f"{count} records in {stream}", enough, timeout, every=0.3)


def fast(t: dict) -> dict:
    """Spread over the shards, not paced: the rate is not what these tests look at."""
    t["properties"]["partition_key"] = "{{random}}"
    t["properties"]["shard_max_records_per_second"] = 100000
    return t


def closed_port() -> int:
    """A local port nothing listens on (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------ signals

def test_sigterm_flushes_a_scheduled_target_holding_500_events_from_an_open_pipe(
        host_bin, kinesis_local, new_stream, tmp_path):
    """`interval: 1h` holds what comes after its first run; SIGTERM while the
    pipe is still open: no more input, a flush, the report, exit 0, all 500 stored."""
    stream = new_stream(kinesis_local, shards=2)
    t = fast(target("hourly", kinesis_local, stream, "pk"))
    t["properties"]["interval"] = "1h"
    config = write_json_config(tmp_path / "config.json", [t])
    events = [f"held-{i:03d}-{uuid.uuid4().hex[:8]}".encode() for i in range(500)]
    cli = Cli(host_bin, ["--config", str(config), "--input", "-", "--report", "json"],
              stdin=subprocess.PIPE)
    try:
        cli.proc.stdin.write(events[0] + b"\n")
        cli.proc.stdin.flush()
        time.sleep(1.0)  # the first run (right after start) takes the first event
        cli.proc.stdin.write(b"".join(e + b"\n" for e in events[1:]))
        cli.proc.stdin.flush()
        time.sleep(1.5)
        assert cli.proc.poll() is None, cli.describe()
        before = stored(kinesis_local, stream)
        assert len(before) <= 1, f"the scheduled target sent {len(before)} records before its next run"
        started = time.monotonic()
        cli.proc.send_signal(signal.SIGTERM)
        code = cli.wait(timeout=30)  # the pipe is still open
        took = time.monotonic() - started
    finally:
        cli.kill()
    rep = check_report_shape(cli)
    no_crash_text(cli.stderr)
    assert code == 0 and took < 30, cli.describe()
    assert (rep["events"], rep["delivered"], rep["failed"]) == (500, 500, 0), cli.describe()
    assert rep["stopped_by"] == "SIGTERM" and rep["interrupted"] is False, cli.describe()
    assert Counter(stored(kinesis_local, stream)) == Counter(events)


def test_a_second_signal_stops_the_flush_at_once_and_dead_letters_what_was_unsettled(
        host_bin, tmp_path):
    """An endpoint that refuses connections: the flush after SIGTERM keeps
    retrying (retry_max_duration 300 s); SIGINT then stops it at once: the
    events fail with Interrupted (maybe delivered), exit 1, and without a
    checkpoint they are dead letters."""
    t = {"name": "down", "type": "amazonkinesis", "properties": {
        "key": "AKIDEXAMPLE", "secret": "secret", "region": "us-east-1",
        "endpoint": f"http://127.0.0.1:{closed_port()}", "stream": "nowhere",
        "partition_key": "{{random}}"}}
    config = write_json_config(tmp_path / "config.json", [t])
    dead = tmp_path / "dead.txt"
    cli = Cli(host_bin, ["--config", str(config), "--input", "-", "--report", "json",
                         "--dead-letter", str(dead)], stdin=subprocess.PIPE)
    events = [b"stuck %d" % i for i in range(100)]
    try:
        cli.proc.stdin.write(b"".join(e + b"\n" for e in events))
        cli.proc.stdin.flush()
        time.sleep(1.0)
        cli.proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)
        assert cli.proc.poll() is None, "still flushing (retrying) after the first signal\n" + cli.describe()
        started = time.monotonic()
        cli.proc.send_signal(signal.SIGINT)
        code = cli.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        cli.kill()
    rep = check_report_shape(cli)
    no_crash_text(cli.stderr)
    assert code == 1 and took < 5, cli.describe()
    assert rep["interrupted"] is True and rep["stopped_by"] == "SIGTERM", cli.describe()
    assert rep["failed_by_code"] == {"Interrupted": 100}, cli.describe()
    assert all(f["maybe_delivered"] for f in rep["failures"]), cli.describe()
    assert rep["dead_letters"] == 100 and rep["dead_letter_files"] == [str(dead)], cli.describe()
    assert Counter(dead.read_bytes().splitlines()) == Counter(events)
    why = [json.loads(line) for line in Path(str(dead) + ".jsonl").read_text().splitlines()]
    assert {w["code"] for w in why} == {"Interrupted"} and len(why) == 100


# ------------------------------------------------------------ checkpoints

KILL_EVENTS = 20_000
# Events delivered but not yet behind the checkpoint when the CLI is killed
# (they are sent again): what was in flight, plus what settled within the
# checkpoint's save interval (200 ms). With 4 shards paced at 500 records/s
# and requests of 100 records that is some hundreds; the kill points are
# thousands of lines in, so a checkpoint that lags or is not used at all
# fails this by far.
DUPLICATES_PER_KILL = 2_500


def _checkpoint_line(path_of) -> int:
    path = path_of()
    if path is None or not os.path.exists(path):
        return 0
    try:
        return json.loads(Path(path).read_text())["line"]
    except (OSError, ValueError, KeyError):
        return 0


def _ids(records: list[bytes], prefix: bytes) -> Counter:
    return Counter(int(r[len(prefix):]) for r in records if r.startswith(prefix))


@pytest.mark.parametrize("how", ["flag", "pipeline"])
def test_killed_twice_with_sigkill_then_run_to_the_end_stores_every_event(
        how, host_bin, kinesis_local, new_stream, tmp_path):
    """20,000 lines, the target slowed to 2,000 records/s (4 shards at 500/s
    each), `kill -9` twice at different depths, then a run to the end: every
    line is stored; a line before a checkpoint is never sent again; the only
    duplicates are lines that were delivered but not yet behind the
    checkpoint at a kill; the resumed runs report where they started."""
    stream = new_stream(kinesis_local, shards=4)
    t = target("ship", kinesis_local, stream, "{{random}}", max_events=100)
    t["properties"]["shard_max_records_per_second"] = 500
    args = []
    env = {}
    if how == "flag":
        checkpoint = tmp_path / "ship.checkpoint"
        args = ["--checkpoint", str(checkpoint)]
        path_of = lambda: checkpoint  # noqa: E731
    else:
        t["pipelines"] = ["checkpoint"]
        env = {"XDG_STATE_HOME": str(tmp_path / "state")}

        def path_of():
            found = glob.glob(str(tmp_path / "state" / "kinesis-host" / "*.checkpoint"))
            return found[0] if found else None
    config = write_json_config(tmp_path / "config.json", [t])
    prefix = f"ck-{uuid.uuid4().hex[:8]}-".encode()
    input_path = tmp_path / "events.txt"
    input_path.write_bytes(b"".join(prefix + b"%05d\n" % i for i in range(1, KILL_EVENTS + 1)))
    cmd = ["--config", str(config), "--input", str(input_path), "--report", "json", *args]

    marks, duplicates_expected = [], 0
    for kill_at in (6_000, 13_000):
        cli = Cli(host_bin, cmd, env=env)
        try:
            wait_until(f"the checkpoint at line {kill_at}", lambda: _checkpoint_line(path_of) >= kill_at,
                       timeout=90, every=0.05)
        finally:
            cli.kill()
        assert cli.proc.returncode == -signal.SIGKILL, cli.describe()
        time.sleep(0.5)  # anything the endpoint was still taking in
        line = _checkpoint_line(path_of)
        ids = _ids(stored(kinesis_local, stream), prefix)
        missing = [i for i in range(1, line) if ids[i] == 0]
        assert not missing, f"the checkpoint (line {line}) is ahead of delivery: {missing[:10]}"
        ahead = sum(1 for i in ids if i >= line)
        assert ahead <= DUPLICATES_PER_KILL, f"{ahead} events delivered past the checkpoint at line {line}"
        print(f"killed with the checkpoint at line {line}: {ahead} events delivered past it")
        marks.append(line)
        duplicates_expected += ahead

    cli = Cli(host_bin, cmd, env=env)
    try:
        code = cli.wait(timeout=120)
    finally:
        cli.kill()
    rep = check_report_shape(cli)
    no_crash_text(cli.stderr)
    assert code == 0, cli.describe()
    assert rep["resumed_from_line"] == marks[-1], cli.describe()
    assert rep["skipped_by_checkpoint"] == marks[-1] - 1, cli.describe()
    assert rep["events"] == KILL_EVENTS - (marks[-1] - 1) == rep["delivered"], cli.describe()
    assert rep["checkpoint"]["line"] == KILL_EVENTS + 1, cli.describe()
    ids = _ids(stored(kinesis_local, stream), prefix)
    missing = [i for i in range(1, KILL_EVENTS + 1) if ids[i] == 0]
    assert not missing, f"{len(missing)} events never stored, e.g. {missing[:10]}"
    assert set(ids) == set(range(1, KILL_EVENTS + 1))
    duplicates = sum(n - 1 for n in ids.values())
    assert duplicates <= duplicates_expected, (duplicates, duplicates_expected, marks)
    # Run again: nothing left to send.
    cli = Cli(host_bin, cmd, env=env)
    assert cli.wait(timeout=60) == 0, cli.describe()
    assert (cli.report["events"], cli.report["resumed_from_line"]) == (0, KILL_EVENTS + 1), cli.describe()


# ------------------------------------------------------------ dead letters

@pytest.mark.parametrize("fmt", ["lines", "base64"])
def test_a_permanent_failure_goes_to_the_dead_letter_file_and_replays_with_input(
        fmt, host_bin, kinesis_local, new_stream, tmp_path):
    """Two targets, one writing to a stream that does not exist
    (ResourceNotFoundException, not retryable): the other gets everything,
    each event of the failing one is one line of its dead-letter file (in the
    input's format) and one record of why; once the stream exists, the file
    replayed with `--input` delivers exactly those events."""
    good = new_stream(kinesis_local, shards=2, tag="dl-good")
    missing = f"dl-missing-{uuid.uuid4().hex[:12]}"
    config = write_json_config(tmp_path / "config.json", [
        fast(target("good", kinesis_local, good, "pk")),
        fast(target("bad", kinesis_local, missing, "pk")),
    ])
    rng = random.Random(15)
    if fmt == "lines":
        events = [f"dead-{i:03d} {rng.random()}".encode() for i in range(300)]
        text = b"".join(e + b"\n" + (b"\n" if i == 7 else b"") for i, e in enumerate(events))
    else:
        events = [rng.randbytes(rng.randint(1, 300)) + b"\n\r\x00" for _ in range(300)]
        text = b"".join(base64.b64encode(e) + b"\n" for e in events)
    input_path = tmp_path / "events.in"
    input_path.write_bytes(text)
    pattern = str(tmp_path / "dead" / "{target}.txt")
    cli = Cli(host_bin, ["--config", str(config), "--input", str(input_path), "--input-format", fmt,
                         "--report", "json", "--dead-letter", pattern])
    code = cli.wait(timeout=120)
    rep = check_report_shape(cli)
    no_crash_text(cli.stderr)
    assert code == 1, cli.describe()
    assert rep["failed_by_code"] == {"ResourceNotFoundException": 300}, cli.describe()
    assert rep["dead_letters"] == 300, cli.describe()
    assert Counter(stored(kinesis_local, good)) == Counter(events)

    dead_good, dead_bad = tmp_path / "dead" / "good.txt", tmp_path / "dead" / "bad.txt"
    assert dead_good.read_bytes() == b""
    lines = dead_bad.read_bytes().splitlines()
    assert len(lines) == 300
    decoded = lines if fmt == "lines" else [base64.b64decode(line) for line in lines]
    assert Counter(decoded) == Counter(events)
    why = [json.loads(w) for w in Path(str(dead_bad) + ".jsonl").read_text().splitlines()]
    assert len(why) == 300
    assert {(w["target"], w["code"], w["retryable"]) for w in why} == {("bad", "ResourceNotFoundException", False)}
    assert sorted(w["dead_letter_line"] for w in why) == list(range(1, 301))
    # Each record names the event's line in the input.
    input_lines = input_path.read_bytes().splitlines()
    for w in why:
        assert w["input"] == str(input_path) and input_lines[w["input_line"] - 1] == lines[w["dead_letter_line"] - 1]

    # The operator fixes the cause and replays the file.
    create_stream(kinesis_local.client(), missing, shards=2)
    try:
        replay = Cli(host_bin, ["--config", str(config), "--target", "bad", "--input", str(dead_bad),
                                "--input-format", fmt, "--report", "json"])
        assert replay.wait(timeout=120) == 0, replay.describe()
        assert replay.report["delivered"] == 300, replay.describe()
        assert Counter(stored(kinesis_local, missing)) == Counter(events)
    finally:
        delete_stream(kinesis_local.client(), missing)


# ------------------------------------------------------------ --follow

def test_follow_through_copytruncate_and_rename_rotations_stores_every_line_once(
        host_bin, kinesis_local, new_stream, tmp_path):
    """`--follow` reads a log as it grows; it is rotated by copytruncate, then
    by rename-and-create (with lines written to the renamed file before the
    new one appears); every line is stored exactly once, SIGTERM ends it with
    exit 0, and its checkpoint names the file it was reading: a later run
    without `--follow` sends only what came after."""
    stream = new_stream(kinesis_local, shards=2)
    t = fast(target("tail", kinesis_local, stream, "pk"))
    t["properties"]["batch_timeout"] = 0.2
    config = write_json_config(tmp_path / "config.json", [t])
    log = tmp_path / "app.log"
    checkpoint = tmp_path / "app.checkpoint"
    tag = uuid.uuid4().hex[:8]

    def lines(name: str, n: int) -> list[bytes]:
        return [f"{tag} {name}-{i:04d} some log text".encode() for i in range(n)]

    def append(path: Path, batch: list[bytes]) -> None:
        with open(path, "ab") as f:
            f.write(b"".join(line + b"\n" for line in batch))

    sent: list[bytes] = []
    a = lines("a", 200)
    append(log, a)
    sent += a
    cmd = ["--config", str(config), "--input", str(log), "--follow", "--checkpoint", str(checkpoint),
           "--report", "json"]
    cli = Cli(host_bin, cmd)
    try:
        wait_stored(kinesis_local, stream, len(sent))
        b = lines("b", 150)  # more than a line, fewer bytes than `a`: truncation is seen by size or head
        append(log, b[:10])
        sent += b[:10]
        wait_stored(kinesis_local, stream, len(sent))
        # copytruncate
        shutil.copyfile(log, tmp_path / "app.log.1")
        with open(log, "r+b") as f:
            f.truncate(0)
        append(log, b[10:])
        sent += b[10:]
        wait_stored(kinesis_local, stream, len(sent))
        # rename and create; the writer still appends to the old file first
        os.rename(log, tmp_path / "app.log.2")
        b2 = lines("b2", 50)
        append(tmp_path / "app.log.2", b2)
        sent += b2
        time.sleep(0.3)
        c = lines("c", 100)
        append(log, c)
        sent += c
        wait_stored(kinesis_local, stream, len(sent))
        d = lines("d", 50)
        append(log, d)
        sent += d
        wait_stored(kinesis_local, stream, len(sent))
        assert cli.proc.poll() is None, cli.describe()
        cli.proc.send_signal(signal.SIGTERM)
        code = cli.wait(timeout=30)
    finally:
        cli.kill()
    rep = check_report_shape(cli)
    no_crash_text(cli.stderr)
    assert code == 0, cli.describe()
    assert rep["stopped_by"] == "SIGTERM" and rep["rotations"] == 2, cli.describe()
    assert rep["delivered"] == len(sent) and rep["failed"] == 0, cli.describe()
    got, want = Counter(stored(kinesis_local, stream)), Counter(sent)
    assert got == want, (f"missing {sorted(want - got)[:5]}, unexpected {sorted(got - want)[:5]}\n"
                         + cli.describe())
    saved = json.loads(checkpoint.read_text())
    assert saved["identity"]["ino"] == os.stat(log).st_ino and saved["line"] == len(c) + len(d) + 1, saved

    e = lines("e", 20)
    append(log, e)
    sent += e
    again = Cli(host_bin, ["--config", str(config), "--input", str(log), "--checkpoint", str(checkpoint),
                           "--report", "json"])
    assert again.wait(timeout=60) == 0, again.describe()
    assert (again.report["events"], again.report["resumed_from_line"]) == (20, 151), again.describe()
    assert Counter(stored(kinesis_local, stream)) == Counter(sent)
