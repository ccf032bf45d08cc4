// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer as the agent drives it: tracer_on_request at request-head
 * time, tracer_on_exchange at exchange end, with the real exporter behind
 * it sending to an OTLP/HTTP receiver in this process (libmicrohttpd on
 * 127.0.0.1), whose bodies are decoded with the generated protobuf-c code.
 * So what is checked is what a collector would get: trace and span ids,
 * parents, names, attributes and resources; and what never leaves (spans
 * not sampled, podtap's own exports). Processes are pids above pid_max, so
 * resources read nothing from /proc.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "otlp.pb-c.h"
#include "otel/otel_env.h"
#include "otel/otlp_exporter.h"
#include "otel/sampler.h"
#include "otel/tracer.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define T0 (1000 * SEC)
#define MONO_TO_UNIX (1700000000ULL * SEC)
#define PID_GONE (1u << 23)

#define KIND_SERVER PODTAP__OTLP__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT PODTAP__OTLP__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define STATUS_ERROR PODTAP__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR
#define STATUS_UNSET PODTAP__OTLP__STATUS__STATUS_CODE__STATUS_CODE_UNSET

/* ---- the receiver ------------------------------------------------------ */

#define MAX_BODIES 64
#define MAX_SPANS 64

struct upload {
	uint8_t *buf;
	size_t len;
};

static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static Podtap__Otlp__ExportTraceServiceRequest *bodies[MAX_BODIES];
static int nbodies, bad_bodies;

/* Every span received, with its resource. */
static const Podtap__Otlp__Span *spans[MAX_SPANS];
static const Podtap__Otlp__Resource *span_res[MAX_SPANS];
static int nspans;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **state)
{
	struct upload *u = *state;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)cls;
	(void)version;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		*state = u;
		return MHD_YES;
	}
	if (*data_size) {
		uint8_t *nb = realloc(u->buf, u->len + *data_size);

		if (!nb)
			return MHD_NO;
		memcpy(nb + u->len, data, *data_size);
		u->buf = nb;
		u->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&rx_lock);
	if (strcmp(method, "POST") || strcmp(url, "/v1/traces"))
		bad_bodies++;
	else if (nbodies < MAX_BODIES &&
		 (bodies[nbodies] =
			  podtap__otlp__export_trace_service_request__unpack(
				  NULL, u->len, u->buf)))
		nbodies++;
	else
		bad_bodies++;
	pthread_mutex_unlock(&rx_lock);
	resp = MHD_create_response_from_buffer(0, (void *)"",
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
				"application/x-protobuf");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
		    enum MHD_RequestTerminationCode why)
{
	struct upload *u = *state;

	(void)cls;
	(void)conn;
	(void)why;
	if (u) {
		free(u->buf);
		free(u);
	}
	*state = NULL;
}

static struct MHD_Daemon *receiver_start(unsigned int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct MHD_Daemon *d;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 16) || getsockname(fd, (struct sockaddr *)&sa, &len)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*port = ntohs(sa.sin_port);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
			     on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
			     MHD_OPTION_END);
	if (!d)
		close(fd);
	return d;
}

static void collect_spans(void)
{
	nspans = 0;
	for (int b = 0; b < nbodies; b++) {
		const Podtap__Otlp__ExportTraceServiceRequest *r = bodies[b];

		for (size_t i = 0; i < r->n_resource_spans; i++) {
			const Podtap__Otlp__ResourceSpans *rs =
				r->resource_spans[i];

			for (size_t j = 0; j < rs->n_scope_spans; j++)
				for (size_t k = 0;
				     k < rs->scope_spans[j]->n_spans &&
				     nspans < MAX_SPANS;
				     k++) {
					spans[nspans] =
						rs->scope_spans[j]->spans[k];
					span_res[nspans++] = rs->resource;
				}
		}
	}
}

static void forget_bodies(void)
{
	for (int b = 0; b < nbodies; b++)
		podtap__otlp__export_trace_service_request__free_unpacked(
			bodies[b], NULL);
	nbodies = bad_bodies = nspans = 0;
}

/* ---- a tracer with its exporter ---------------------------------------- */

static struct tracer *tracer;
static struct otlp_exporter *exporter;
static struct MHD_Daemon *receiver;
static struct otel_config ocfg; /* large */
static struct otlp_exporter_stats stats;

static int start(const char *sampler_name)
{
	struct sampler s;
	char url[128], msg[256];
	unsigned int port = 0;
	char *envp[] = { url, "OTEL_EXPORTER_OTLP_COMPRESSION=none",
			 "PODTAP_OTLP_BATCH_TIMEOUT=5",
			 "OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test",
			 NULL };

	CHECK_INT(sampler_parse(&s, sampler_name, NULL, msg, sizeof(msg)), 0);
	receiver = receiver_start(&port);
	CHECK(receiver != NULL);
	if (!receiver)
		return -1;
	snprintf(url, sizeof(url),
		 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:%u/v1/traces",
		 port);
	CHECK_INT(otel_config_from_env(&ocfg, envp, msg, sizeof(msg)), 0);
	CHECK(ocfg.enabled);
	tracer = tracer_new(&s, "node-a", ocfg.resource_attrs,
			    ocfg.n_resource_attrs);
	CHECK(tracer != NULL);
	if (!tracer)
		return -1;
	exporter = otlp_exporter_start(&ocfg, tracer_release_resource, tracer);
	CHECK(exporter != NULL);
	if (!exporter)
		return -1;
	tracer_set_exporter(tracer, exporter);
	return 0;
}

