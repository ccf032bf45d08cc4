// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "daemon/stats.h"

#include <bpf/libbpf.h>
#include <stdio.h>

#include "capture/capture.h"
#include "capture/trace_inject.h"
#include "lib/version.h"

static void counter(struct prom_writer *out, const char *name,
		    const char *help, uint64_t v)
{
	prom_family(out, name, "counter", help);
	prom_sample(out, name, NULL, 0, (double)v);
}

static void gauge(struct prom_writer *out, const char *name, const char *help,
		  double v)
{
	prom_family(out, name, "gauge", help);
	prom_sample(out, name, NULL, 0, v);
}

static void by_label(struct prom_writer *out, const char *name,
		     const char *label, const char *value, uint64_t v)
{
	struct prom_label l = { label, value };

	prom_sample(out, name, &l, 1, (double)v);
}

static const char *const sides[STATS_SIDES] = { "server", "client" };

/* Requests sent that podtap did not measure, beside the incomplete ones:
 * those in events the kernel's ring had no room for, and those the parser
 * had to give up. */
static void render_unmeasured(const struct stats *s,
			      const struct stats_snapshot *snap,
			      struct prom_writer *out)
{
	static const char name[] = "podtap_http_requests_unmeasured_total";
	static const int ring[STATS_SIDES] = { PODTAP_DROP_REQUEST_SERVER,
					       PODTAP_DROP_REQUEST_CLIENT };

	prom_family(out, name, "counter",
		    "HTTP requests sent that were neither counted nor timed, "
		    "beside podtap_http_exchanges_incomplete_total, by side "
		    "and reason (ring_buffer_full: the event that began it was "
		    "lost, the ring buffer full; forgotten: waiting for its "
		    "answer when the stream lost its place; head_unreadable: "
		    "its head not captured, cut by lost bytes or malformed; "
		    "pipeline_overflow: too many waiting).");
	for (int side = 0; side < STATS_SIDES; side++) {
		struct prom_label l[] = { { "side", sides[side] },
					  { "reason", "ring_buffer_full" } };

		prom_sample(out, name, l, 2,
			    (double)snap->kernel_drops[ring[side]]);
		for (int r = 0; r < HTTP_UNMEASURED__COUNT; r++) {
			l[1].value = http_unmeasured_name(r);
			prom_sample(out, name, l, 2,
				    (double)atomic_load(&s->unmeasured[side][r]));
		}
	}
}

static void render_incomplete(const struct stats *s, struct prom_writer *out)
{
	static const char *const reasons[INCOMPLETE__COUNT] = {
		[INCOMPLETE_CLOSED] = "closed",
		[INCOMPLETE_CLOSE_LOST] = "close_lost",
		[INCOMPLETE_EXIT_LOST] = "exit_lost",
		[INCOMPLETE_SHUTDOWN] = "shutdown",
		[INCOMPLETE_MISORDERED] = "misordered",
	};

	prom_family(out, "podtap_http_exchanges_incomplete_total", "counter",
		    "HTTP requests seen whose exchange never completed, so "
		    "neither counted nor timed, by side and reason (closed: "
		    "the connection closed or its process exited first; "
		    "close_lost: its socket came back as a new connection; "
		    "exit_lost: its process was found gone; shutdown: in "
		    "flight when podtap stopped; misordered: its end was "
		    "stamped before its start).");
	for (int side = 0; side < STATS_SIDES; side++) {
		for (int r = 0; r < INCOMPLETE__COUNT; r++) {
			struct prom_label l[] = { { "side", sides[side] },
						  { "reason", reasons[r] } };

			prom_sample(out, "podtap_http_exchanges_incomplete_total",
				    l, 2,
				    (double)atomic_load(&s->incomplete[side][r]));
		}
	}
}

/* podtap_<signal>_export_requests_total{outcome} and _retries_total: the
 * requests of one otlp_http sender. */
static void render_export_requests(struct prom_writer *out,
				   const char *signal,
				   const char *requests_help,
				   const char *retries_help,
				   const struct otlp_http_stats *h)
{
	char requests[64], retries[64];

	snprintf(requests, sizeof(requests),
		 "podtap_%s_export_requests_total", signal);
	snprintf(retries, sizeof(retries), "podtap_%s_export_retries_total",
		 signal);
	prom_family(out, requests, "counter", requests_help);
	for (int o = 0; o < OTLP_REQ__COUNT; o++)
		by_label(out, requests, "outcome", otlp_request_outcome_name(o),
			 h->requests[o]);
	counter(out, retries, retries_help, h->retries);
}

