// The driver of tests/e2e/test_node_host.py: runs README.md's "Node.js host"
// module (ship.mjs, written out of the README by the test next to the
// transpiled component in ./kinesis/) on events from a file.
//
//   node host.mjs SHIP_MODULE CONFIG_FILE EVENTS_FILE
//
// CONFIG_FILE: one target definition (JSON). EVENTS_FILE: one event per line,
// base64; event id = line number. Two targets (component instances) share the
// work: the events up to half of all bytes go through `push` on one
// (`node-push`), the rest, from id `first_batch_id` on, through `push-batch`
// on the other (`node-push-batch`), in chunks of CHUNK (env, default 64).
// Before that:
//   - `configure` with a bad config must throw (`config_error`);
//   - `sandbox` checks: two disabled targets (which never send) without an
//     endpoint, one granted AWS_ENDPOINT_URL_KINESIS=GRANTED_ENDPOINT (env) and
//     one granted nothing, report the endpoints they would use (`endpoints`).
//
// Prints one JSON object on stdout: `events`, `delivered`, `failed`,
// `outcomes` (id -> {delivered: {shard_id, sequence_number}} or {failed:
// {code, message, origin, retryable, maybe_delivered}}), `config_error`,
// `endpoints`, `first_batch_id`, `stats` (per target name: the component's
// counters after the run), `elapsed_s`. Exits 0 when the run completed,
// whatever the outcomes; anything thrown (an id settled twice, say) exits 1.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [shipPath, configPath, eventsPath] = process.argv.slice(2);
if (!eventsPath) {
  process.stderr.write('usage: node host.mjs SHIP_MODULE CONFIG_FILE EVENTS_FILE\n');
  process.exit(2);
}
const chunk = Number(process.env.CHUNK ?? 64);
const { newTarget, ship } = await import(pathToFileURL(resolve(shipPath)).href);

const config = JSON.parse(readFileSync(configPath, 'utf8'));
const events = readFileSync(eventsPath, 'utf8')
  .split('\n')
  .filter((line) => line.length > 0)
  .map((line, i) => ({ id: BigInt(i + 1), data: Buffer.from(line, 'base64') }));
const withProps = (name, props) => ({ ...config, name, properties: { ...config.properties, ...props } });

// A result's error is thrown: jco's ComponentError, `payload` the config-error.
let configError = null;
try {
  (await newTarget()).configure(JSON.stringify(withProps('bad', { max_events: 501 })));
} catch (err) {
  configError = { name: err?.constructor?.name ?? null, payload: err?.payload ?? null };
}

// What the sandbox grants: only `env`, not process.env.
const probe = { ...withProps('probe', {}), status: false };
delete probe.properties.endpoint;
const endpoints = {};
for (const [name, env] of [
  ['granted', { AWS_ENDPOINT_URL_KINESIS: process.env.GRANTED_ENDPOINT }],
  ['default', undefined],
]) {
  endpoints[name] = (await newTarget(env && { env })).configure(JSON.stringify(probe)).endpoint;
}

const started = performance.now();
// The first target takes events from the front until it has half the bytes.
const total = events.reduce((n, e) => n + e.data.length, 0);
let half = 0;
for (let bytes = 0; half < events.length && bytes < total / 2; half += 1) bytes += events[half].data.length;
const runs = [];
for (const [name, part, packed] of [
  ['node-push', events.slice(0, half), false],
  ['node-push-batch', events.slice(half), true],
]) {
  const kinesis = await newTarget();
  const outcomes = ship(kinesis, JSON.stringify(withProps(name, {})), part, { packed, chunk });
  runs.push({ name, outcomes, stats: kinesis.stats() });
}
const elapsed = (performance.now() - started) / 1000;

const outcomes = {};
let delivered = 0;
let failed = 0;
for (const run of runs) {
  for (const [id, outcome] of run.outcomes) {
    const key = String(id);
    if (key in outcomes) throw new Error(`event ${key} settled by two targets`);
    if (outcome.tag === 'delivered') {
      delivered += 1;
      const d = outcome.val;
      outcomes[key] = { delivered: { shard_id: d?.shardId, sequence_number: d?.sequenceNumber } };
    } else {
      failed += 1;
      const f = outcome.val;
      outcomes[key] = {
        failed: {
          code: f.code,
          message: f.message,
          origin: f.origin,
          retryable: f.retryable,
          maybe_delivered: f.maybeDelivered,
        },
      };
    }
  }
}

const json = (value) => JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v));
process.stdout.write(
  json({
    events: events.length,
    delivered,
    failed,
    outcomes,
    config_error: configError,
    endpoints,
    first_batch_id: half + 1,
    stats: Object.fromEntries(runs.map((r) => [r.name, r.stats])),
    elapsed_s: elapsed,
  }) + '\n',
);
