/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Turns HTTP exchanges into OpenTelemetry spans: trace context at request
 * time (incoming traceparent/b3; else, for a server, the client span of
 * the same request when its caller is on this node; for a client, the
 * server request the same thread or greenlet is serving), the sampling
 * decision, the workload's resource, and the span handed to the exporter.
 * Runs on the event-loop thread.
 */
#ifndef PODTAP_TRACER_H
#define PODTAP_TRACER_H

#include <stdint.h>

#include "bpf/contract.h"
#include "http/http_parser.h"
#include "k8s/pod_resolver.h"
#include "otel/held_spans.h"
#include "otel/sampler.h"
#include "otel/span.h"
#include "otel/peer_links.h"
#include "otel/thread_table.h"

struct tracer;
struct otlp_exporter;

/* What the tracer needs to know about the connection of an exchange. */
struct tracer_conn {
	uint32_t pid;
	uint32_t tid;              /* thread of the current event */
	uint64_t unit;             /* the greenlet it runs; 0: none known */
	const char *comm;
	const char *peer_address;  /* "" when not an IP socket */
	const char *server_address; /* Host; a client's: else the peer */
	unsigned int server_port;
	const char *scheme;        /* "http" or "https" */
	const struct workload *w;
	const char *pod_uid;       /* "" outside pods */
	/* The connection's addresses (NULL: unknown), and whether it was seen
	 * from its start, so that stream positions are the TCP stream's. */
	const struct podtap_sock_addrs *addrs;
	bool whole_stream;
	uint64_t sock_id, gen;     /* the connection, as the kernel names it */
	/* A client request podtap put a trace header into: the ids the
	 * header names (NULL: none). Its bytes moved the rest of the stream
	 * on by stream_shift at the server's end. */
	const struct podtap_injected *injected;
	uint64_t stream_shift;
	/* A server request the kernel named itself (no trace header): its
	 * span takes these ids (NULL: none). */
	const struct podtap_serving_ids *kernel_named;
};

/* Told which server request each unit serves, so that the kernel can name
 * it in the unit's outgoing requests (capture/trace_inject.h). */
struct tracer_serving_ops {
	void (*serve)(void *ctx, uint32_t tid, uint64_t unit,
		      const struct trace_ctx *c);
	/* The request whose server span is span_id no longer is (answered),
	 * or has moved to another trace. */
	void (*done)(void *ctx, uint32_t tid, uint64_t unit,
		     const uint8_t *span_id);
	void (*retrace)(void *ctx, uint32_t tid, uint64_t unit,
			const uint8_t *span_id, const uint8_t *trace_id,
			bool sampled);
	void *ctx;
};

struct tracer_stats {
	struct thread_table_stats threads;
	struct peer_links_stats links;
	struct held_spans_stats held;
	uint64_t ambiguous;     /* client calls of a unit serving several */
	uint64_t linked;        /* server spans parented by a same-node
				 * client span */
	uint64_t linked_late;   /* the server had made calls before its
				 * caller's request was seen: left alone */
	uint64_t injected;      /* client spans named by an injected header */
	uint64_t injected_unparented; /* ... whose parent the daemon had put
				       * in another trace by then: none */
	uint64_t forwarded;     /* client requests forwarding the trace
				 * header their thread's server request
				 * came with (a proxy) */
};

/* Returns NULL on allocation failure. Nothing is built until an exporter
 * is set. */
struct tracer *tracer_new(const struct sampler *sampler,
			  const char *node_name,
			  const struct span_resource_attr *extra,
			  unsigned int n_extra);
/* The exporter releases resources through the tracer, so it is started
 * after it and set here. */
void tracer_set_exporter(struct tracer *t, struct otlp_exporter *exporter);
/* How the kernel is to sample the server spans it names. */
void tracer_trace_ctx_config(const struct tracer *t,
			     struct trace_ctx_config *out);
/* Injection is on: ops are told of every server request (copied). */
void tracer_set_serving_ops(struct tracer *t,
			    const struct tracer_serving_ops *ops);
void tracer_free(struct tracer *t); /* accepts NULL */
/* Exports the spans held for a caller not read yet, as they are: at stop,
 * before the exporter's last flush. */
void tracer_release_held(struct tracer *t);

/* At request-head time: decides the span's ids, parent and sampling, and
 * keeps them in req->user. */
void tracer_on_request(struct tracer *t, enum http_role role,
		       const struct tracer_conn *conn,
		       struct http_request *req);

/* The parser let go of a request tracer_on_request saw (answered or not). */
void tracer_on_request_end(struct tracer *t, enum http_role role,
			   const struct http_request *req);

/* At exchange end: builds the span and queues it if sampled. url.path is
 * taken from `target` (ex->target, or a prefix of it). */
void tracer_on_exchange(struct tracer *t, const struct tracer_conn *conn,
			const struct http_exchange *ex, const char *target,
			const char *route, uint64_t monotonic_to_unix_ns);

/* A process exited: its threads' server requests are forgotten, and its
 * resources can go once no queued span uses them. */
void tracer_process_exit(struct tracer *t, uint32_t pid);

/* Once a second or so: forgets server requests too old to parent, or of
 * threads that are gone. */
void tracer_tick(struct tracer *t, uint64_t now_ns);

/* Parenting and stitching figures (any thread). */
void tracer_get_stats(struct tracer *t, struct tracer_stats *out);

/* A workload is about to be freed: its resources are no longer found by
 * it (another workload may come to live at its address) and go once no
 * queued span uses them. */
void tracer_forget_workload(struct tracer *t, const struct workload *w);

/* Hands a resource back once the exporter is done with a span (any thread). */
void tracer_release_resource(void *ctx, const struct span_resource *r);

#endif /* PODTAP_TRACER_H */