/* Sends what is queued, stops, and decodes what arrived into spans[]. */
static void flush(void)
{
	/* as the daemon stops */
	tracer_release_held(tracer);
	otlp_exporter_stop(exporter);
	otlp_exporter_get_stats(exporter, &stats);
	CHECK(otlp_exporter_destroy(exporter));
	exporter = NULL;
	tracer_free(tracer);
	tracer = NULL;
	MHD_stop_daemon(receiver);
	receiver = NULL;
	CHECK_INT(bad_bodies, 0);
	collect_spans();
}

/* ---- requests and exchanges, as the HTTP parser reports them ----------- */

struct call {
	struct tracer_conn conn;
	struct http_request req;
	struct http_exchange ex;
};

static const struct workload host = { .service = "gunicorn" };

/* A request on thread tid of pid, with the traceparent and b3 headers
 * given (NULL: none), not yet handed to the tracer. */
static void prepare(struct call *c, enum http_role role, uint32_t pid,
		    uint32_t tid, const char *method, const char *target,
		    uint64_t start_ns, const char *traceparent, const char *b3)
{
	memset(c, 0, sizeof(*c));
	c->conn = (struct tracer_conn){
		.pid = pid, .tid = tid, .comm = "gunicorn",
		.peer_address = role == HTTP_ROLE_SERVER ? "10.0.0.2"
							  : "10.0.0.9",
		.server_address = role == HTTP_ROLE_SERVER ? "api" : "billing",
		.server_port = role == HTTP_ROLE_SERVER ? 8080 : 80,
		.scheme = "http", .w = &host, .pod_uid = "",
	};
	snprintf(c->req.method, sizeof(c->req.method), "%s", method);
	snprintf(c->req.target, sizeof(c->req.target), "%s", target);
	snprintf(c->req.headers.user_agent, sizeof(c->req.headers.user_agent),
		 "%s", "python-requests/2.28.1");
	if (traceparent)
		snprintf(c->req.headers.traceparent,
			 sizeof(c->req.headers.traceparent), "%s", traceparent);
	if (b3)
		snprintf(c->req.headers.b3, sizeof(c->req.headers.b3), "%s",
			 b3);
	c->req.start_ns = start_ns;
	c->ex.role = role;
}

static void submit(struct call *c)
{
	tracer_on_request(tracer, c->ex.role, &c->conn, &c->req);
}

static void begin(struct call *c, enum http_role role, uint32_t pid,
		  uint32_t tid, const char *method, const char *target,
		  uint64_t start_ns, const char *traceparent, const char *b3)
{
	prepare(c, role, pid, tid, method, target, start_ns, traceparent, b3);
	submit(c);
}

static void end(struct call *c, int status, uint64_t end_ns,
		const char *route)
{
	c->ex.status = status;
	c->ex.method = c->req.method;
	c->ex.target = c->req.target;
	c->ex.start_ns = c->req.start_ns;
	c->ex.end_ns = end_ns;
	c->ex.request = &c->req;
	tracer_on_exchange(tracer, &c->conn, &c->ex, c->ex.target, route,
			   MONO_TO_UNIX);
	/* as the parser does: the request is let go after its exchange */
	tracer_on_request_end(tracer, c->ex.role, &c->req);
}

/* ---- reading spans ----------------------------------------------------- */

static const Podtap__Otlp__Span *span_named(const char *name, int kind)
{
	const Podtap__Otlp__Span *found = NULL;
	int n = 0;

	for (int i = 0; i < nspans; i++)
		if (!strcmp(spans[i]->name, name) &&
		    (int)spans[i]->kind == kind) {
			found = spans[i];
			n++;
		}
	if (n != 1)
		fprintf(stderr, "  %d spans named '%s' of kind %d\n", n, name,
			kind);
	return n == 1 ? found : NULL;
}

static const Podtap__Otlp__Resource *resource_of(const Podtap__Otlp__Span *s)
{
	for (int i = 0; i < nspans; i++)
		if (spans[i] == s)
			return span_res[i];
	return NULL;
}

static const Podtap__Otlp__AnyValue *attr(Podtap__Otlp__KeyValue **kv,
					  size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

static const char *str_attr(const Podtap__Otlp__Span *s, const char *key)
{
	const Podtap__Otlp__AnyValue *v =
		attr(s->attributes, s->n_attributes, key);

	return v && v->value_case == PODTAP__OTLP__ANY_VALUE__VALUE_STRING_VALUE
		       ? v->string_value
		       : NULL;
}

static long long int_attr(const Podtap__Otlp__Span *s, const char *key)
{
	const Podtap__Otlp__AnyValue *v =
		attr(s->attributes, s->n_attributes, key);

	return v && v->value_case == PODTAP__OTLP__ANY_VALUE__VALUE_INT_VALUE
		       ? v->int_value
		       : -1;
}

static const char *res_attr(const Podtap__Otlp__Span *s, const char *key)
{
	const Podtap__Otlp__Resource *r = resource_of(s);
	const Podtap__Otlp__AnyValue *v =
		r ? attr(r->attributes, r->n_attributes, key) : NULL;

	return v && v->value_case == PODTAP__OTLP__ANY_VALUE__VALUE_STRING_VALUE
		       ? v->string_value
		       : NULL;
}

static bool same_bytes(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
	return a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len));
}