static void render_spans(const struct otlp_exporter_stats *sp,
			 struct prom_writer *out)
{
	counter(out, "podtap_spans_enqueued_total",
		"Spans queued for export.", sp->spans_enqueued);
	counter(out, "podtap_spans_exported_total",
		"Spans the collector accepted.", sp->spans_exported);
	prom_family(out, "podtap_spans_dropped_total", "counter",
		    "Spans not exported, by reason (queue_full: the export "
		    "queue was full; rejected: the collector refused them; "
		    "export_failed: retries ran out; shutdown: not sent by the "
		    "shutdown deadline).");
	for (int r = 0; r < OTLP_DROP__COUNT; r++)
		by_label(out, "podtap_spans_dropped_total", "reason",
			 otlp_drop_reason_name(r), sp->spans_dropped[r]);
	render_export_requests(out, "span", "OTLP export requests, by outcome.",
			       "Export requests that retried a batch.",
			       &sp->http);
	gauge(out, "podtap_span_queue_length", "Spans waiting for export.",
	      (double)sp->queue_length);
}

static void render_metric_push(const struct otlp_metrics_exporter_stats *mp,
			       struct prom_writer *out)
{
	counter(out, "podtap_metric_exports_total",
		"OTLP metrics pushes that had data points to send.",
		mp->exports);
	counter(out, "podtap_metric_exports_failed_total",
		"OTLP metrics pushes that did not get in (refused, retries "
		"ran out, or cut by the shutdown deadline); the next push "
		"carries the same cumulative totals.", mp->exports_failed);
	counter(out, "podtap_metric_points_exported_total",
		"Data points the collector accepted.", mp->points_exported);
	counter(out, "podtap_metric_points_rejected_total",
		"Data points the collector refused or rejected in a partial "
		"success.", mp->points_rejected);
	render_export_requests(out, "metric",
			       "OTLP metrics export requests, by outcome.",
			       "Export requests that retried a push.",
			       &mp->http);
}

static void render_injection(const struct stats_snapshot *snap,
			     struct prom_writer *out)
{
	prom_family(out, "podtap_trace_inject_total", "counter",
		    "Outgoing HTTP/1.x requests seen by --inject-trace-context, "
		    "by result (child: a traceparent naming the caller's "
		    "server request went in; root: one starting a trace, its "
		    "sender serving nothing; has_context: it had a trace "
		    "header, untouched; no_context: its sender serves a "
		    "request podtap had not placed yet, untouched; "
		    "multiplexed: its sender serves many at once (an event "
		    "loop), untouched; unframed: a head split over sends or "
		    "a body of unknown length, the connection left alone from "
		    "then on; not_http: a connection that does not start with "
		    "a request, left alone; failed: the kernel could not "
		    "insert it; sockets_full: a connection the socket map had "
		    "no room for).");
	for (int r = 0; r < PODTAP_INJECT__COUNT; r++)
		by_label(out, "podtap_trace_inject_total", "result",
			 trace_inject_result_name(r), snap->injects[r]);
	counter(out, "podtap_trace_injected_spans_total",
		"CLIENT spans whose ids an injected header names.",
		snap->tracer.injected);
	counter(out, "podtap_trace_inject_parent_dropped_total",
		"Of those, spans left without the parent the kernel named: "
		"its server span had moved to another trace by then (its "
		"same-node caller was seen late).",
		snap->tracer.injected_unparented);
}

