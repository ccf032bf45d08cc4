// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/server_address.h"
#include "lib/clock.h"
#include "lib/compat.h"
#include "lib/log.h"
#include "prometheus/flask_exporter.h"

/* Connections quiet this long are checked for a vanished process. */
#define IDLE_NS (60ULL * NSEC_PER_SEC)
/* Series expire within a tenth of the TTL of their time (cgroups are
 * stat'ed then), checked at least every second and at most every 30 s. */
#define EXPIRY_CHECK_MIN_NS (1ULL * NSEC_PER_SEC)
#define EXPIRY_CHECK_MAX_NS (30ULL * NSEC_PER_SEC)
/* Threads whose greenlet is known (greenlet switch events). */
#define MAX_GREENLET_THREADS 65536

/* What the parser callbacks need to know about the connection. */
struct exchange_ctx {
	struct agent *agent;
	struct conn *conn;
	uint32_t tid; /* thread of the event being parsed */
	uint64_t unit; /* the greenlet it ran (python/greenlets.h); 0: none */
	/* What an exchange cut short now is counted as: how the connection
	 * ended, while it ends; else its times disagreed. */
	enum stats_incomplete incomplete;
	uint64_t ts_ns; /* of the event being parsed, or the end */
};

/*
 * The parser keeps HTTP_PATH_MAX - 1 bytes of a target: one that long was
 * likely cut, and when the cut fell in its path the last segment may be
 * the start of a token too short now to look like one. That piece is
 * dropped: the route and url.path end at the '/' before it.
 */
static const char *whole_segments(const char *target, char *buf, size_t size)
{
	size_t len = strlen(target);
	const char *slash;

	if (len < HTTP_PATH_MAX - 1 || target[strcspn(target, "?#")])
		return target;
	slash = strrchr(target, '/');
	if (!slash)
		return target;
	snprintf(buf, size, "%.*s", (int)(slash - target + 1), target);
	return buf;
}

static void on_exchange(void *ctx, const struct http_exchange *ex)
{
	struct exchange_ctx *x = ctx;
	struct agent *a = x->agent;
	char route[ROUTE_MAX], server[256], cut[HTTP_PATH_MAX];
	const char *target = whole_segments(ex->target, cut, sizeof(cut));
	const char *pod_uid;
	struct metrics_exchange m = {
		.side = ex->role == HTTP_ROLE_CLIENT ? METRICS_CLIENT
						     : METRICS_SERVER,
		.method = ex->method,
		.route = route,
		.status = ex->status,
		.scheme = x->conn->tls ? "https" : "http",
		.server_address = server,
	};

	server[0] = '\0';
	stats_add(m.side == METRICS_CLIENT ? &a->stats.exchanges_client
					   : &a->stats.exchanges_server,
		  1);
	m.w = pod_resolver_lookup(a->pods, x->conn->cgroup_id, x->conn->pid,
				  x->conn->comm, ex->end_ns, &pod_uid);
	route_normalise(a->routes, target, route, sizeof(route));
	/* Servers' own names only go on spans. */
	if (m.side == METRICS_CLIENT || a->tracer)
		server_address_of(x->conn, ex, server, sizeof(server),
				  &m.server_port);
	m.seconds = ex->end_ns > ex->start_ns
			    ? (double)(ex->end_ns - ex->start_ns) / 1e9
			    : 0;
	metrics_record(a->metrics, &m);
	/* Per pod, as gunicorn's own statsd client would send it. */
	if (a->statsd && m.side == METRICS_SERVER && m.w->in_pod)
		statsd_request(a->statsd, m.w, ex->status, m.seconds);
	if (a->tracer) {
		char peer[64];
		struct tracer_conn tc = { .pid = x->conn->pid, .tid = x->tid,
					  .comm = x->conn->comm,
					  .peer_address = peer,
					  .server_address = server,
					  .server_port = m.server_port,
					  .scheme = m.scheme,
					  .w = m.w, .pod_uid = pod_uid };

		sock_addr_format(&x->conn->addrs, x->conn->addrs.remote_addr,
				 peer, sizeof(peer));
		tracer_on_exchange(a->tracer, &tc, ex, target, route,
				   a->mono_to_unix_ns);
	}
}