static void hex(ProtobufCBinaryData d, char *out)
{
	for (size_t i = 0; i < d.len; i++)
		sprintf(out + 2 * i, "%02x", d.data[i]);
	out[2 * d.len] = '\0';
}

#define CHECK_HEX(bytes, want)                                               \
	do {                                                                 \
		char h_[80];                                                 \
		hex(bytes, h_);                                              \
		CHECK_STR(h_, want);                                         \
	} while (0)

/* ---- tests ------------------------------------------------------------- */

/* A client call made by the thread serving a request is the server span's
 * child, in its trace; one made by another thread, or by the same thread
 * once its response went, starts a trace of its own. */
static void test_parent_child(void)
{
	const uint32_t pid = PID_GONE, tid = PID_GONE + 1;
	const Podtap__Otlp__Span *srv, *cli, *other, *after;
	struct call s, c, o, l;

	if (start("parentbased_always_on"))
		return;
	begin(&s, HTTP_ROLE_SERVER, pid, tid, "GET", "/users/42?token=x", T0,
	      NULL, NULL);
	begin(&c, HTTP_ROLE_CLIENT, pid, tid, "POST", "/charge", T0 + 1 * MS,
	      NULL, NULL);
	begin(&o, HTTP_ROLE_CLIENT, pid, tid + 1, "GET", "/other", T0 + 1 * MS,
	      NULL, NULL);
	end(&c, 503, T0 + 5 * MS, "/charge");
	end(&o, 200, T0 + 5 * MS, "/other");
	end(&s, 200, T0 + 10 * MS, "/users/{id}");
	begin(&l, HTTP_ROLE_CLIENT, pid, tid, "GET", "/later", T0 + 20 * MS,
	      NULL, NULL);
	end(&l, 200, T0 + 25 * MS, "/later");
	flush();

	CHECK_INT(nspans, 4);
	CHECK_INT(stats.spans_enqueued, 4);
	CHECK_INT(stats.spans_exported, 4);
	srv = span_named("GET /users/{id}", KIND_SERVER);
	cli = span_named("POST /charge", KIND_CLIENT);
	other = span_named("GET /other", KIND_CLIENT);
	after = span_named("GET /later", KIND_CLIENT);
	if (!srv || !cli || !other || !after)
		goto out;
	CHECK_INT(srv->trace_id.len, 16);
	CHECK_INT(srv->span_id.len, 8);
	CHECK_INT(srv->parent_span_id.len, 0);
	CHECK(same_bytes(cli->trace_id, srv->trace_id));
	CHECK(same_bytes(cli->parent_span_id, srv->span_id));
	CHECK(!same_bytes(cli->span_id, srv->span_id));
	CHECK(!same_bytes(other->trace_id, srv->trace_id));
	CHECK_INT(other->parent_span_id.len, 0);
	CHECK(!same_bytes(after->trace_id, srv->trace_id));
	CHECK_INT(after->parent_span_id.len, 0);

	/* what the server span says */
	CHECK(srv->start_time_unix_nano == MONO_TO_UNIX + T0);
	CHECK(srv->end_time_unix_nano == MONO_TO_UNIX + T0 + 10 * MS);
	CHECK_STR(str_attr(srv, "http.request.method"), "GET");
	CHECK_STR(str_attr(srv, "url.path"), "/users/42");
	CHECK_STR(str_attr(srv, "http.route"), "/users/{id}");
	CHECK_INT(int_attr(srv, "http.response.status_code"), 200);
	CHECK_STR(str_attr(srv, "server.address"), "api");
	CHECK_INT(int_attr(srv, "server.port"), 8080);
	CHECK_STR(str_attr(srv, "client.address"), "10.0.0.2");
	CHECK_STR(str_attr(srv, "network.peer.address"), "10.0.0.2");
	CHECK_STR(str_attr(srv, "user_agent.original"),
		  "python-requests/2.28.1");
	CHECK(!str_attr(srv, "url.query"));
	CHECK(srv->status && srv->status->code == STATUS_UNSET);
	/* a client's 5xx is an error; it has no client.address */
	CHECK(cli->status && cli->status->code == STATUS_ERROR);
	CHECK_INT(int_attr(cli, "http.response.status_code"), 503);
	CHECK(!str_attr(cli, "client.address"));
	CHECK_STR(str_attr(cli, "server.address"), "billing");
	/* the resource: a gone host process is named by its comm */
	CHECK_STR(res_attr(srv, "service.name"), "gunicorn");
	CHECK_STR(res_attr(srv, "k8s.node.name"), "node-a");
	CHECK_STR(res_attr(srv, "deployment.environment.name"), "test");
out:
	forget_bodies();
}

/* An incoming traceparent is the server span's parent and trace, and so
 * its thread's client calls' trace; a caller's "not sampled" holds for
 * them too (ParentBased); a b3 header is read the same way. */