static void render_parenting(const struct tracer_stats *t,
			     struct prom_writer *out)
{
	gauge(out, "podtap_trace_threads",
	      "Threads (and greenlets) whose server requests podtap holds, "
	      "to parent the client calls they make.",
	      (double)t->threads.entries);
	prom_family(out, "podtap_trace_threads_removed_total", "counter",
		    "Threads' server requests forgotten before their response "
		    "was seen, by reason (full: the oldest made room, and its "
		    "thread's later calls start traces of their own; expired: "
		    "older than 5 minutes; thread_exit; process_exit).");
	for (int r = 0; r < THREAD_RM__COUNT; r++)
		by_label(out, "podtap_trace_threads_removed_total", "reason",
			 thread_removal_name(r), t->threads.removed[r]);
	counter(out, "podtap_trace_ambiguous_parents_total",
		"Client calls made by a thread or greenlet serving more than "
		"one request at once (an event loop): their CLIENT spans "
		"start traces of their own, as podtap cannot tell which "
		"request made them.", t->ambiguous);
	prom_family(out, "podtap_trace_peer_links_total", "counter",
		    "SERVER spans whose caller is a client on this node, by "
		    "outcome (linked: the child of the caller's CLIENT span; "
		    "late: the server had made calls of its own before its "
		    "caller's request was read, and keeps its own trace).");
	by_label(out, "podtap_trace_peer_links_total", "result", "linked",
		 t->linked);
	by_label(out, "podtap_trace_peer_links_total", "result", "late",
		 t->linked_late);
	counter(out, "podtap_trace_forwarded_headers_total",
		"Client calls that forward the trace header their thread's "
		"server request came with (a proxy): their CLIENT spans get "
		"ids of their own, under the proxy's SERVER span, instead of "
		"repeating the caller's.", t->forwarded);
	gauge(out, "podtap_trace_peer_links_waiting",
	      "Requests on this node waiting for the other end of their "
	      "connection to be seen.", (double)t->links.entries);
	prom_family(out, "podtap_trace_peer_links_removed_total", "counter",
		    "Requests that waited for the other end of their "
		    "connection in vain, by reason (expired: 30 s passed, as "
		    "for a peer podtap does not see; full: the oldest made "
		    "room).");
	by_label(out, "podtap_trace_peer_links_removed_total", "reason",
		 "expired", t->links.expired);
	by_label(out, "podtap_trace_peer_links_removed_total", "reason",
		 "full", t->links.evicted);
	gauge(out, "podtap_trace_held_spans",
	      "SERVER spans that ended before their same-node caller's "
	      "request was read, held (200 ms at most) so that it can still "
	      "parent them.", (double)t->held.held);
	counter(out, "podtap_trace_held_spans_evicted_total",
		"Held SERVER spans exported before their 200 ms were over, to "
		"make room (256 at most are held): a caller read later "
		"leaves them in their own trace.", t->held.evicted);
}

static void render_hooks(const struct python_hooks_stats *h,
			 struct prom_writer *out)
{
	prom_family(out, "podtap_uprobe_attach_failures_total", "counter",
		    "Python runtime hooks that could not be attached, by "
		    "reason (no_symbol: stripped or not the library needed; "
		    "unknown_version: no USDT and a collector podtap does not "
		    "know; permission; process_gone; not_elf; attach_error; "
		    "too_many_processes).");
	for (int r = 0; r < HOOK_FAIL__COUNT; r++)
		by_label(out, "podtap_uprobe_attach_failures_total", "reason",
			 hook_failure_name(r), atomic_load(&h->failures[r]));
	gauge(out, "podtap_python_processes",
	      "Python processes found and hooked.",
	      (double)atomic_load(&h->processes));
	gauge(out, "podtap_uprobe_files",
	      "Distinct files (device and inode) with uprobes attached.",
	      (double)atomic_load(&h->files));
	gauge(out, "podtap_uprobe_links",
	      "Uprobe and USDT links attached.",
	      (double)atomic_load(&h->links));
}

static void render_kubelet(const struct kubelet_stats *k,
			   struct prom_writer *out)
{
	counter(out, "podtap_kubelet_requests_total",
		"Requests for the kubelet's pod list that have ended, "
		"failed ones included.", k->requests);
	prom_family(out, "podtap_kubelet_errors_total", "counter",
		    "Kubelet pod list requests that failed, by reason; pod "
		    "names then come from the last good list, else from the "
		    "pod log directory.");
	for (int e = 0; e < KUBELET_ERR__COUNT; e++)
		by_label(out, "podtap_kubelet_errors_total", "reason",
			 kubelet_error_name(e), k->errors[e]);
	gauge(out, "podtap_kubelet_pods",
	      "Pods in the last good list from the kubelet.", (double)k->pods);
}

static void render_statsd(const struct statsd_stats *st,
			  struct prom_writer *out)
{
	counter(out, "podtap_statsd_datagrams_total",
		"UDP datagrams sent to --statsd-host.", st->datagrams);
	counter(out, "podtap_statsd_lines_total",
		"statsd lines (a counter or a timer value each) in those "
		"datagrams.", st->lines);
	prom_family(out, "podtap_statsd_lines_dropped_total", "counter",
		    "statsd lines not sent, by reason.");
	for (int d = 0; d < STATSD_DROP__COUNT; d++)
		by_label(out, "podtap_statsd_lines_dropped_total", "reason",
			 statsd_drop_name(d), st->dropped[d]);
	gauge(out, "podtap_statsd_resolved",
	      "1 once --statsd-host's address is known.", st->resolved);
}

