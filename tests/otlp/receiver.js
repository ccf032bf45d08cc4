#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// An OTLP/HTTP traces and metrics receiver for tests, decoding with the
// official schema.
//
//   receiver.js PORT --out SPANS [--metrics-out POINTS] [--requests REQUESTS]
//               [--pid-file FILE] [--reject-points N]
//               [--fail-first N [--fail-status CODE] [--retry-after S]]
//               [--hang]
//
// Listens on 127.0.0.1:PORT (0: any free port; the port is printed as
// "listening 127.0.0.1:PORT"). POST /v1/traces with Content-Type
// application/x-protobuf, gzip or no Content-Encoding, is decoded as an
// ExportTraceServiceRequest; on success every span is appended to SPANS as
// one JSON line (see flatSpans in otlp.js) before the 200 is sent, so a
// sender that saw the 200 finds its spans in the file. POST /v1/metrics
// is decoded as an ExportMetricsServiceRequest, and every data point goes
// to POINTS the same way (flatPoints in otlp.js, with the request's seq),
// or is refused with a 404 when --metrics-out is not given.
//
// REQUESTS gets one JSON line per request: {seq, method, path, headers,
// bodyBytes, spans, points, status} (spans, points: how many it carried,
// or null if it could not be decoded; status: null when --hang left it
// unanswered).
//
// Faults: --fail-first N answers the first N requests (either signal) with
// CODE (default 503), with a Retry-After of S seconds if given, and keeps
// what they carried out of the files. --hang reads every request and never
// answers. --reject-points N answers every metrics request with a partial
// success rejecting N data points (they are still written to POINTS).
//
// The pid file is written once the port is open, so it doubles as a
// readiness signal, and removed on SIGTERM or SIGINT, which end the receiver.
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const otlp = require('./otlp');

function usage(msg) {
	process.stderr.write(`receiver.js: ${msg}\n` +
		'usage: receiver.js PORT --out SPANS [--metrics-out POINTS] [--requests FILE]\n' +
		'                   [--pid-file FILE] [--reject-points N]\n' +
		'                   [--fail-first N [--fail-status CODE] [--retry-after S]] [--hang]\n');
	process.exit(2);
}