static void test_traceparent(void)
{
	const uint32_t pid = PID_GONE;
	const Podtap__Otlp__Span *srv, *cli, *b3;
	struct call s, c, u, uc, z;

	if (start(NULL)) /* the default: parentbased_always_on */
		return;
	begin(&s, HTTP_ROLE_SERVER, pid, pid + 1, "GET", "/a", T0,
	      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL);
	begin(&c, HTTP_ROLE_CLIENT, pid, pid + 1, "GET", "/down", T0 + 1 * MS,
	      NULL, NULL);
	end(&c, 200, T0 + 2 * MS, "/down");
	end(&s, 200, T0 + 3 * MS, "/a");

	begin(&u, HTTP_ROLE_SERVER, pid, pid + 2, "GET", "/unsampled", T0,
	      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", NULL);
	begin(&uc, HTTP_ROLE_CLIENT, pid, pid + 2, "GET", "/unsampled-down",
	      T0 + 1 * MS, NULL, NULL);
	end(&uc, 200, T0 + 2 * MS, "/unsampled-down");
	end(&u, 200, T0 + 3 * MS, "/unsampled");

	begin(&z, HTTP_ROLE_SERVER, pid, pid + 3, "GET", "/zipkin", T0, NULL,
	      "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
	end(&z, 200, T0 + 3 * MS, "/zipkin");
	flush();

	CHECK_INT(nspans, 3);
	srv = span_named("GET /a", KIND_SERVER);
	cli = span_named("GET /down", KIND_CLIENT);
	b3 = span_named("GET /zipkin", KIND_SERVER);
	if (!srv || !cli || !b3)
		goto out;
	CHECK_HEX(srv->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK_HEX(srv->parent_span_id, "00f067aa0ba902b7");
	CHECK_HEX(cli->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK(same_bytes(cli->parent_span_id, srv->span_id));
	CHECK_HEX(b3->trace_id, "80f198ee56343ba864fe8b2a57d3eff7");
	CHECK_HEX(b3->parent_span_id, "e457b5a2e4d86bd1");
out:
	forget_bodies();
}

/* A client request that carries its own traceparent (an instrumented
 * app): that names the span; its parent is the request its thread serves
 * only when both are of one trace. */
static void test_client_traceparent(void)
{
	const uint32_t pid = PID_GONE, tid = PID_GONE + 1;
	const Podtap__Otlp__Span *srv, *same, *foreign;
	struct call s, c1, c2;

	if (start("always_on"))
		return;
	begin(&s, HTTP_ROLE_SERVER, pid, tid, "GET", "/in", T0,
	      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL);
	begin(&c1, HTTP_ROLE_CLIENT, pid, tid, "GET", "/same", T0 + 1 * MS,
	      "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01", NULL);
	begin(&c2, HTTP_ROLE_CLIENT, pid, tid, "GET", "/foreign", T0 + 1 * MS,
	      "00-0af7651916cd43dd8448eb211c80319c-2222222222222222-01", NULL);
	end(&c1, 200, T0 + 2 * MS, "/same");
	end(&c2, 200, T0 + 2 * MS, "/foreign");
	end(&s, 200, T0 + 3 * MS, "/in");
	flush();

	CHECK_INT(nspans, 3);
	srv = span_named("GET /in", KIND_SERVER);
	same = span_named("GET /same", KIND_CLIENT);
	foreign = span_named("GET /foreign", KIND_CLIENT);
	if (!srv || !same || !foreign)
		goto out;
	CHECK_HEX(same->span_id, "1111111111111111");
	CHECK(same_bytes(same->parent_span_id, srv->span_id));
	CHECK_HEX(foreign->trace_id, "0af7651916cd43dd8448eb211c80319c");
	CHECK_HEX(foreign->span_id, "2222222222222222");
	CHECK_INT(foreign->parent_span_id.len, 0);
out:
	forget_bodies();
}

/* always_off: no span at all, although the thread's request is still
 * held while it is served (and let go when it ends). */
static void test_always_off(void)
{
	struct tracer_stats ts;
	struct call s, c;

	if (start("always_off"))
		return;
	begin(&s, HTTP_ROLE_SERVER, PID_GONE, PID_GONE + 1, "GET", "/a", T0,
	      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL);
	begin(&c, HTTP_ROLE_CLIENT, PID_GONE, PID_GONE + 1, "GET", "/b",
	      T0 + 1 * MS, NULL, NULL);
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.threads.entries, 1);
	end(&c, 200, T0 + 2 * MS, "/b");
	end(&s, 200, T0 + 3 * MS, "/a");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.threads.entries, 0);
	flush();
	CHECK_INT(nspans, 0);
	CHECK_INT(nbodies, 0);
	CHECK_INT(stats.spans_enqueued, 0);
	forget_bodies();
}

/* A process exit forgets its threads' requests (counted): a call its
 * thread id makes afterwards parents nothing. Requests to a collector
 * from podtap itself make no span. */
static void test_process_exit_and_own_exports(void)
{
	struct tracer_stats ts;
	const Podtap__Otlp__Span *srv, *cli;
	struct call s, c, p;

	if (start("always_on"))
		return;
	begin(&s, HTTP_ROLE_SERVER, PID_GONE, PID_GONE + 1, "GET", "/a", T0,
	      NULL, NULL);
	tracer_process_exit(tracer, PID_GONE);
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.threads.entries, 0);
	CHECK_INT(ts.threads.removed[THREAD_RM_PROCESS_EXIT], 1);
	begin(&c, HTTP_ROLE_CLIENT, PID_GONE, PID_GONE + 1, "GET", "/b",
	      T0 + 1 * MS, NULL, NULL);
	end(&c, 200, T0 + 2 * MS, "/b");
	end(&s, 200, T0 + 3 * MS, "/a");

	begin(&p, HTTP_ROLE_CLIENT, PID_GONE + 5, PID_GONE + 5, "POST",
	      "/v1/traces", T0, NULL, NULL);
	snprintf(p.req.headers.user_agent, sizeof(p.req.headers.user_agent),
		 "podtap/0.1");
	end(&p, 200, T0 + 1 * MS, "/v1/traces");
	flush();

	CHECK_INT(nspans, 2);
	srv = span_named("GET /a", KIND_SERVER);
	cli = span_named("GET /b", KIND_CLIENT);
	if (srv && cli) {
		CHECK(!same_bytes(cli->trace_id, srv->trace_id));
		CHECK_INT(cli->parent_span_id.len, 0);
	}
	forget_bodies();
}

/* Without an exporter the tracer decides nothing and holds nothing. */
static void test_no_exporter(void)
{
	static const uint8_t zero[HTTP_USER_DATA_SIZE];
	struct tracer_stats ts;
	struct sampler smp;
	char msg[128];
	struct call s;

	sampler_parse(&smp, "always_on", NULL, msg, sizeof(msg));
	/* not NULL: tracer_new memcpy()s from it even when n_extra is 0 */
	tracer = tracer_new(&smp, "", ocfg.resource_attrs, 0);
	CHECK(tracer != NULL);
	if (!tracer)
		return;
	begin(&s, HTTP_ROLE_SERVER, PID_GONE, PID_GONE + 1, "GET", "/a", T0,
	      NULL, NULL);
	CHECK(!memcmp(s.req.user, zero, sizeof(zero)));
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.threads.entries, 0);
	end(&s, 200, T0 + 1 * MS, "/a");
	tracer_free(tracer);
	tracer = NULL;
}

