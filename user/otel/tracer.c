// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/tracer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_method.h"
#include "http/route.h"
#include "lib/clock.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "lib/str.h"
#include "otel/held_spans.h"
#include "otel/otlp_exporter.h"
#include "otel/thread_table.h"
#include "otel/trace_context.h"
#include "python/runtime_info.h"

/* Bounds: threads serving a request at once, and resources alive. */
#define MAX_THREADS 16384
#define MAX_RESOURCES 4096
/* A thread's server request older than this no longer parents anything
 * (the exchange was lost, or the thread id was reused). */
#define THREAD_CTX_TTL_NS (300 * NSEC_PER_SEC)
/* Threads checked per tick for having exited (one tgkill each): a full
 * table is gone through in 4 ticks. */
#define THREAD_CHECKS_PER_TICK 4096
/* Requests of one end of a same-node connection waiting for the other
 * end's: the other is normally microseconds away (a server takes a while
 * to accept when its backlog is long). */
#define MAX_PEER_LINKS 16384
#define PEER_LINK_TTL_NS (30 * NSEC_PER_SEC)
/* Server spans that ended while waiting for their same-node caller's
 * request are held this long before export (otel/held_spans.h), so that
 * a caller read late still links them; the bound makes the hold shorter
 * under load rather than the memory larger (256 spans: 900 KiB). */
#define MAX_HELD_SPANS 256
#define SPAN_HOLD_NS (200 * NSEC_PER_MSEC)

/* A request's trace context, kept in http_request.user (and, for a server
 * request, in the thread table while it is served). */
struct span_ctx {
	uint8_t trace_id[TRACE_ID_SIZE];
	uint8_t span_id[TRACE_SPAN_ID_SIZE];
	uint8_t parent_id[TRACE_SPAN_ID_SIZE]; /* zero: a root span */
	uint8_t sampled : 1;
	uint8_t valid : 1;
	uint8_t has_children : 1; /* a client call took it as parent */
	uint8_t kernel_named : 1; /* its ids are the kernel's (trace_inject.h) */
	/* A server's, waiting for its same-node caller's request to be read
	 * (its span is held at its end). */
	uint8_t awaiting_caller : 1;
	uint32_t tid;  /* server: the unit serving it, where it is kept */
	uint64_t unit;
};
_Static_assert(sizeof(struct span_ctx) <= HTTP_USER_DATA_SIZE,
	       "span context must fit in http_request.user");
_Static_assert(sizeof(struct span_ctx) <= THREAD_TABLE_DATA,
	       "span context must fit in a thread table entry");

/* A server request waiting for its same-node client's: where its context
 * is kept (the thread table entry of its unit, named by its span id), to be
 * made the client span's child when that comes. */
struct waiting_server {
	uint8_t span_id[TRACE_SPAN_ID_SIZE];
	uint32_t tid;
	uint32_t pad;
	uint64_t unit;
};
_Static_assert(sizeof(struct span_ctx) <= PEER_LINK_DATA &&
		       sizeof(struct waiting_server) <= PEER_LINK_DATA,
	       "contexts must fit in a peer link entry");

struct resource_entry {
	struct hnode node;
	const struct workload *w;
	uint32_t pid;
	bool dead;            /* process exited: free once refs is 0 */
	atomic_uint refs;     /* spans queued with this resource */
	struct span_resource r;
};

struct tracer {
	struct sampler sampler;
	struct otlp_exporter *exporter;
	char node_name[254];
	struct span_resource_attr extra[SPAN_RESOURCE_EXTRA_MAX];
	unsigned int n_extra;
	struct thread_table *threads; /* the server request each serves */
	struct peer_links *links;     /* same-node ends awaiting the other */
	/* The trace header each server request in flight came with, by its
	 * thread and the header's span id: a proxy forwards it as is. */
	struct peer_links *headers;
	struct held_spans *held; /* ended, awaiting their caller */
	_Atomic uint64_t ambiguous, linked, linked_late;
	_Atomic uint64_t injected, injected_unparented, forwarded;
	struct tracer_serving_ops serving; /* serve == NULL: no injection */
	pthread_mutex_t lock; /* resources: released from the exporter */
	struct hmap resources;
};

/* A held span let go unlinked: exported as it is. */
static void export_held(void *ctx, const struct span *s)
{
	struct tracer *t = ctx;

	otlp_exporter_enqueue(t->exporter, s);
}