void stats_render(const struct stats *s, const struct stats_snapshot *snap,
		  struct prom_writer *out)
{
	static const char *const kinds[STATS_EVENT_KINDS] = {
		"unknown", "data", "open", "close", "process_exit",
		"exec", "fork", "library_mapped", "python_gc",
		"cgroup_mkdir", "greenlet_switch", "trace_injected",
		"trace_serving",
	};
	char libbpf[32];
	struct prom_label build[] = { { "version", PODTAP_VERSION },
				      { "libbpf_version", libbpf } };

	snprintf(libbpf, sizeof(libbpf), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	prom_family(out, "podtap_build_info", "gauge",
		    "podtap build; the value is always 1.");
	prom_sample(out, "podtap_build_info", build, 2, 1);

	gauge(out, "podtap_start_time_seconds",
	      "Unix time podtap started.", (double)s->start_time_s);

	prom_family(out, "podtap_events_total", "counter",
		    "Events read from the kernel ring buffer, by kind.");
	for (int k = 1; k < STATS_EVENT_KINDS; k++)
		by_label(out, "podtap_events_total", "kind", kinds[k],
			 s->events[k]);
	counter(out, "podtap_event_bytes_total",
		"Bytes read from the kernel ring buffer.", s->event_bytes);

	prom_family(out, "podtap_kernel_drops_total", "counter",
		    "Data the kernel side could not deliver, by reason.");
	/* (the reasons past these count requests: render_unmeasured) */
	for (int r = 0; r < PODTAP_DROP_REQUEST_SERVER; r++)
		by_label(out, "podtap_kernel_drops_total", "reason",
			 capture_drop_reason_name(r), snap->kernel_drops[r]);

	prom_family(out, "podtap_http_parse_errors_total", "counter",
		    "HTTP messages that could not be turned into exchanges, "
		    "by reason.");
	for (int e = 0; e < HTTP_ERR__COUNT; e++)
		by_label(out, "podtap_http_parse_errors_total", "reason",
			 http_parse_error_name(e), s->parse_errors[e]);

	prom_family(out, "podtap_connections_total", "counter",
		    "Connections classified, by protocol (other: not HTTP/1.x, "
		    "no longer captured).");
	by_label(out, "podtap_connections_total", "protocol", "http",
		 s->conns_http);
	by_label(out, "podtap_connections_total", "protocol", "other",
		 s->conns_other);
	counter(out, "podtap_connections_untracked_total",
		"Connections not tracked because the connection table was "
		"full.", s->conns_untracked);
	gauge(out, "podtap_connections_tracked",
	      "Connections currently tracked.", (double)s->conns_tracked);

	prom_family(out, "podtap_http_exchanges_total", "counter",
		    "HTTP exchanges (request and response) seen, by side.");
	by_label(out, "podtap_http_exchanges_total", "side", "server",
		 s->exchanges_server);
	by_label(out, "podtap_http_exchanges_total", "side", "client",
		 s->exchanges_client);
	render_incomplete(s, out);
	render_unmeasured(s, snap, out);

	if (snap->traces) {
		render_spans(&snap->spans, out);
		render_parenting(&snap->tracer, out);
	}
	if (snap->metric_push)
		render_metric_push(&snap->metric_push_stats, out);
	if (snap->inject)
		render_injection(snap, out);
	if (snap->python)
		render_hooks(snap->hooks, out);

	if (snap->kubelet)
		render_kubelet(&snap->pods, out);
	if (snap->statsd)
		render_statsd(&snap->statsd_stats, out);
	counter(out, "podtap_accept_waits_unmeasured_total",
		"Accepted connections whose wait in the accept queue is not "
		"known: their handshake ended before podtap started, or was "
		"pushed out of the kernel's table by newer ones.",
		snap->load.waits_unmeasured);
	counter(out, "podtap_workers_dropped_total",
		"Serving threads not followed for saturation because the "
		"table of them was full.", snap->load.workers_dropped);

	gauge(out, "podtap_series", "Route series currently exported.",
	      (double)snap->series);
	prom_family(out, "podtap_series_expired_total", "counter",
		    "Route series dropped --series-ttl after their last "
		    "request, by workload: a pod that is gone, or a host "
		    "process.");
	by_label(out, "podtap_series_expired_total", "workload", "pod",
		 s->series_expired_pod);
	by_label(out, "podtap_series_expired_total", "workload", "host",
		 s->series_expired_host);
}