/* A request at byte `pos` of a connection seen from its start. */
static void begin_at(struct call *c, enum http_role role, uint32_t pid,
		     uint32_t tid, const char *target, uint64_t start_ns,
		     const struct podtap_sock_addrs *a, uint64_t pos,
		     const char *traceparent)
{
	prepare(c, role, pid, tid, "GET", target, start_ns, traceparent, NULL);
	c->conn.addrs = a;
	c->conn.whole_stream = true;
	c->req.stream_pos = pos;
	submit(c);
}

static void set_addr(uint8_t *a, int b0, int b1, int b2, int b3)
{
	memset(a, 0, 16);
	a[0] = b0, a[1] = b1, a[2] = b2, a[3] = b3;
}

static bool child_of(const Podtap__Otlp__Span *child,
		     const Podtap__Otlp__Span *parent)
{
	return child && parent && same_bytes(child->trace_id, parent->trace_id) &&
	       same_bytes(child->parent_span_id, parent->span_id);
}

/*
 * Same-node stitching: pod A (10.0.0.1) calls pod B (10.0.0.2:8080) through
 * a Service address (10.96.0.10:80, DNAT). B's SERVER span is the child of
 * A's CLIENT span of the same request (same client port, same byte offset),
 * whichever end is seen first, even after B has answered (its span is
 * held back a while), unless B made a call of its own before its caller's
 * request was seen, or B's request names its caller itself.
 */