static void on_request(void *ctx, struct http_request *req)
{
	struct exchange_ctx *x = ctx;
	struct conn *c = x->conn;
	enum http_role role = http_conn_role(c->http);
	struct tracer_conn tc;

	if (role == HTTP_ROLE_SERVER) {
		c->serving_tid = x->tid;
		server_load_request_start(
			x->agent->load,
			pod_resolver_lookup(x->agent->pods, c->cgroup_id, c->pid,
					    c->comm, req->start_ns, NULL),
			c->pid, x->tid, req->start_ns);
	}
	if (!x->agent->tracer)
		return;
	tc = (struct tracer_conn){
		.pid = c->pid, .tid = x->tid, .unit = x->unit,
		.comm = c->comm,
		.addrs = c->addrs.family ? &c->addrs : NULL,
		.whole_stream = c->whole_stream,
		.sock_id = c->sock_id, .gen = c->gen,
		.stream_shift = c->inject_shift,
	};
	if (role == HTTP_ROLE_CLIENT && c->has_injected &&
	    c->injected_pos == req->stream_pos)
		tc.injected = &c->injected;
	if (role == HTTP_ROLE_SERVER && c->has_serving &&
	    c->serving_pos == req->stream_pos)
		tc.kernel_named = &c->serving;
	tracer_on_request(x->agent->tracer, role, &tc, req);
	if (tc.injected) {
		c->has_injected = false;
		c->inject_shift += c->injected.header_bytes;
	}
	if (tc.kernel_named)
		c->has_serving = false;
}

static void on_request_end(void *ctx, const struct http_request *req)
{
	struct exchange_ctx *x = ctx;
	enum http_role role = http_conn_role(x->conn->http);

	if (role == HTTP_ROLE_SERVER)
		server_load_request_end(x->agent->load, x->conn->pid,
					x->conn->serving_tid, x->ts_ns);
	if (x->agent->tracer)
		tracer_on_request_end(x->agent->tracer, role, req);
}

static void on_parse_error(void *ctx, enum http_parse_error err)
{
	struct exchange_ctx *x = ctx;

	if (err >= 0 && err < HTTP_ERR__COUNT)
		stats_add(&x->agent->stats.parse_errors[err], 1);
	if (err == HTTP_ERR_INCOMPLETE)
		stats_add(&x->agent->stats.incomplete
				   [http_conn_role(x->conn->http) ==
				    HTTP_ROLE_CLIENT][x->incomplete],
			  1);
}

static void on_unmeasured(void *ctx, enum http_unmeasured why)
{
	struct exchange_ctx *x = ctx;
	bool client = http_conn_role(x->conn->http) == HTTP_ROLE_CLIENT;

	if (why >= 0 && why < HTTP_UNMEASURED__COUNT)
		stats_add(&x->agent->stats.unmeasured[client][why], 1);
}

static const struct http_conn_callbacks callbacks = {
	.on_exchange = on_exchange,
	.on_error = on_parse_error,
	.on_request = on_request,
	.on_request_end = on_request_end,
	.on_unmeasured = on_unmeasured,
};

static enum stats_incomplete incomplete_reason(enum conn_end why)
{
	switch (why) {
	case CONN_END_REPLACED: return INCOMPLETE_CLOSE_LOST;
	case CONN_END_SWEPT: return INCOMPLETE_EXIT_LOST;
	case CONN_END_SHUTDOWN: return INCOMPLETE_SHUTDOWN;
	default: return INCOMPLETE_CLOSED;
	}
}

static void on_conn_end(void *ctx, struct conn *c, enum conn_end why,
			uint64_t ts_ns)
{
	struct agent *a = ctx;
	struct exchange_ctx x = { a, c, 0, 0, incomplete_reason(why), ts_ns };

	/* Only a close podtap saw ends what was in flight: an exchange ended
	 * by podtap (stopping, replacing, sweeping) is incomplete, never
	 * finished at a made-up time. */
	if (c->http && !c->ignored && conn_end_seen(why))
		http_conn_close(c->http, ts_ns, &callbacks, &x);
	else if (c->http && !c->ignored)
		http_conn_abandon(c->http, &callbacks, &x);
	/* A process that exits closes its sockets without close(): the
	 * kernel's entries would linger until LRU eviction. */
	if (a->ending_process && a->capture)
		capture_forget_conn(a->capture, c->sock_id, c->gen);
}

static enum http_role role_of(uint8_t role)
{
	switch (role) {
	case PODTAP_ROLE_SERVER: return HTTP_ROLE_SERVER;
	case PODTAP_ROLE_CLIENT: return HTTP_ROLE_CLIENT;
	default: return HTTP_ROLE_UNKNOWN;
	}
}

static struct conn *track(struct agent *a, const struct podtap_event *ev)
{
	bool full;
	struct conn *c = conn_table_get(a->conns, ev->sock_id, ev->conn_gen,
					ev->pid, role_of(ev->role), &full);

