// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// OTLP trace and metric messages decoded with the official schema, not podtap's own
// user/otel/otlp.proto: the protobufjs root that @opentelemetry/otlp-transformer
// generates from the opentelemetry-proto files.
'use strict';

const $protobuf = require('protobufjs/minimal');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const proto = root.opentelemetry.proto;
const Request = proto.collector.trace.v1.ExportTraceServiceRequest;
const Response = proto.collector.trace.v1.ExportTraceServiceResponse;
const MetricsRequest = proto.collector.metrics.v1.ExportMetricsServiceRequest;
const MetricsResponse = proto.collector.metrics.v1.ExportMetricsServiceResponse;
const Temporality = proto.metrics.v1.AggregationTemporality;
const SpanKind = proto.trace.v1.Span.SpanKind;
const StatusCode = proto.trace.v1.Status.StatusCode;

const kindNames = Object.fromEntries(Object.entries(SpanKind).map(([k, v]) => [v, k]));
const codeNames = Object.fromEntries(Object.entries(StatusCode).map(([k, v]) => [v, k]));
const temporalityNames = Object.fromEntries(Object.entries(Temporality).map(([k, v]) => [v, k]));

// protobufjs leaves absent fields null (or a shared empty array) and gives
// 64-bit integers as Long objects when the long package is installed.
const present = (v) => v !== null && v !== undefined;
const hex = (b) => Buffer.from(b || []).toString('hex');
const u64 = (v) => String(present(v) ? v : 0);

// protobufjs decodes strings leniently (a bad byte becomes U+FFFD), where
// the Collector's Go decoder refuses a request with any string field that
// is not UTF-8. Decoding is as strict as the Collector: every string field,
// wherever it is nested, must be well-formed UTF-8, else decodeRequest
// throws.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function strictReader(buf) {
	const reader = $protobuf.Reader.create(buf);

	reader.string = function strictString() {
		const bytes = this.bytes();
		try {
			return utf8.decode(bytes);
		} catch (e) {
			throw new Error(`a string field is not UTF-8: ${Buffer.from(bytes).toString('hex')}`);
		}
	};
	return reader;
}

function decodeRequest(buf) {
	return Request.decode(strictReader(buf));
}

function encodeResponse() {
	return Response.encode({}).finish();
}

function decodeMetricsRequest(buf) {
	return MetricsRequest.decode(strictReader(buf));
}

// rejected > 0: a partial success turning that many data points away.
function encodeMetricsResponse(rejected) {
	const body = rejected ?
		{ partialSuccess: { rejectedDataPoints: rejected, errorMessage: 'rejected by the test receiver' } } :
		{};
	return MetricsResponse.encode(body).finish();
}

// --- OTLP/JSON --------------------------------------------------------------
//
// The OTLP/JSON encoding (ids as hex, enums as numbers, 64-bit integers as
// decimal strings, fields in .proto order) with fields at their default value
// left out, so equal requests print equal strings.

function setIf(obj, key, value, isDefault) {
	if (present(value) && !isDefault)
		obj[key] = value;
}

function anyValueJson(v) {
	switch (v.value) {
	case 'stringValue':
		return { stringValue: v.stringValue };
	case 'boolValue':
		return { boolValue: v.boolValue };
	case 'intValue':
		return { intValue: u64(v.intValue) };
	case 'doubleValue':
		return { doubleValue: v.doubleValue };
	case 'bytesValue':
		return { bytesValue: Buffer.from(v.bytesValue).toString('base64') };
	case 'arrayValue':
		return { arrayValue: { values: (v.arrayValue.values || []).map(anyValueJson) } };
	case 'kvlistValue':
		return { kvlistValue: { values: (v.kvlistValue.values || []).map(keyValueJson) } };
	default:
		return {};
	}
}

function keyValueJson(kv) {
	const o = { key: kv.key };
	if (present(kv.value))
		o.value = anyValueJson(kv.value);
	return o;
}

function listJson(obj, key, list, fn) {
	if (list && list.length)
		obj[key] = list.map(fn);
}

function spanJson(s) {
	const o = {};
	setIf(o, 'traceId', hex(s.traceId), !s.traceId || !s.traceId.length);
	setIf(o, 'spanId', hex(s.spanId), !s.spanId || !s.spanId.length);
	setIf(o, 'traceState', s.traceState, s.traceState === '');
	setIf(o, 'parentSpanId', hex(s.parentSpanId), !s.parentSpanId || !s.parentSpanId.length);
	setIf(o, 'name', s.name, s.name === '');
	setIf(o, 'kind', s.kind, s.kind === 0);
	setIf(o, 'startTimeUnixNano', u64(s.startTimeUnixNano), u64(s.startTimeUnixNano) === '0');
	setIf(o, 'endTimeUnixNano', u64(s.endTimeUnixNano), u64(s.endTimeUnixNano) === '0');
	listJson(o, 'attributes', s.attributes, keyValueJson);
	setIf(o, 'droppedAttributesCount', s.droppedAttributesCount, s.droppedAttributesCount === 0);
	listJson(o, 'events', s.events, (e) => {
		const ev = {};
		setIf(ev, 'timeUnixNano', u64(e.timeUnixNano), u64(e.timeUnixNano) === '0');
		setIf(ev, 'name', e.name, e.name === '');
		listJson(ev, 'attributes', e.attributes, keyValueJson);
		return ev;
	});
	listJson(o, 'links', s.links, (l) => {
		const lk = {};
		setIf(lk, 'traceId', hex(l.traceId), !l.traceId || !l.traceId.length);
		setIf(lk, 'spanId', hex(l.spanId), !l.spanId || !l.spanId.length);
		setIf(lk, 'traceState', l.traceState, l.traceState === '');
		listJson(lk, 'attributes', l.attributes, keyValueJson);
		return lk;
	});
	if (present(s.status)) {
		o.status = {};
		setIf(o.status, 'message', s.status.message, s.status.message === '');
		setIf(o.status, 'code', s.status.code, s.status.code === 0);
	}
	return o;
}