static void test_same_node_links(void)
{
	struct podtap_sock_addrs ca = { .family = AF_INET, .local_port = 40000,
					.remote_port = 80 };
	struct podtap_sock_addrs sb = { .family = AF_INET6,
					.local_port = 8080,
					.remote_port = 40000 };
	struct podtap_sock_addrs other = sb;
	struct call sa, c1, b1, c2, b2, c3, b3, b3x, c4, b4, b5, b6, c6, b7, c7,
		later;
	const Podtap__Otlp__Span *a_srv, *x1, *y1, *x2, *y2, *x3, *y3, *y4,
		*y5, *x6, *y6, *x7, *y7;
	struct tracer_stats ts;

	if (start("parentbased_always_on"))
		return;
	set_addr(ca.local_addr, 10, 0, 0, 1);
	set_addr(ca.remote_addr, 10, 96, 0, 10);
	/* B listens dual-stack: its peer is A as an IPv4-mapped address */
	memset(sb.remote_addr, 0, 16);
	sb.remote_addr[10] = sb.remote_addr[11] = 0xff;
	memcpy(sb.remote_addr + 12, ca.local_addr, 4);
	set_addr(sb.local_addr, 0, 0, 0, 0);
	other.remote_port = 40001;

	begin(&sa, HTTP_ROLE_SERVER, 100, 101, "GET", "/a", T0, NULL, NULL);
	/* 1: the client's request is seen first */
	begin_at(&c1, HTTP_ROLE_CLIENT, 100, 101, "/b1", T0 + 1 * MS, &ca, 0,
		 NULL);
	begin_at(&b1, HTTP_ROLE_SERVER, 200, 201, "/b1", T0 + 2 * MS, &sb, 0,
		 NULL);
	end(&b1, 200, T0 + 3 * MS, "/b1");
	end(&c1, 200, T0 + 4 * MS, "/b1");
	/* 2: the server's, on the same connection further on */
	begin_at(&b2, HTTP_ROLE_SERVER, 200, 201, "/b2", T0 + 5 * MS, &sb, 77,
		 NULL);
	begin_at(&c2, HTTP_ROLE_CLIENT, 100, 101, "/b2", T0 + 5 * MS, &ca, 77,
		 NULL);
	end(&b2, 200, T0 + 6 * MS, "/b2");
	end(&c2, 200, T0 + 7 * MS, "/b2");
	/* 3: the server's first, and it calls out before the client's */
	begin_at(&b3, HTTP_ROLE_SERVER, 200, 201, "/b3", T0 + 8 * MS, &sb, 150,
		 NULL);
	begin(&b3x, HTTP_ROLE_CLIENT, 200, 201, "GET", "/b3x", T0 + 8 * MS,
	      NULL, NULL);
	begin_at(&c3, HTTP_ROLE_CLIENT, 100, 101, "/b3", T0 + 9 * MS, &ca, 150,
		 NULL);
	end(&b3x, 200, T0 + 9 * MS, "/b3x");
	end(&b3, 200, T0 + 10 * MS, "/b3");
	end(&c3, 200, T0 + 11 * MS, "/b3");
	/* 4: the request names its parent itself: that wins */
	begin_at(&c4, HTTP_ROLE_CLIENT, 100, 101, "/b4", T0 + 12 * MS, &ca,
		 230, NULL);
	begin_at(&b4, HTTP_ROLE_SERVER, 200, 201, "/b4", T0 + 12 * MS, &sb,
		 230, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	end(&b4, 200, T0 + 13 * MS, "/b4");
	end(&c4, 200, T0 + 13 * MS, "/b4");
	/* 5: another client port at the same offset: not this request */
	begin_at(&b5, HTTP_ROLE_SERVER, 200, 201, "/b5", T0 + 14 * MS, &other,
		 0, NULL);
	end(&b5, 200, T0 + 15 * MS, "/b5");
	/* 6: the server's whole exchange, then the client's request (its
	 * thread preempted before its write returned) */
	begin_at(&b6, HTTP_ROLE_SERVER, 200, 201, "/b6", T0 + 16 * MS, &sb,
		 300, NULL);
	end(&b6, 200, T0 + 17 * MS, "/b6");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.held.held, 2); /* b5 and b6 */
	begin_at(&c6, HTTP_ROLE_CLIENT, 100, 101, "/b6", T0 + 16 * MS, &ca,
		 300, NULL);
	end(&c6, 200, T0 + 18 * MS, "/b6");
	/* 7: the same, the client's request read after the hold is over */
	begin_at(&b7, HTTP_ROLE_SERVER, 200, 201, "/b7", T0 + 19 * MS, &sb,
		 400, NULL);
	end(&b7, 200, T0 + 20 * MS, "/b7");
	/* any exchange ending later lets the spans due go (as a tick does) */
	begin(&later, HTTP_ROLE_SERVER, 300, 301, "GET", "/later",
	      T0 + 219 * MS, NULL, NULL);
	end(&later, 200, T0 + 220 * MS, "/later");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.held.held, 0);
	begin_at(&c7, HTTP_ROLE_CLIENT, 100, 101, "/b7", T0 + 19 * MS, &ca,
		 400, NULL);
	end(&c7, 200, T0 + 250 * MS, "/b7");
	end(&sa, 200, T0 + 260 * MS, "/a");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.linked, 3);
	CHECK_INT(ts.linked_late, 2);
	CHECK_INT(ts.held.evicted, 0);
	CHECK_INT(ts.links.entries, 1); /* b5 waits for a client never seen */
	tracer_tick(tracer, T0 + 60 * SEC);
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.links.entries, 0);
	CHECK_INT(ts.links.expired, 1);
	CHECK_INT(ts.threads.entries, 0);
	flush();

	CHECK_INT(nspans, 16);
	a_srv = span_named("GET /a", KIND_SERVER);
	x1 = span_named("GET /b1", KIND_CLIENT);
	y1 = span_named("GET /b1", KIND_SERVER);
	x2 = span_named("GET /b2", KIND_CLIENT);
	y2 = span_named("GET /b2", KIND_SERVER);
	x3 = span_named("GET /b3", KIND_CLIENT);
	y3 = span_named("GET /b3", KIND_SERVER);
	y4 = span_named("GET /b4", KIND_SERVER);
	y5 = span_named("GET /b5", KIND_SERVER);
	CHECK(child_of(x1, a_srv));
	CHECK(child_of(y1, x1));
	CHECK(child_of(x2, a_srv));
	CHECK(child_of(y2, x2));
	CHECK(child_of(x3, a_srv));
	CHECK(y3 && !child_of(y3, x3) && y3->parent_span_id.len == 0);
	CHECK(y4 && !child_of(y4, span_named("GET /b4", KIND_CLIENT)));
	if (y4)
		CHECK_HEX(y4->parent_span_id, "00f067aa0ba902b7");
	CHECK(y5 && y5->parent_span_id.len == 0);
	x6 = span_named("GET /b6", KIND_CLIENT);
	y6 = span_named("GET /b6", KIND_SERVER);
	x7 = span_named("GET /b7", KIND_CLIENT);
	y7 = span_named("GET /b7", KIND_SERVER);
	CHECK(child_of(x6, a_srv));
	CHECK(child_of(y6, x6));
	CHECK(child_of(x7, a_srv));
	CHECK(y7 && !child_of(y7, x7) && y7->parent_span_id.len == 0);
	forget_bodies();
}

/* An event loop serving two requests on one thread: its call has no
 * parent (counted) rather than a guessed one; once one request ends, the
 * other is the one. */