struct tracer *tracer_new(const struct sampler *sampler,
			  const char *node_name,
			  const struct span_resource_attr *extra,
			  unsigned int n_extra)
{
	struct tracer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->threads = thread_table_new(MAX_THREADS, THREAD_CTX_TTL_NS, NULL);
	t->links = peer_links_new(MAX_PEER_LINKS, PEER_LINK_TTL_NS);
	t->headers = peer_links_new(MAX_PEER_LINKS, PEER_LINK_TTL_NS);
	t->held = held_spans_new(MAX_HELD_SPANS, SPAN_HOLD_NS, export_held, t);
	if (!t->threads || !t->links || !t->headers || !t->held ||
	    hmap_init(&t->resources)) {
		thread_table_free(t->threads);
		peer_links_free(t->links);
		peer_links_free(t->headers);
		held_spans_free(t->held);
		free(t);
		return NULL;
	}
	t->sampler = *sampler;
	snprintf(t->node_name, sizeof(t->node_name), "%s",
		 node_name ? node_name : "");
	if (n_extra > SPAN_RESOURCE_EXTRA_MAX)
		n_extra = SPAN_RESOURCE_EXTRA_MAX;
	if (n_extra)
		memcpy(t->extra, extra, n_extra * sizeof(*extra));
	t->n_extra = n_extra;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void tracer_set_exporter(struct tracer *t, struct otlp_exporter *exporter)
{
	t->exporter = exporter;
}

void tracer_trace_ctx_config(const struct tracer *t,
			     struct trace_ctx_config *out)
{
	out->on = true;
	out->parent_based = t->sampler.parent_based;
	out->root_sample_bound = sampler_root_bound(&t->sampler);
}

void tracer_set_serving_ops(struct tracer *t,
			    const struct tracer_serving_ops *ops)
{
	t->serving = *ops;
}

static void free_all(struct hmap *m, size_t offset)
{
	hmap_for_each(it, m) {
		free((char *)it.node - offset);
	}
	hmap_free(m);
}

void tracer_free(struct tracer *t)
{
	if (!t)
		return;
	thread_table_free(t->threads);
	peer_links_free(t->links);
	peer_links_free(t->headers);
	held_spans_free(t->held);
	free_all(&t->resources, offsetof(struct resource_entry, node));
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* --- threads ------------------------------------------------------------ */

static uint64_t span_key(const struct span_ctx *ctx)
{
	uint64_t k;

	memcpy(&k, ctx->span_id, sizeof(k));
	return k;
}

static void thread_set(struct tracer *t, uint32_t pid, uint64_t now_ns,
		       const struct span_ctx *ctx)
{
	thread_table_set(t->threads, ctx->tid, ctx->unit, pid, now_ns,
			 span_key(ctx), ctx, sizeof(*ctx));
}

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void tracer_tick(struct tracer *t, uint64_t now_ns)
{
	thread_table_tick(t->threads, now_ns, THREAD_CHECKS_PER_TICK);
	peer_links_tick(t->links, now_ns);
	peer_links_tick(t->headers, now_ns);
	held_spans_release_due(t->held, now_ns);
}

void tracer_release_held(struct tracer *t)
{
	held_spans_release_all(t->held);
}

void tracer_get_stats(struct tracer *t, struct tracer_stats *out)
{
	thread_table_get_stats(t->threads, &out->threads);
	peer_links_get_stats(t->links, &out->links);
	held_spans_get_stats(t->held, &out->held);
	out->ambiguous = atomic_load_explicit(&t->ambiguous,
					      memory_order_relaxed);
	out->linked = atomic_load_explicit(&t->linked, memory_order_relaxed);
	out->linked_late = atomic_load_explicit(&t->linked_late,
						memory_order_relaxed);
	out->injected = atomic_load_explicit(&t->injected,
					     memory_order_relaxed);
	out->injected_unparented = atomic_load_explicit(
		&t->injected_unparented, memory_order_relaxed);
	out->forwarded = atomic_load_explicit(&t->forwarded,
					      memory_order_relaxed);
}

/* --- trace context ------------------------------------------------------ */

/* The context an incoming request carries: traceparent, else b3, else the
 * X-B3-* headers. Returns false when there is none. */
static bool incoming_context(const struct http_request_headers *h,
			     struct trace_context *tc)
{
	struct b3_headers b3 = {
		.trace_id = { h->x_b3_traceid, strlen(h->x_b3_traceid) },
		.span_id = { h->x_b3_spanid, strlen(h->x_b3_spanid) },
		.sampled = { h->x_b3_sampled, strlen(h->x_b3_sampled) },
		.flags = { h->x_b3_flags, strlen(h->x_b3_flags) },
	};

	if (h->traceparent[0] &&
	    !trace_parse_traceparent(h->traceparent, strlen(h->traceparent), tc))
		return true;
	if (h->b3[0] && !trace_parse_b3(h->b3, strlen(h->b3), tc))
		return true;
	return !trace_parse_b3_headers(&b3, tc);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static enum sampler_parent parent_state(const struct trace_context *tc)
{
	switch (tc->sampling) {
	case TRACE_SAMPLED: return SAMPLER_PARENT_SAMPLED;
	case TRACE_NOT_SAMPLED: return SAMPLER_PARENT_NOT_SAMPLED;
	default: return SAMPLER_PARENT_NONE;
	}
}

/* A server span: continues the caller's trace, or starts one. Returns
 * whether the request named its caller. */
static bool server_context(struct tracer *t, const struct http_request *req,
			   struct span_ctx *ctx)
{
	struct trace_context tc = { 0 };
	enum sampler_parent parent = SAMPLER_PARENT_NONE;

	if (incoming_context(&req->headers, &tc)) {
		parent = parent_state(&tc);
		memcpy(ctx->trace_id, tc.trace_id, sizeof(ctx->trace_id));
		memcpy(ctx->parent_id, tc.span_id, sizeof(ctx->parent_id));
	}
	/* b3 can carry a decision without ids: a new trace keeps it. */
	if (all_zero(ctx->trace_id, sizeof(ctx->trace_id)))
		trace_new_trace_id(ctx->trace_id);
	trace_new_span_id(ctx->span_id);
	ctx->sampled = sampler_should_sample(&t->sampler, ctx->trace_id, parent);
	return !all_zero(ctx->parent_id, sizeof(ctx->parent_id));
}

/* A server span made the child of its same-node caller's client span. */
static void adopt_caller(struct tracer *t, const struct span_ctx *caller,
			 struct span_ctx *ctx)
{
	memcpy(ctx->trace_id, caller->trace_id, sizeof(ctx->trace_id));
	memcpy(ctx->parent_id, caller->span_id, sizeof(ctx->parent_id));
	ctx->sampled = sampler_should_sample(
		&t->sampler, ctx->trace_id,
		caller->sampled ? SAMPLER_PARENT_SAMPLED
				: SAMPLER_PARENT_NOT_SAMPLED);
	count(&t->linked);
}

static bool calls_sampled(struct tracer *t, const struct span_ctx *server);

/*
 * A client request that carries the very header a server request of the
 * same thread came with is a proxy forwarding it, not an app naming its
 * own call: its span gets an id of its own (the header's is the caller's
 * CLIENT span), under the proxy's SERVER span. False when it is not one.
 */
static bool forwarded_context(struct tracer *t, const struct tracer_conn *conn,
			      const struct trace_context *tc,
			      struct span_ctx *ctx)
{
	struct peer_link_key k;
	struct span_ctx server, *kept;
	uint64_t key;

	peer_link_key_of_header(conn->tid, tc->span_id, &k);
	if (!peer_links_take(t->headers, PEER_SERVER, &k, &server,
			     sizeof(server)) ||
	    memcmp(server.trace_id, tc->trace_id, sizeof(server.trace_id)))
		return false;
	memcpy(ctx->trace_id, server.trace_id, sizeof(ctx->trace_id));
	memcpy(ctx->parent_id, server.span_id, sizeof(ctx->parent_id));
	trace_new_span_id(ctx->span_id);
	ctx->sampled = calls_sampled(t, &server);
	memcpy(&key, server.span_id, sizeof(key));
	kept = thread_table_find(t->threads, server.tid, server.unit, key);
	if (kept)
		kept->has_children = 1;
	count(&t->forwarded);
	return true;
}

/*
 * A client span. The request's own traceparent names it (its parent-id is
 * this call's span id); else it is the child of the server request the
 * same thread is serving; else it starts a trace.
 */
static void client_context(struct tracer *t, const struct tracer_conn *conn,
			   const struct http_request *req, uint64_t now_ns,
			   struct span_ctx *ctx)
{
	bool ambiguous;
	struct span_ctx *serving =
		thread_table_get(t->threads, conn->tid, conn->unit, conn->pid,
				 now_ns, &ambiguous);
	struct trace_context tc = { 0 };

	/* A wrong parent is worse than none. */
	if (ambiguous)
		count(&t->ambiguous);
	if (serving)
		serving->has_children = 1;

	if (incoming_context(&req->headers, &tc) &&
	    !all_zero(tc.trace_id, sizeof(tc.trace_id)) &&
	    forwarded_context(t, conn, &tc, ctx))
		return;
	if (!all_zero(tc.trace_id, sizeof(tc.trace_id))) {
		memcpy(ctx->trace_id, tc.trace_id, sizeof(ctx->trace_id));
		memcpy(ctx->span_id, tc.span_id, sizeof(ctx->span_id));
		if (serving && !memcmp(serving->trace_id, tc.trace_id,
				       sizeof(tc.trace_id)))
			memcpy(ctx->parent_id, serving->span_id,
			       sizeof(ctx->parent_id));
		ctx->sampled = sampler_should_sample(&t->sampler, ctx->trace_id,
						     parent_state(&tc));
		return;
	}
	trace_new_span_id(ctx->span_id);
	if (serving) {
		memcpy(ctx->trace_id, serving->trace_id,
		       sizeof(ctx->trace_id));
		memcpy(ctx->parent_id, serving->span_id,
		       sizeof(ctx->parent_id));
		ctx->sampled = sampler_should_sample(
			&t->sampler, ctx->trace_id,
			serving->sampled ? SAMPLER_PARENT_SAMPLED
					 : SAMPLER_PARENT_NOT_SAMPLED);
		return;
	}
	trace_new_trace_id(ctx->trace_id);
	ctx->sampled = sampler_should_sample(&t->sampler, ctx->trace_id,
					     SAMPLER_PARENT_NONE);
}

/* A collector on this node serving podtap's own exports: a span for each
 * would be exported in turn, a loop that never ends; and their client end,
 * podtap itself, is never seen. */
static bool own_export(const struct http_request *req)
{
	return !strncmp(req->headers.user_agent, "podtap/", 7);
}

/* Same-node stitching (otel/peer_links.h): the key of this request at
 * its end of the connection; false when it has none. */
static bool link_key(const struct tracer_conn *conn, enum peer_end end,
		     const struct http_request *req, struct peer_link_key *k)
{
	return conn->whole_stream && conn->addrs && !own_export(req) &&
	       peer_link_key_of(end, conn->addrs,
				req->stream_pos + conn->stream_shift, k);
}

/* The sampling decision for the client spans of a server span's calls. */
static bool calls_sampled(struct tracer *t, const struct span_ctx *server)
{
	return sampler_should_sample(&t->sampler, server->trace_id,
				     server->sampled
					     ? SAMPLER_PARENT_SAMPLED
					     : SAMPLER_PARENT_NOT_SAMPLED);
}

/* A server span moved to its caller's trace: so does the kernel's record. */
static void retrace(struct tracer *t, const struct span_ctx *server)
{
	if (t->serving.retrace)
		t->serving.retrace(t->serving.ctx, server->tid, server->unit,
				   server->span_id, server->trace_id,
				   calls_sampled(t, server));
}

/*
 * Injection: the kernel may name this request in the unit's calls while
 * the unit serves only it, and its body's end is known (the kernel checks
 * that the unit's reads stay inside it).
 */
static void publish_serving(struct tracer *t, const struct tracer_conn *conn,
			    const struct http_request *req,
			    const struct span_ctx *ctx)
{
	struct trace_ctx k = { 0 };
	bool ambiguous;

	if (!t->serving.serve || ctx->kernel_named)
		return;
	thread_table_get(t->threads, ctx->tid, ctx->unit, conn->pid,
			 req->start_ns, &ambiguous);
	if (ambiguous || !req->end_pos || !conn->sock_id) {
		/* Whatever the kernel has for the unit is another's. */
		t->serving.done(t->serving.ctx, ctx->tid, ctx->unit, NULL);
		return;
	}
	memcpy(k.trace_id, ctx->trace_id, sizeof(k.trace_id));
	memcpy(k.span_id, ctx->span_id, sizeof(k.span_id));
	k.sock_id = conn->sock_id;
	k.gen = conn->gen;
	k.head_pos = req->stream_pos;
	k.end_pos = req->end_pos;
	k.sampled = calls_sampled(t, ctx);
	t->serving.serve(t->serving.ctx, ctx->tid, ctx->unit, &k);
}

static void server_request(struct tracer *t, const struct tracer_conn *conn,
			   struct http_request *req, struct span_ctx *ctx)
{
	struct peer_link_key k;
	struct span_ctx caller;
	bool named;

	if (conn->kernel_named) {
		/* The kernel names this span in the unit's calls already. */
		memcpy(ctx->trace_id, conn->kernel_named->trace_id,
		       sizeof(ctx->trace_id));
		memcpy(ctx->span_id, conn->kernel_named->span_id,
		       sizeof(ctx->span_id));
		memcpy(ctx->parent_id, conn->kernel_named->parent_id,
		       sizeof(ctx->parent_id));
		ctx->sampled = !!conn->kernel_named->sampled;
		ctx->kernel_named = 1;
		named = !all_zero(ctx->parent_id, sizeof(ctx->parent_id));
	} else {
		named = server_context(t, req, ctx);
	}

	ctx->tid = conn->tid;
	ctx->unit = conn->unit;
	if (link_key(conn, PEER_SERVER, req, &k)) {
		if (peer_links_take(t->links, PEER_CLIENT, &k, &caller,
				    sizeof(caller))) {
			/* A header the caller sent names the same span. */
			if (!named) {
				adopt_caller(t, &caller, ctx);
				retrace(t, ctx);
			}
		} else if (!named) {
			struct waiting_server w = { .tid = ctx->tid,
						    .unit = ctx->unit };

			memcpy(w.span_id, ctx->span_id, sizeof(w.span_id));
			peer_links_put(t->links, PEER_SERVER, &k, req->start_ns,
				       &w, sizeof(w));
			ctx->awaiting_caller = 1;
		}
	}
	if (named) {
		peer_link_key_of_header(ctx->tid, ctx->parent_id, &k);
		peer_links_put(t->headers, PEER_SERVER, &k, req->start_ns, ctx,
			       sizeof(*ctx));
	}
	thread_set(t, conn->pid, req->start_ns, ctx);
	publish_serving(t, conn, req, ctx);
}

/* A held server span, ended before its caller's request was read: it
 * becomes that client span's child, and goes (unless no longer sampled). */
static bool link_held_server(struct tracer *t, const struct waiting_server *w,
			     const struct span_ctx *client)
{
	struct span *s = held_spans_take(t->held, w->span_id);
	struct span_ctx server = { 0 };

	if (!s)
		return false;
	adopt_caller(t, client, &server);
	memcpy(s->trace_id, server.trace_id, sizeof(s->trace_id));
	memcpy(s->parent_span_id, server.parent_id, sizeof(s->parent_span_id));
	if (server.sampled)
		otlp_exporter_enqueue(t->exporter, s);
	else
		tracer_release_resource(t, s->resource);
	return true;
}

/*
 * The server end of this client request was read first (the two ends' events
 * can come in either order): it becomes this span's child now, unless it
 * already made calls of its own, which took its first trace id. A server
 * that has answered already is found among the held spans.
 */
static void link_waiting_server(struct tracer *t,
				const struct waiting_server *w,
				const struct span_ctx *client)
{
	uint64_t key;
	struct span_ctx *server;

	memcpy(&key, w->span_id, sizeof(key));
	server = thread_table_find(t->threads, w->tid, w->unit, key);
	if (!server) {
		if (!link_held_server(t, w, client))
			count(&t->linked_late);
		return;
	}
	if (server->has_children) {
		count(&t->linked_late);
		return;
	}
	adopt_caller(t, client, server);
	server->awaiting_caller = 0;
	retrace(t, server);
}

/*
 * A client span whose ids the kernel chose and put in the request
 * (capture/trace_inject.h). Its parent is the server span the kernel named,
 * unless the daemon has since moved that span to another trace (a
 * same-node caller seen late): then none, as the callee's trace has no
 * such parent.
 */
static void injected_context(struct tracer *t, const struct tracer_conn *conn,
			     struct span_ctx *ctx)
{
	const struct podtap_injected *in = conn->injected;
	struct span_ctx *parent = NULL;
	uint64_t key;

	memcpy(ctx->trace_id, in->trace_id, sizeof(ctx->trace_id));
	memcpy(ctx->span_id, in->span_id, sizeof(ctx->span_id));
	ctx->sampled = !!in->sampled;
	count(&t->injected);
	if (all_zero(in->parent_id, sizeof(in->parent_id)))
		return;
	memcpy(&key, in->parent_id, sizeof(key));
	parent = thread_table_find(t->threads, conn->tid, conn->unit, key);
	if (parent && memcmp(parent->trace_id, in->trace_id,
			     sizeof(in->trace_id))) {
		count(&t->injected_unparented);
		return;
	}
	if (parent)
		parent->has_children = 1;
	memcpy(ctx->parent_id, in->parent_id, sizeof(ctx->parent_id));
}

static void client_request(struct tracer *t, const struct tracer_conn *conn,
			   struct http_request *req, struct span_ctx *ctx)
{
	struct peer_link_key k;
	struct waiting_server w;

	if (conn->injected) {
		/* The callee reads this context: nothing to stitch. */
		injected_context(t, conn, ctx);
		return;
	}
	client_context(t, conn, req, req->start_ns, ctx);
	if (!link_key(conn, PEER_CLIENT, req, &k))
		return;
	if (peer_links_take(t->links, PEER_SERVER, &k, &w, sizeof(w)))
		link_waiting_server(t, &w, ctx);
	else
		peer_links_put(t->links, PEER_CLIENT, &k, req->start_ns, ctx,
			       sizeof(*ctx));
}

void tracer_on_request(struct tracer *t, enum http_role role,
		       const struct tracer_conn *conn,
		       struct http_request *req)
{
	struct span_ctx *ctx = (struct span_ctx *)req->user;

	if (!t->exporter)
		return;
	if (role == HTTP_ROLE_SERVER)
		server_request(t, conn, req, ctx);
	else
		client_request(t, conn, req, ctx);
	ctx->valid = 1;
}

void tracer_on_request_end(struct tracer *t, enum http_role role,
			   const struct http_request *req)
{
	const struct span_ctx *ctx = (const struct span_ctx *)req->user;

	if (!t->exporter || !ctx->valid || role != HTTP_ROLE_SERVER)
		return;
	thread_table_clear(t->threads, ctx->tid, ctx->unit, span_key(ctx));
	if (!all_zero(ctx->parent_id, sizeof(ctx->parent_id))) {
		struct peer_link_key k;
		struct span_ctx gone;

		/* Answered: a header it came with is no longer forwarded. */
		peer_link_key_of_header(ctx->tid, ctx->parent_id, &k);
		peer_links_take(t->headers, PEER_SERVER, &k, &gone,
				sizeof(gone));
	}
	if (t->serving.done)
		t->serving.done(t->serving.ctx, ctx->tid, ctx->unit,
				ctx->span_id);
}

/* --- resources ---------------------------------------------------------- */

struct resource_key {
	const struct workload *w;
	uint32_t pid;
};

static bool resource_eq(const struct hnode *n, const void *key)
{
	const struct resource_entry *e =
		hmap_entry(n, struct resource_entry, node);
	const struct resource_key *k = key;

	return e->w == k->w && e->pid == k->pid && !e->dead;
}

static uint64_t resource_hash(const struct resource_key *k)
{
	return hash_u64((uintptr_t)k->w ^ ((uint64_t)k->pid << 40));
}

/* OTEL_SERVICE_NAME from the process's own environment, if set. */
static bool env_service_name(uint32_t pid, char *out, size_t size)
{
	static const char key[] = "OTEL_SERVICE_NAME=";
	char path[64], buf[65536];
	ssize_t n;
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%u/environ", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf; p < buf + n && !found; p += strlen(p) + 1) {
		if (!strncmp(p, key, sizeof(key) - 1) && p[sizeof(key) - 1]) {
			snprintf(out, size, "%s", p + sizeof(key) - 1);
			found = true;
		}
	}
	return found;
}

/* The base name of /proc/PID/exe, as process.executable.name. */
static bool executable_name(uint32_t pid, char *out, size_t size)
{
	char path[64], target[4096];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(out, size, "%s", base ? base + 1 : target);
	return true;
}

static void fill_resource(struct tracer *t, const struct tracer_conn *conn,
			  struct span_resource *r)
{
	const struct workload *w = conn->w;
	struct runtime_info rt;

	if (!env_service_name(conn->pid, r->service_name,
			      sizeof(r->service_name))) {
		if (w->in_pod && w->container[0])
			snprintf(r->service_name, sizeof(r->service_name), "%s",
				 w->container);
		else if (!executable_name(conn->pid, r->service_name,
					  sizeof(r->service_name)))
			snprintf(r->service_name, sizeof(r->service_name), "%s",
				 conn->comm);
	}
	snprintf(r->k8s_namespace_name, sizeof(r->k8s_namespace_name), "%s",
		 w->namespace);
	snprintf(r->k8s_pod_name, sizeof(r->k8s_pod_name), "%s", w->pod);
	snprintf(r->k8s_pod_uid, sizeof(r->k8s_pod_uid), "%s",
		 conn->pod_uid ? conn->pod_uid : "");
	snprintf(r->k8s_container_name, sizeof(r->k8s_container_name), "%s",
		 w->container);
	snprintf(r->k8s_node_name, sizeof(r->k8s_node_name), "%s",
		 t->node_name);
	snprintf(r->k8s_deployment_name, sizeof(r->k8s_deployment_name), "%s",
		 w->deployment);
	snprintf(r->k8s_statefulset_name, sizeof(r->k8s_statefulset_name),
		 "%s", w->statefulset);
	snprintf(r->k8s_daemonset_name, sizeof(r->k8s_daemonset_name), "%s",
		 w->daemonset);
	r->process_pid = conn->pid;
	if (runtime_info_read(conn->pid, &rt)) {
		snprintf(r->process_runtime_name, sizeof(r->process_runtime_name),
			 "%s", rt.name);
		snprintf(r->process_runtime_version,
			 sizeof(r->process_runtime_version), "%s", rt.version);
	}
	memcpy(r->extra, t->extra, t->n_extra * sizeof(t->extra[0]));
	r->n_extra = t->n_extra;
}

/* A referenced resource for (workload, pid), created on first use. */
static struct resource_entry *resource_get(struct tracer *t,
					   const struct tracer_conn *conn)
{
	struct resource_key k = { conn->w, conn->pid };
	uint64_t h = resource_hash(&k);
	struct resource_entry *e = NULL;
	struct hnode *n;

	pthread_mutex_lock(&t->lock);
	n = hmap_find(&t->resources, h, &k, resource_eq);
	if (n) {
		e = hmap_entry(n, struct resource_entry, node);
	} else if (t->resources.count < MAX_RESOURCES &&
		   (e = calloc(1, sizeof(*e)))) {
		e->w = conn->w;
		e->pid = conn->pid;
		hmap_insert(&t->resources, &e->node, h);
		pthread_mutex_unlock(&t->lock);
		/* Filled outside the lock: only this thread sees it so far,
		 * and /proc reads are slow. */
		fill_resource(t, conn, &e->r);
		pthread_mutex_lock(&t->lock);
	}
	if (e)
		atomic_fetch_add(&e->refs, 1);
	pthread_mutex_unlock(&t->lock);
	return e;
}

void tracer_release_resource(void *ctx, const struct span_resource *r)
{
	struct tracer *t = ctx;
	struct resource_entry *e = (struct resource_entry *)
		((const char *)r - offsetof(struct resource_entry, r));

	pthread_mutex_lock(&t->lock);
	if (atomic_fetch_sub(&e->refs, 1) == 1 && e->dead) {
		hmap_remove(&t->resources, &e->node);
		free(e);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Marks the resources `match` selects dead, freeing those no queued span
 * holds. */
static void bury(struct tracer *t,
		 bool (*match)(const struct resource_entry *, const void *),
		 const void *arg)
{
	pthread_mutex_lock(&t->lock);
	hmap_for_each(it, &t->resources) {
		struct resource_entry *e =
			hmap_entry(it.node, struct resource_entry, node);
		if (!match(e, arg))
			continue;
		e->dead = true;
		if (atomic_load(&e->refs) == 0) {
			hmap_remove(&t->resources, &e->node);
			free(e);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static bool of_pid(const struct resource_entry *e, const void *pid)
{
	return e->pid == *(const uint32_t *)pid;
}

static bool of_workload(const struct resource_entry *e, const void *w)
{
	return e->w == w;
}

void tracer_process_exit(struct tracer *t, uint32_t pid)
{
	thread_table_process_exit(t->threads, pid);
	bury(t, of_pid, &pid);
}

void tracer_forget_workload(struct tracer *t, const struct workload *w)
{
	bury(t, of_workload, w);
}

/* --- spans -------------------------------------------------------------- */

static void fill_span(struct span *s, const struct tracer_conn *conn,
		      const struct http_exchange *ex, const char *target,
		      const char *route, const struct span_ctx *ctx,
		      uint64_t mono_to_unix)
{
	const char *method = http_method_label(ex->method);
	bool server = ex->role == HTTP_ROLE_SERVER;
	size_t n;

	memcpy(s->trace_id, ctx->trace_id, sizeof(s->trace_id));
	memcpy(s->span_id, ctx->span_id, sizeof(s->span_id));
	memcpy(s->parent_span_id, ctx->parent_id, sizeof(s->parent_span_id));
	/* HTTP semantic conventions: "{method} {route}", and "HTTP" for a
	 * method outside the known set. */
	n = str_copy(s->name, sizeof(s->name),
		     strcmp(method, "_OTHER") ? method : "HTTP");
	if (n + 1 < sizeof(s->name)) {
		s->name[n] = ' ';
		str_copy(s->name + n + 1, sizeof(s->name) - n - 1, route);
	}
	s->kind = server ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT;
	s->status = ex->status >= 500 || (!server && ex->status >= 400)
			    ? SPAN_STATUS_ERROR
			    : SPAN_STATUS_UNSET;
	s->start_unix_ns = ex->start_ns + mono_to_unix;
	s->end_unix_ns = ex->end_ns + mono_to_unix;
	str_copy(s->http_request_method, sizeof(s->http_request_method),
		 method);
	/* Neither userinfo, host, query, fragment nor path parameters, and
	 * no e-mail address or token: url.query and url.full are never
	 * exported. */
	route_url_path(target, s->url_path, sizeof(s->url_path));
	str_copy(s->url_scheme, sizeof(s->url_scheme), conn->scheme);
	str_copy(s->http_route, sizeof(s->http_route), route);
	s->http_response_status_code = ex->status;
	str_copy(s->network_peer_address, sizeof(s->network_peer_address),
		 conn->peer_address);
	str_copy(s->user_agent_original, sizeof(s->user_agent_original),
		 ex->request->headers.user_agent);
	str_copy(s->server_address, sizeof(s->server_address),
		 conn->server_address);
	s->server_port = conn->server_port;
	str_copy(s->client_address, sizeof(s->client_address),
		 server ? conn->peer_address : "");
	s->resource = NULL;
}

void tracer_on_exchange(struct tracer *t, const struct tracer_conn *conn,
			const struct http_exchange *ex, const char *target,
			const char *route, uint64_t monotonic_to_unix_ns)
{
	const struct span_ctx *ctx;
	struct resource_entry *res;
	struct span *span;
	bool hold;

	if (!t->exporter || !ex->request)
		return;
	held_spans_release_due(t->held, ex->end_ns);
	ctx = (const struct span_ctx *)ex->request->user;
	if (!ctx->valid)
		return;
	/* A server's context may have been linked to its caller since. */
	if (ex->role == HTTP_ROLE_SERVER) {
		const struct span_ctx *kept = thread_table_find(
			t->threads, ctx->tid, ctx->unit, span_key(ctx));

		if (kept)
			ctx = kept;
	}
	if (!ctx->sampled || own_export(ex->request))
		return;
	res = resource_get(t, conn);
	if (!res)
		return;
	/* A server whose caller may yet be read is held a while first.
	 * Else the span is built in the queue's slot; on a full queue the
	 * exporter counts the drop, and the resource is handed back here. */
	hold = ex->role == HTTP_ROLE_SERVER && ctx->awaiting_caller &&
	       !ctx->has_children;
	span = hold ? held_spans_add(t->held, ex->end_ns)
		    : otlp_exporter_reserve(t->exporter);
	if (!span) {
		tracer_release_resource(t, &res->r);
		return;
	}
	/* Every field is set: no 2.5 KiB cleared per span first. */
	fill_span(span, conn, ex, target, route, ctx, monotonic_to_unix_ns);
	span->resource = &res->r;
	if (!hold)
		otlp_exporter_commit(t->exporter);
}
