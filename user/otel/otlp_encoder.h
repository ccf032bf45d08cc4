/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Spans -> the protobuf body of an OTLP/HTTP POST to /v1/traces (an
 * ExportTraceServiceRequest), with protobuf-c over user/otel/otlp.proto
 * (the reply is otlp_http's to read).
 */
#ifndef PODTAP_OTLP_ENCODER_H
#define PODTAP_OTLP_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "otel/span.h"

/*
 * Encodes spans[0..n) as one ExportTraceServiceRequest: one ResourceSpans per
 * distinct resource (same pointer or same content), in order of first
 * appearance, each with one ScopeSpans (scope "podtap", version
 * PODTAP_VERSION) holding its spans in their given order. Every resource
 * also gets service.name ("unknown_service" when empty) and
 * telemetry.sdk.{name,language,version}. Every string (span names,
 * attribute and resource keys and values) goes out in its sanitised form
 * (sanitize.h), whatever bytes the span holds.
 *
 * Returns 0 and a malloc'd buffer in *out (the caller frees it) of *out_len
 * bytes; -EINVAL if n is 0, -ENOMEM.
 */
int otlp_encode_traces(const struct span *const *spans, size_t n,
		       uint8_t **out, size_t *out_len);

#endif /* PODTAP_OTLP_ENCODER_H */