static void test_ambiguous_parent(void)
{
	struct call s1, s2, c1, c2;
	const Podtap__Otlp__Span *x1, *x2, *srv2;
	struct tracer_stats ts;

	if (start("parentbased_always_on"))
		return;
	begin(&s1, HTTP_ROLE_SERVER, 300, 301, "GET", "/s1", T0, NULL, NULL);
	begin(&s2, HTTP_ROLE_SERVER, 300, 301, "GET", "/s2", T0 + MS, NULL,
	      NULL);
	begin(&c1, HTTP_ROLE_CLIENT, 300, 301, "GET", "/c1", T0 + 2 * MS, NULL,
	      NULL);
	end(&c1, 200, T0 + 3 * MS, "/c1");
	end(&s1, 200, T0 + 4 * MS, "/s1");
	begin(&c2, HTTP_ROLE_CLIENT, 300, 301, "GET", "/c2", T0 + 5 * MS, NULL,
	      NULL);
	end(&c2, 200, T0 + 6 * MS, "/c2");
	end(&s2, 200, T0 + 7 * MS, "/s2");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.ambiguous, 1);
	CHECK_INT(ts.threads.entries, 0);
	flush();
	x1 = span_named("GET /c1", KIND_CLIENT);
	x2 = span_named("GET /c2", KIND_CLIENT);
	srv2 = span_named("GET /s2", KIND_SERVER);
	CHECK(x1 && x1->parent_span_id.len == 0);
	CHECK(child_of(x2, srv2));
	forget_bodies();
}


/* ---- trace context injection ------------------------------------------- */

/* What the tracer told the kernel (tracer_serving_ops), in order. */
struct serving_op {
	char op;              /* 's'erve, 'd'one, 'r'etrace */
	uint32_t tid;
	struct trace_ctx ctx; /* serve */
	uint8_t span_id[8];   /* done (zero: any), retrace */
};

static struct serving_op ops_seen[16];
static int nops;

static void op_serve(void *ctx, uint32_t tid, uint64_t unit,
		     const struct trace_ctx *c)
{
	(void)ctx, (void)unit;
	if (nops < 16) {
		memset(&ops_seen[nops], 0, sizeof(ops_seen[nops]));
		ops_seen[nops].op = 's';
		ops_seen[nops].tid = tid;
		ops_seen[nops++].ctx = *c;
	}
}

static void op_done(void *ctx, uint32_t tid, uint64_t unit,
		    const uint8_t *span_id)
{
	struct serving_op o;

	(void)ctx, (void)unit;
	memset(&o, 0, sizeof(o));
	o.op = 'd';
	o.tid = tid;
	if (span_id)
		memcpy(o.span_id, span_id, 8);
	if (nops < 16)
		ops_seen[nops++] = o;
}

static void op_retrace(void *ctx, uint32_t tid, uint64_t unit,
		       const uint8_t *span_id, const uint8_t *trace_id,
		       bool sampled)
{
	struct serving_op o;

	(void)ctx, (void)unit, (void)sampled;
	memset(&o, 0, sizeof(o));
	o.op = 'r';
	o.tid = tid;
	memcpy(o.span_id, span_id, 8);
	memcpy(o.ctx.trace_id, trace_id, 16);
	if (nops < 16)
		ops_seen[nops++] = o;
}

static void fill(uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = v + (uint8_t)i;
}

/*
 * A server request the kernel named: its span takes the kernel's ids and
 * parent, and the daemon writes no record of its own. A call the kernel
 * injected: its CLIENT span is the one the header names. A request with a
 * b3 header only (the kernel leaves those to the daemon) is published
 * with its framing. A call whose named parent the daemon has in another
 * trace keeps the header's trace and no parent. A second request on the
 * same thread makes it ambiguous: cleared.
 */