function intArg(name, v, min, max) {
	if (!/^[0-9]+$/.test(v || '') || Number(v) < min || Number(v) > max)
		usage(`${name}: want an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
	return Number(v);
}

function parseArgs(argv) {
	const o = { failFirst: 0, failStatus: 503, retryAfter: null, hang: false, rejectPoints: 0 };

	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));

		if (a === '--out')
			o.out = next();
		else if (a === '--metrics-out')
			o.metricsOut = next();
		else if (a === '--reject-points')
			o.rejectPoints = intArg(a, next(), 0, 1e9);
		else if (a === '--requests')
			o.requests = next();
		else if (a === '--pid-file')
			o.pidFile = next();
		else if (a === '--fail-first')
			o.failFirst = intArg(a, next(), 0, 1e9);
		else if (a === '--fail-status')
			o.failStatus = intArg(a, next(), 100, 599);
		else if (a === '--retry-after')
			o.retryAfter = intArg(a, next(), 0, 1e9);
		else if (a === '--hang')
			o.hang = true;
		else if (a.startsWith('-') || o.port !== undefined)
			usage(`unexpected argument ${a}`);
		else
			o.port = intArg('PORT', a, 0, 65535);
	}
	if (o.port === undefined)
		usage('PORT missing');
	if (!o.out)
		usage('--out missing');
	return o;
}

const opts = parseArgs(process.argv.slice(2));
let seq = 0;
let failsLeft = opts.failFirst;

function record(rec) {
	if (opts.requests)
		fs.appendFileSync(opts.requests, JSON.stringify(rec) + '\n');
}

function reply(res, rec, status, headers, body) {
	rec.status = status;
	record(rec);
	res.writeHead(status, headers);
	res.end(body);
}

function text(res, rec, status, msg) {
	reply(res, rec, status, { 'Content-Type': 'text/plain' }, msg + '\n');
}

function mediaType(v) {
	return (v || '').split(';')[0].trim().toLowerCase();
}

// What each path takes: how it is decoded and flattened, where its records
// go, and the success answer.
const signals = {
	'/v1/traces': {
		what: 'ExportTraceServiceRequest',
		decode: otlp.decodeRequest,
		flat: otlp.flatSpans,
		count: 'spans',
		out: () => opts.out,
		response: () => otlp.encodeResponse(),
	},
	'/v1/metrics': {
		what: 'ExportMetricsServiceRequest',
		decode: otlp.decodeMetricsRequest,
		flat: otlp.flatPoints,
		count: 'points',
		out: () => opts.metricsOut,
		response: () => otlp.encodeMetricsResponse(opts.rejectPoints),
	},
};

// Returns the decoded request, or a [status, message] pair to answer with.
function decode(req, body, signal) {
	const encoding = (req.headers['content-encoding'] || 'identity').trim().toLowerCase();
	let raw = body;

	if (mediaType(req.headers['content-type']) !== 'application/x-protobuf')
		return [415, `unsupported Content-Type ${req.headers['content-type']}`];
	if (encoding === 'gzip') {
		try {
			raw = zlib.gunzipSync(body);
		} catch (e) {
			return [400, `bad gzip body: ${e.message}`];
		}
	} else if (encoding !== 'identity') {
		return [415, `unsupported Content-Encoding ${encoding}`];
	}
	try {
		return signal.decode(raw);
	} catch (e) {
		return [400, `not an ${signal.what}: ${e.message}`];
	}
}

function handle(req, res, body) {
	const url = new URL(req.url, 'http://receiver');
	const signal = signals[url.pathname];
	const rec = {
		seq: ++seq,
		method: req.method,
		path: url.pathname,
		headers: req.headers,
		bodyBytes: body.length,
		spans: null,
		points: null,
		status: null,
	};

	if (opts.hang) {
		record(rec);
		return; /* the socket stays open until the sender gives up */
	}
	if (!signal || !signal.out())
		return text(res, rec, 404, 'not found');
	if (req.method !== 'POST')
		return text(res, rec, 405, 'POST only');

	const msg = decode(req, body, signal);
	if (Array.isArray(msg))
		return text(res, rec, msg[0], msg[1]);
	const items = signal.flat(msg);
	rec[signal.count] = items.length;

	if (failsLeft > 0) {
		failsLeft--;
		const headers = { 'Content-Type': 'text/plain' };
		if (opts.retryAfter !== null)
			headers['Retry-After'] = String(opts.retryAfter);
		return reply(res, rec, opts.failStatus, headers, 'injected failure\n');
	}
	if (items.length)
		fs.appendFileSync(signal.out(), items.map((s) => JSON.stringify(
			signal.count === 'points' ? { seq: rec.seq, ...s } : s) + '\n').join(''));
	reply(res, rec, 200, { 'Content-Type': 'application/x-protobuf' },
	      Buffer.from(signal.response()));
}

const server = http.createServer((req, res) => {
	const chunks = [];

	req.on('data', (c) => chunks.push(c));
	req.on('end', () => handle(req, res, Buffer.concat(chunks)));
});

function stop() {
	if (opts.pidFile)
		fs.rmSync(opts.pidFile, { force: true });
	process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

fs.closeSync(fs.openSync(opts.out, 'a'));
if (opts.metricsOut)
	fs.closeSync(fs.openSync(opts.metricsOut, 'a'));
server.listen(opts.port, '127.0.0.1', () => {
	const { port } = server.address();

	if (opts.pidFile)
		fs.writeFileSync(opts.pidFile, `${process.pid}\n`);
	process.stdout.write(`listening 127.0.0.1:${port}\n`);
});
