#!/usr/bin/env node
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// decode.js FILE: prints the ExportTraceServiceRequest in FILE (protobuf
// bytes) as one line of OTLP/JSON, decoded with the official schema.
// Exit status 1 if FILE cannot be read or decoded.
'use strict';

const fs = require('fs');
const otlp = require('./otlp');

if (process.argv.length !== 3) {
	process.stderr.write('usage: decode.js FILE\n');
	process.exit(2);
}
try {
	const req = otlp.decodeRequest(fs.readFileSync(process.argv[2]));
	process.stdout.write(JSON.stringify(otlp.requestJson(req)) + '\n');
} catch (e) {
	process.stderr.write(`decode.js: ${process.argv[2]}: ${e.message}\n`);
	process.exit(1);
}