	if (!c) {
		if (full)
			stats_add(&a->stats.conns_untracked, 1);
		return NULL;
	}
	c->cgroup_id = ev->cgroup_id;
	c->last_seen_ns = ev->ts_ns;
	if (ev->flags & PODTAP_EVF_TLS)
		c->tls = true;
	/* Seen from accept or connect: its positions count from the start. */
	c->whole_stream = ev->role != PODTAP_ROLE_UNKNOWN;
	memcpy(c->comm, ev->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	return c;
}

/* Once the parser knows what a connection speaks: count it, and for a
 * non-HTTP one stop the kernel from sending its bytes at all. */
static void classify(struct agent *a, struct conn *c)
{
	switch (http_conn_protocol(c->http)) {
	case HTTP_PROTO_HTTP:
		if (!c->counted_http) {
			c->counted_http = true;
			stats_add(&a->stats.conns_http, 1);
		}
		break;
	case HTTP_PROTO_OTHER:
		c->ignored = true;
		http_conn_free(c->http);
		c->http = NULL;
		stats_add(&a->stats.conns_other, 1);
		if (a->capture)
			capture_ignore_conn(a->capture, c->sock_id, c->gen);
		break;
	default:
		break;
	}
}

static void handle_data(struct agent *a, const struct podtap_event *ev)
{
	struct conn *c = track(a, ev);
	struct exchange_ctx x = { a, c, ev->tid, 0, INCOMPLETE_MISORDERED,
				  ev->ts_ns };

	if (!c || c->ignored)
		return;
	if (a->tracer)
		x.unit = greenlets_current(a->greenlets, ev->pid, ev->tid);
	http_conn_data(c->http,
		       ev->direction == PODTAP_DIR_EGRESS ? HTTP_DIR_EGRESS
							  : HTTP_DIR_INGRESS,
		       ev->stream_pos, (const uint8_t *)ev->payload,
		       ev->captured, ev->byte_count, ev->ts_ns, &callbacks, &x);
	classify(a, c);
}

static void handle_gc(struct agent *a, const struct podtap_event *ev)
{
	const struct podtap_gc *gc = (const void *)ev->payload;
	char comm[PODTAP_COMM_LEN];

	if (ev->captured < sizeof(*gc))
		return;
	memcpy(comm, ev->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	python_metrics_gc(a->python_metrics,
			  pod_resolver_lookup(a->pods, ev->cgroup_id, ev->pid,
					      comm, ev->ts_ns, NULL),
			  gc->generation, (double)gc->duration_ns / 1e9);
}

void agent_python_process(void *ctx, const struct python_process *p,
			  bool alive)
{
	struct agent *a = ctx;
	const struct workload *w;

	if (!alive) {
		w = python_metrics_process_end(a->python_metrics, p->pid);
		if (w)
			pod_resolver_unhold(a->pods, w);
		return;
	}
	w = pod_resolver_lookup(a->pods, p->cgroup_id, p->pid, p->comm,
				monotonic_ns(), NULL);
	if (python_metrics_process_start(a->python_metrics, p->pid, w, p->info))
		pod_resolver_hold(a->pods, w);
}

/* An accepted connection: its wait in the accept queue, for its pod. */
static void accepted(struct agent *a, const struct conn *c,
		     const struct podtap_event *ev)
{
	const struct podtap_open *open = (const void *)ev->payload;

	server_load_accepted(
		a->load,
		pod_resolver_lookup(a->pods, c->cgroup_id, c->pid, c->comm,
				    ev->ts_ns, NULL),
		c->pid, ev->captured >= sizeof(*open) ? open->accept_wait_ns : 0);
}

/* Ids the kernel chose for the request that starts at ev->stream_pos on
 * its connection: kept there until the parser reads that request's head
 * (on_request). */
static void keep_kernel_ids(const struct podtap_event *ev, void *ids,
			    size_t len, uint64_t *pos, bool *has)
{
	if (ev->captured < len)
		return;
	memcpy(ids, ev->payload, len);
	*pos = ev->stream_pos;
	*has = true;
}

void agent_handle_event(void *ctx, const struct podtap_event *ev, size_t size)
{
	struct agent *a = ctx;
	struct conn *c;

	if (ev->kind < STATS_EVENT_KINDS)
		stats_add(&a->stats.events[ev->kind], 1);
	stats_add(&a->stats.event_bytes, size);
	switch (ev->kind) {
	case PODTAP_EV_OPEN:
		c = track(a, ev);
		if (c && ev->captured >= sizeof(c->addrs))
			memcpy(&c->addrs, ev->payload, sizeof(c->addrs));
		if (c && ev->role == PODTAP_ROLE_SERVER)
			accepted(a, c, ev);
		break;
	case PODTAP_EV_DATA:
		handle_data(a, ev);
		break;
	case PODTAP_EV_CLOSE:
		c = conn_table_find(a->conns, ev->sock_id, ev->conn_gen);
		if (c)
			conn_table_end(a->conns, c, ev->ts_ns);
		break;
	case PODTAP_EV_PROC_EXIT:
		a->ending_process = true;
		conn_table_end_pid(a->conns, ev->pid, ev->ts_ns);
		a->ending_process = false;
		server_load_process_exit(a->load, ev->pid, ev->ts_ns);
		if (a->tracer)
			tracer_process_exit(a->tracer, ev->pid);
		greenlets_process_exit(a->greenlets, ev->pid);
		if (a->python)
			python_hooks_handle_event(a->python, ev);
		break;
	case PODTAP_EV_EXEC:
	case PODTAP_EV_FORK:
	case PODTAP_EV_LIB_MAPPED:
		if (a->python)
			python_hooks_handle_event(a->python, ev);
		break;
	case PODTAP_EV_GC:
		handle_gc(a, ev);
		break;
	case PODTAP_EV_UNIT:
		if (ev->captured >= sizeof(struct podtap_unit))
			greenlets_switch(a->greenlets, ev->pid, ev->tid,
					 ((const struct podtap_unit *)
						  ev->payload)->id);
		break;
	case PODTAP_EV_INJECTED:
		c = conn_table_find(a->conns, ev->sock_id, ev->conn_gen);
		if (c)
			keep_kernel_ids(ev, &c->injected, sizeof(c->injected),
					&c->injected_pos, &c->has_injected);
		break;
	case PODTAP_EV_SERVING:
		c = conn_table_find(a->conns, ev->sock_id, ev->conn_gen);
		if (c)
			keep_kernel_ids(ev, &c->serving, sizeof(c->serving),
					&c->serving_pos, &c->has_serving);
		break;
	case PODTAP_EV_CGROUP_MKDIR:
		/* NUL-terminated by the kernel within what it captured. */
		if (ev->captured && !ev->payload[ev->captured - 1])
			pod_resolver_cgroup_made(a->pods, ev->cgroup_id,
						 ev->payload, ev->ts_ns);
		break;
	default:
		break;
	}
	stats_set(&a->stats.conns_tracked, conn_table_count(a->conns));
}

/* workload_release_fn: nothing may point at a workload once it is freed.
 * Series do (metrics), and tracer resources are found by its address;
 * connections and queued spans hold none (they keep the cgroup id and
 * copies of the names). */
static void release_workload(void *ctx, const struct workload *w)
{
	struct agent *a = ctx;
	unsigned int n = metrics_forget_workload(a->metrics, w);

	stats_add(w->in_pod ? &a->stats.series_expired_pod
			    : &a->stats.series_expired_host,
		  n);
	python_metrics_forget_workload(a->python_metrics, w);
	server_load_forget_workload(a->load, w);
	if (a->tracer)
		tracer_forget_workload(a->tracer, w);
}

static void expire(struct agent *a, uint64_t now_ns)
{
	uint64_t every = a->series_ttl_ns / 10;
	unsigned int n;

	if (now_ns < a->next_expiry_ns)
		return;
	if (every < EXPIRY_CHECK_MIN_NS)
		every = EXPIRY_CHECK_MIN_NS;
	if (every > EXPIRY_CHECK_MAX_NS)
		every = EXPIRY_CHECK_MAX_NS;
	a->next_expiry_ns = now_ns + every;
	if (now_ns < a->series_ttl_ns)
		return;
	n = pod_resolver_expire(a->pods, now_ns, a->series_ttl_ns,
				release_workload, a);
	if (n)
		log_debug("%u workloads expired", n);
}

void agent_tick(struct agent *a, uint64_t now_ns)
{
	/* Spans want wall-clock time; re-read each tick so that steps of the
	 * clock are followed. */
	a->mono_to_unix_ns = monotonic_to_unix_ns();
	if (now_ns > IDLE_NS)
		conn_table_sweep(a->conns, now_ns - IDLE_NS);
	stats_set(&a->stats.conns_tracked, conn_table_count(a->conns));
	if (a->tracer)
		tracer_tick(a->tracer, now_ns);
	server_load_tick(a->load, now_ns);
	if (a->statsd)
		statsd_flush(a->statsd, now_ns);
	expire(a, now_ns);
}

void agent_render(void *ctx, struct prom_writer *out)
{
	struct agent *a = ctx;
	struct stats_snapshot snap = { 0 };

	if (a->capture)
		capture_read_drops(a->capture, snap.kernel_drops);
	if (a->exporter) {
		snap.traces = true;
		otlp_exporter_get_stats(a->exporter, &snap.spans);
	}
	if (a->tracer)
		tracer_get_stats(a->tracer, &snap.tracer);
	if (a->metric_push) {
		snap.metric_push = true;
		otlp_metrics_exporter_get_stats(a->metric_push,
						&snap.metric_push_stats);
	}
	if (a->inject) {
		snap.inject = true;
		trace_inject_read_stats(a->inject, snap.injects);
	}
	if (a->python) {
		snap.python = true;
		snap.hooks = python_hooks_stats(a->python);
	}
	if (a->kubelet) {
		snap.kubelet = true;
		kubelet_get_stats(a->kubelet, &snap.pods);
	}
	if (a->statsd) {
		snap.statsd = true;
		statsd_get_stats(a->statsd, &snap.statsd_stats);
	}
	server_load_get_stats(a->load, &snap.load);
	snap.series = metrics_series_count(a->metrics);
	metrics_render(a->metrics, out);
	flask_exporter_render(a->metrics, a->compat_modes, out);
	server_load_render(a->load, out);
	python_metrics_render(a->python_metrics, out);
	stats_render(&a->stats, &snap, out);
}

int agent_init(struct agent *a, const struct config *cfg)
{
	memset(a, 0, sizeof(*a));
	stats_set(&a->stats.start_time_s, (uint64_t)time(NULL));
	a->mono_to_unix_ns = monotonic_to_unix_ns();
	a->routes = route_table_new();
	if (!a->routes)
		goto nomem;
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const char *why = "invalid";

		if (route_table_add(a->routes, cfg->routes[i], &why)) {
			log_error("bad --route '%s': %s", cfg->routes[i], why);
			goto fail;
		}
	}
	a->series_ttl_ns = (uint64_t)cfg->series_ttl_s * NSEC_PER_SEC;
	if (cfg->kubelet) {
		struct kubelet_opts ko = {
			.url = cfg->kubelet_url,
			.token_file = cfg->kubelet_token_file,
			.ca_file = cfg->kubelet_ca_file,
			.insecure_skip_verify = cfg->kubelet_insecure_skip_verify,
			.refresh_s = cfg->kubelet_refresh_s,
		};

		a->kubelet = kubelet_start(&ko);
		if (!a->kubelet)
			goto fail;
	}
	a->pods = pod_resolver_new(cfg->pod_log_dir,
				   cfg->cgroup_root[0] ? cfg->cgroup_root : NULL,
				   a->kubelet ? kubelet_cache_of(a->kubelet)
					      : NULL);
	if (!a->pods)
		goto fail;
	a->metrics = metrics_new(cfg->max_series_per_pod, cfg->node_name);
	compat_parse(cfg->compat, &a->compat_modes); /* checked by config */
	if (cfg->statsd_host[0]) {
		a->statsd = statsd_new(cfg->statsd_host, cfg->statsd_prefix);
		if (!a->statsd)
			goto fail;
	}
	a->conns = conn_table_new(PODTAP_MAX_CONNS, on_conn_end, a);
	a->python_metrics = python_metrics_new(cfg->node_name);
	a->load = server_load_new("/proc", cfg->node_name);
	a->greenlets = greenlets_new(MAX_GREENLET_THREADS);
	if (!a->metrics || !a->conns || !a->python_metrics || !a->greenlets ||
	    !a->load)
		goto nomem;
	return 0;
nomem:
	log_error("out of memory");
fail:
	agent_fini(a);
	return -1;
}

static uint64_t incomplete_at_shutdown(const struct agent *a)
{
	return atomic_load(&a->stats.incomplete[0][INCOMPLETE_SHUTDOWN]) +
	       atomic_load(&a->stats.incomplete[1][INCOMPLETE_SHUTDOWN]);
}

void agent_fini(struct agent *a)
{
	uint64_t n = incomplete_at_shutdown(a);

	/* What was in flight is counted, not finished at a made-up time. */
	conn_table_free(a->conns);
	n = incomplete_at_shutdown(a) - n;
	if (n)
		log_info("%llu HTTP exchanges in flight at shutdown: counted as "
			 "incomplete (shutdown), not measured",
			 (unsigned long long)n);
	statsd_free(a->statsd); /* sends what it batched */
	metrics_free(a->metrics);
	python_metrics_free(a->python_metrics);
	server_load_free(a->load);
	greenlets_free(a->greenlets);
	pod_resolver_free(a->pods);
	kubelet_stop(a->kubelet);
	route_table_free(a->routes);
	memset(a, 0, sizeof(*a));
}
