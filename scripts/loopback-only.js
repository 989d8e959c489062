// Preload for Node.js servers that insist on listening on every interface.
//
//   node -r ./scripts/loopback-only.js server.js
//
// kinesis-local (the Scala.js build of kinesis-mock) hard-codes the wildcard
// host 0.0.0.0 and then calls `server.listen(port, cb)`, which Node turns into
// a dual-stack bind on `::`. The test peers must only ever be reachable on the
// loopback address, so this patches net.Server.prototype.listen (which
// tls.Server and http.Server inherit) to force host 127.0.0.1 for every TCP
// listen. Unix-socket paths and handle/fd listens are passed through untouched.
//
// LOOPBACK_ONLY_HOST overrides the address (it must still be a loopback one).
'use strict';

const net = require('net');

const HOST = process.env.LOOPBACK_ONLY_HOST || '127.0.0.1';
if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(HOST) && HOST !== '::1') {
  throw new Error(`loopback-only.js: LOOPBACK_ONLY_HOST=${HOST} is not a loopback address`);
}

const originalListen = net.Server.prototype.listen;

function isPortLike(v) {
  return typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v));
}

function note(what) {
  if (process.env.LOOPBACK_ONLY_QUIET !== '1') {
    process.stderr.write(`[loopback-only] listen ${what} -> host ${HOST}\n`);
  }
}

net.Server.prototype.listen = function patchedListen(...args) {
  const cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
  const first = args[0];
  let options;

  if (first === undefined || first === null) {
    // listen() / listen(cb): a random port on every interface.
    options = { port: 0 };
  } else if (isPortLike(first)) {
    // listen(port[, host][, backlog])
    options = { port: Number(first) };
    let rest = args.slice(1);
    if (typeof rest[0] === 'string' || rest[0] === undefined || rest[0] === null) {
      rest = rest.slice(1); // drop the requested host
    }
    if (typeof rest[0] === 'number') options.backlog = rest[0];
  } else if (typeof first === 'object' && !first._handle && first.fd === undefined &&
             first.handle === undefined && first.path === undefined) {
    // listen({ port, host, ... })
    options = Object.assign({}, first);
    if (options.port === undefined) options.port = 0;
    if (typeof args[1] === 'number' && options.backlog === undefined) options.backlog = args[1];
  } else {
    // Unix socket path, handle or fd: not a TCP interface bind.
    if (cb) args.push(cb);
    return originalListen.apply(this, args);
  }

  note(`port ${options.port}`);
  options.host = HOST;
  return cb ? originalListen.call(this, options, cb) : originalListen.call(this, options);
};