function requestJson(req) {
	const o = {};
	listJson(o, 'resourceSpans', req.resourceSpans, (rs) => {
		const r = {};
		if (present(rs.resource)) {
			r.resource = {};
			listJson(r.resource, 'attributes', rs.resource.attributes, keyValueJson);
		}
		listJson(r, 'scopeSpans', rs.scopeSpans, (ss) => {
			const s = {};
			if (present(ss.scope)) {
				s.scope = {};
				setIf(s.scope, 'name', ss.scope.name, ss.scope.name === '');
				setIf(s.scope, 'version', ss.scope.version, ss.scope.version === '');
			}
			listJson(s, 'spans', ss.spans, spanJson);
			setIf(s, 'schemaUrl', ss.schemaUrl, ss.schemaUrl === '');
			return s;
		});
		setIf(r, 'schemaUrl', rs.schemaUrl, rs.schemaUrl === '');
		return r;
	});
	return o;
}

// --- one flat record per span, for tests to query with jq -------------------

function plainValue(v) {
	if (!present(v))
		return null;
	switch (v.value) {
	case 'intValue': {
		const n = Number(v.intValue);
		return Number.isSafeInteger(n) ? n : u64(v.intValue);
	}
	case 'arrayValue':
		return (v.arrayValue.values || []).map(plainValue);
	case 'kvlistValue':
		return plainAttributes(v.kvlistValue.values);
	case 'bytesValue':
		return Buffer.from(v.bytesValue).toString('base64');
	case undefined:
		return null;
	default:
		return v[v.value];
	}
}

function plainAttributes(kvs) {
	const o = {};
	for (const kv of kvs || [])
		o[kv.key] = plainValue(kv.value);
	return o;
}

// [{resource, scope, traceId, spanId, parentSpanId, name, kind, ...}, ...]
function flatSpans(req) {
	const out = [];
	for (const rs of req.resourceSpans || []) {
		const resource = plainAttributes(rs.resource && rs.resource.attributes);
		for (const ss of rs.scopeSpans || []) {
			const scope = {
				name: (ss.scope && ss.scope.name) || '',
				version: (ss.scope && ss.scope.version) || '',
			};
			for (const s of ss.spans || []) {
				const status = s.status || {};
				out.push({
					resource,
					scope,
					traceId: hex(s.traceId),
					spanId: hex(s.spanId),
					parentSpanId: hex(s.parentSpanId),
					name: s.name || '',
					kind: kindNames[s.kind || 0] || String(s.kind),
					startTimeUnixNano: u64(s.startTimeUnixNano),
					endTimeUnixNano: u64(s.endTimeUnixNano),
					attributes: plainAttributes(s.attributes),
					status: {
						code: codeNames[status.code || 0] || String(status.code),
						message: status.message || '',
					},
				});
			}
		}
	}
	return out;
}

// One flat record per data point, for tests to query with jq:
// [{resource, scope, name, description, unit, type, temporality,
//   isMonotonic, attributes, startTimeUnixNano, timeUnixNano, count, sum,
//   bucketCounts, explicitBounds, value}, ...]; 64-bit counts as numbers
// when they are safe integers.
function num64(v) {
	const n = Number(present(v) ? v : 0);
	return Number.isSafeInteger(n) ? n : u64(v);
}

function flatPoints(req) {
	const out = [];
	for (const rm of req.resourceMetrics || []) {
		const resource = plainAttributes(rm.resource && rm.resource.attributes);
		for (const sm of rm.scopeMetrics || []) {
			const scope = {
				name: (sm.scope && sm.scope.name) || '',
				version: (sm.scope && sm.scope.version) || '',
			};
			for (const m of sm.metrics || []) {
				const data = m.data && m[m.data];
				const base = {
					resource,
					scope,
					name: m.name || '',
					description: m.description || '',
					unit: m.unit || '',
					type: m.data || null,
					temporality: data ?
						temporalityNames[data.aggregationTemporality || 0] || String(data.aggregationTemporality) :
						null,
				};
				if (m.data === 'sum')
					base.isMonotonic = !!data.isMonotonic;
				for (const p of (data && data.dataPoints) || []) {
					const o = {
						...base,
						attributes: plainAttributes(p.attributes),
						startTimeUnixNano: u64(p.startTimeUnixNano),
						timeUnixNano: u64(p.timeUnixNano),
					};
					if (m.data === 'histogram') {
						o.count = num64(p.count);
						o.sum = present(p.sum) ? p.sum : null;
						o.bucketCounts = (p.bucketCounts || []).map(num64);
						o.explicitBounds = p.explicitBounds || [];
					} else {
						o.value = p.value === 'asInt' ? num64(p.asInt) : p.asDouble;
					}
					out.push(o);
				}
			}
		}
	}
	return out;
}

module.exports = {
	decodeRequest, encodeResponse, requestJson, flatSpans,
	decodeMetricsRequest, encodeMetricsResponse, flatPoints,
};