static void test_injection(void)
{
	const struct tracer_serving_ops ops = { op_serve, op_done, op_retrace,
						NULL };
	struct podtap_serving_ids ids = { .sampled = 1 };
	struct podtap_injected in = { .sampled = 1, .header_bytes = 70 };
	struct podtap_injected stray = { .sampled = 1, .header_bytes = 70 };
	struct call s1, c1, s2, s3, c2;
	const Podtap__Otlp__Span *srv, *cli, *cli2;
	struct tracer_stats ts;
	uint8_t zero[8] = { 0 };

	if (start("parentbased_always_on"))
		return;
	nops = 0;
	tracer_set_serving_ops(tracer, &ops);
	fill(ids.trace_id, 16, 0x10);
	fill(ids.span_id, 8, 0x40);
	fill(ids.parent_id, 8, 0x60);
	prepare(&s1, HTTP_ROLE_SERVER, 400, 401, "GET", "/named", T0, NULL,
		NULL);
	s1.conn.sock_id = 7;
	s1.conn.gen = 1;
	s1.conn.kernel_named = &ids;
	s1.req.end_pos = 120;
	submit(&s1);
	CHECK_INT(nops, 0);
	memcpy(in.trace_id, ids.trace_id, 16);
	fill(in.span_id, 8, 0x80);
	memcpy(in.parent_id, ids.span_id, 8);
	prepare(&c1, HTTP_ROLE_CLIENT, 400, 401, "GET", "/injected",
		T0 + MS, NULL, NULL);
	c1.conn.injected = &in;
	submit(&c1);
	end(&c1, 200, T0 + 2 * MS, "/injected");
	end(&s1, 200, T0 + 3 * MS, "/named");
	CHECK_INT(nops, 1);
	CHECK(ops_seen[0].op == 'd' && ops_seen[0].tid == 401 &&
	      !memcmp(ops_seen[0].span_id, ids.span_id, 8));

	prepare(&s2, HTTP_ROLE_SERVER, 400, 402, "GET", "/b3", T0 + 4 * MS,
		NULL, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
	s2.conn.sock_id = 9;
	s2.conn.gen = 2;
	s2.req.stream_pos = 500;
	s2.req.end_pos = 640;
	submit(&s2);
	CHECK_INT(nops, 2);
	CHECK(ops_seen[1].op == 's' && ops_seen[1].tid == 402);
	CHECK_INT(ops_seen[1].ctx.sock_id, 9);
	CHECK_INT(ops_seen[1].ctx.gen, 2);
	CHECK_INT(ops_seen[1].ctx.head_pos, 500);
	CHECK_INT(ops_seen[1].ctx.end_pos, 640);
	CHECK_INT(ops_seen[1].ctx.trace_id[0], 0x80);
	CHECK_INT(ops_seen[1].ctx.sampled, 1);
	/* A header naming s2's span (the tracer keeps a request's trace id,
	 * then its span id, first in req.user) but another trace. */
	fill(stray.trace_id, 16, 0x20);
	fill(stray.span_id, 8, 0x90);
	memcpy(stray.parent_id, s2.req.user + 16, 8);
	prepare(&c2, HTTP_ROLE_CLIENT, 400, 402, "GET", "/stray",
		T0 + 6 * MS, NULL, NULL);
	c2.conn.injected = &stray;
	submit(&c2);
	end(&c2, 200, T0 + 7 * MS, "/stray");
	begin(&s3, HTTP_ROLE_SERVER, 400, 402, "GET", "/second", T0 + 5 * MS,
	      NULL, NULL);
	CHECK_INT(nops, 3);
	CHECK(ops_seen[2].op == 'd' && !memcmp(ops_seen[2].span_id, zero, 8));
	end(&s3, 200, T0 + 8 * MS, "/second");
	end(&s2, 200, T0 + 9 * MS, "/b3");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.injected, 2);
	CHECK_INT(ts.injected_unparented, 1);
	flush();
	srv = span_named("GET /named", KIND_SERVER);
	cli = span_named("GET /injected", KIND_CLIENT);
	cli2 = span_named("GET /stray", KIND_CLIENT);
	if (srv && cli && cli2) {
		CHECK_HEX(srv->trace_id, "101112131415161718191a1b1c1d1e1f");
		CHECK_HEX(srv->span_id, "4041424344454647");
		CHECK_HEX(srv->parent_span_id, "6061626364656667");
		CHECK_HEX(cli->span_id, "8081828384858687");
		CHECK(child_of(cli, srv));
		CHECK_HEX(cli2->trace_id, "202122232425262728292a2b2c2d2e2f");
		CHECK_HEX(cli2->span_id, "9091929394959697");
		CHECK_INT(cli2->parent_span_id.len, 0);
	}
	forget_bodies();
}

/* A proxy forwards the traceparent its server request came with, on the
 * same thread: its CLIENT span is not the caller's span again but one of
 * its own, under the proxy's SERVER span. An app that sends a header of its
 * own (another span id) is named by it as before. */
static void test_forwarded_header(void)
{
	static const char tp[] =
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	struct call s1, c1, c2;
	const Podtap__Otlp__Span *srv, *fwd, *own;
	struct tracer_stats ts;

	if (start("parentbased_always_on"))
		return;
	begin(&s1, HTTP_ROLE_SERVER, 600, 601, "GET", "/in", T0, tp, NULL);
	begin(&c1, HTTP_ROLE_CLIENT, 600, 601, "GET", "/up", T0 + MS, tp, NULL);
	end(&c1, 200, T0 + 2 * MS, "/up");
	begin(&c2, HTTP_ROLE_CLIENT, 600, 601, "GET", "/own", T0 + 3 * MS,
	      "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01", NULL);
	end(&c2, 200, T0 + 4 * MS, "/own");
	end(&s1, 200, T0 + 5 * MS, "/in");
	tracer_get_stats(tracer, &ts);
	CHECK_INT(ts.forwarded, 1);
	flush();
	srv = span_named("GET /in", KIND_SERVER);
	fwd = span_named("GET /up", KIND_CLIENT);
	own = span_named("GET /own", KIND_CLIENT);
	if (srv && fwd && own) {
		CHECK_HEX(srv->parent_span_id, "00f067aa0ba902b7");
		CHECK(child_of(fwd, srv));
		CHECK(!same_bytes(fwd->span_id, srv->parent_span_id));
		CHECK_HEX(own->span_id, "1111111111111111");
	}
	forget_bodies();
}

int main(void)
{
	RUN(test_parent_child);
	RUN(test_traceparent);
	RUN(test_client_traceparent);
	RUN(test_always_off);
	RUN(test_process_exit_and_own_exports);
	RUN(test_no_exporter);
	RUN(test_same_node_links);
	RUN(test_ambiguous_parent);
	RUN(test_injection);
	RUN(test_forwarded_header);
	return check_summary("tracer");
}
