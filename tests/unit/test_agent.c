// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The event path end to end, without a kernel: synthetic kernel events
 * (bpf/contract.h) go into agent_handle_event as the ring buffer would
 * hand them over, and what comes out is the /metrics text agent_render
 * writes. Each event is allocated at its exact size, so ASan sees any read
 * past what the kernel would have sent.
 *
 * The config comes from config_parse on an argv of the test's own, so
 * defaults are the daemon's; its cgroup root is a fixture tree in a temp
 * dir (as in test_pod_resolver.c), with the pod log directory beside it.
 * Processes are pids above pid_max: "gone", so cgroups are found by
 * walking the fixture tree, never the machine's.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "daemon/agent.h"
#include "daemon/config.h"
#include "prometheus/prom_writer.h"
#include "pod_fixture.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define T0 (1000 * SEC) /* the event clock when a test starts */

/* pids above pid_max (at most 2^22): no such process */
#define PID_GONE (1u << 23)

#define SERVER_HIST "http_server_request_duration_seconds"
#define CLIENT_HIST "http_client_request_duration_seconds"
#define SERVER_COUNT SERVER_HIST "_count"
#define CLIENT_COUNT CLIENT_HIST "_count"
#define INCOMPLETE "podtap_http_exchanges_incomplete_total"

static struct agent a;
static struct config cfg;
static uint64_t bytes_in; /* sizes handed to agent_handle_event */

/* ---- the agent --------------------------------------------------------- */

/* A fresh fixture dir and an agent on config_parse("podtap" --pod-log-dir
 * <fixture> args...); NULL-terminated args. */
static int start_args(const char *const *args)
{
	char *argv[32] = { "podtap", "--pod-log-dir", logs };
	int argc = 3;

	if (!fixture_make())
		return -1;
	for (; args && *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	bytes_in = 0;
	if (config_parse(&cfg, argc, argv)) {
		CHECK(!"config_parse");
		return -1;
	}
	snprintf(cfg.cgroup_root, sizeof(cfg.cgroup_root), "%s", root);
	if (agent_init(&a, &cfg)) {
		CHECK(!"agent_init");
		config_free(&cfg);
		return -1;
	}
	return 0;
}

#define START(...) start_args((const char *const[]){ __VA_ARGS__, NULL })

static void stop(void)
{
	agent_fini(&a);
	config_free(&cfg);
	fixture_remove();
}

static char *render(void)
{
	struct prom_writer w;

	prom_writer_init(&w);
	agent_render(&a, &w);
	CHECK(!w.failed);
	return w.buf ? w.buf : strdup("");
}

/* ---- reading the exposition text --------------------------------------- */

#define MAX_LABELS 32

struct sample_line {
	char name[128];
	int nlabels;
	char key[MAX_LABELS][64];
	char value[MAX_LABELS][512];
	double v;
};

/* Parses one sample line; false for comments, blanks and junk. */
static bool parse_line(const char *p, const char *end, struct sample_line *s)
{
	size_t n = strcspn(p, "{ \n");

	if (p >= end || *p == '#' || n == 0 || n >= sizeof(s->name))
		return false;
	memcpy(s->name, p, n);
	s->name[n] = '\0';
	p += n;
	s->nlabels = 0;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t k = strcspn(p, "=");
			size_t o = 0;

			if (s->nlabels == MAX_LABELS || k >= 64 || p[k] != '=' ||
			    p[k + 1] != '"')
				return false;
			memcpy(s->key[s->nlabels], p, k);
			s->key[s->nlabels][k] = '\0';
			p += k + 2;
			while (*p != '"') {
				char c = *p++;

				if (!c || c == '\n')
					return false;
				if (c == '\\') {
					c = *p++;
					if (c == 'n')
						c = '\n';
				}
				if (o < 511)
					s->value[s->nlabels][o++] = c;
			}
			s->value[s->nlabels][o] = '\0';
			s->nlabels++;
			p++;
			if (*p == ',')
				p++;
		}
		p++;
	}
	if (*p != ' ')
		return false;
	s->v = strtod(p + 1, NULL);
	return true;
}

/* Whether s has every label of want: "k=v" (label k is v) or "!k" (no
 * label k). */
static bool line_matches(const struct sample_line *s, const char *const *want)
{
	for (; *want; want++) {
		bool absent = (*want)[0] == '!';
		const char *k = *want + absent, *eq = strchr(k, '=');
		size_t klen = eq ? (size_t)(eq - k) : strlen(k);
		bool found = false;

		for (int i = 0; i < s->nlabels && !found; i++)
			found = strlen(s->key[i]) == klen &&
				!strncmp(s->key[i], k, klen) &&
				(absent || !strcmp(s->value[i], eq + 1));
		if (found == absent)
			return false;
	}
	return true;
}

/* The samples of `name` whose labels match want: how many, and the value
 * of the last. */
static int find_samples(const char *text, const char *name,
			const char *const *want, double *v)
{
	struct sample_line s;
	int n = 0;

	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');

		if (!end)
			end = p + strlen(p);
		if (parse_line(p, end, &s) && !strcmp(s.name, name) &&
		    line_matches(&s, want)) {
			n++;
			*v = s.v;
		}
		p = *end ? end + 1 : end;
	}
	return n;
}

/* The value of the one sample of `name` with these labels; -1 when there
 * is none, -2 when there are several. */
static double sample_of(const char *text, const char *name,
			const char *const *want)
{
	double v = -1;
	int n = find_samples(text, name, want, &v);

	return n == 1 ? v : n ? -2 : -1;
}

static int series_of(const char *text, const char *name,
		     const char *const *want)
{
	double v;

	return find_samples(text, name, want, &v);
}

#define SAMPLE(text, name, ...) \
	sample_of(text, name, (const char *const[]){ __VA_ARGS__, NULL })
#define NSERIES(text, name, ...) \
	series_of(text, name, (const char *const[]){ __VA_ARGS__, NULL })
/* An integer sample, compared exactly. */
#define CHECK_SAMPLE(text, name, want, ...)                                  \
	CHECK_INT((long long)SAMPLE(text, name, __VA_ARGS__), want)

/* Every reason of the incomplete family is 0 but those listed. */
static void check_incomplete(const char *text, long long server_closed,
			     long long client_closed)
{
	static const char *const reasons[] = { "closed", "close_lost",
					       "exit_lost", "shutdown",
					       "misordered" };

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		char r[64];

		snprintf(r, sizeof(r), "reason=%s", reasons[i]);
		CHECK_SAMPLE(text, INCOMPLETE, i ? 0 : server_closed,
			     "side=server", r);
		CHECK_SAMPLE(text, INCOMPLETE, i ? 0 : client_closed,
			     "side=client", r);
	}
}

static long long parse_errors(const char *text)
{
	static const char *const reasons[] = {
		"malformed_request", "malformed_response", "head_too_large",
		"head_not_captured", "bad_chunk", "unmatched_response",
		"pipeline_overflow", "gap", "incomplete",
	};
	long long sum = 0;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		char r[64];
		double v;

		snprintf(r, sizeof(r), "reason=%s", reasons[i]);
		v = SAMPLE(text, "podtap_http_parse_errors_total", r);
		CHECK(v >= 0);
		sum += (long long)v;
	}
	return sum;
}

/* ---- synthetic kernel events ------------------------------------------- */

/* One socket as the kernel side reports it. */
struct sock {
	uint64_t id, gen, cgroup;
	uint32_t pid, tid;
	uint8_t role; /* enum podtap_role */
	uint8_t flags;
	const char *comm;
	uint64_t pos[2]; /* per enum podtap_direction */
};

static void emit(const struct sock *s, uint8_t kind, uint8_t dir,
		 uint64_t ts, const void *payload, uint32_t captured,
		 uint32_t count)
{
	size_t size = sizeof(struct podtap_event) + captured;
	struct podtap_event *ev = calloc(1, size);

	if (!ev)
		return;
	ev->ts_ns = ts;
	ev->cgroup_id = s->cgroup;
	ev->sock_id = s->id;
	ev->conn_gen = s->gen;
	ev->stream_pos = kind == PODTAP_EV_DATA ? s->pos[dir] : 0;
	ev->pid = s->pid;
	ev->tid = s->tid;
	ev->fd = 7;
	ev->byte_count = count;
	ev->captured = captured;
	ev->kind = kind;
	ev->direction = dir;
	ev->role = s->role;
	ev->flags = s->flags;
	snprintf(ev->comm, sizeof(ev->comm), "%s", s->comm ? s->comm : "");
	if (captured)
		memcpy(ev->payload, payload, captured);
	agent_handle_event(&a, ev, size);
	bytes_in += size;
	free(ev);
}

/* accept() or connect(): an OPEN with the socket's addresses (IPv4). */
static void ev_open(struct sock *s, uint64_t ts, const char *local,
		    uint16_t lport, const char *remote, uint16_t rport)
{
	struct podtap_sock_addrs addrs = { .family = AF_INET,
					   .local_port = lport,
					   .remote_port = rport };

	inet_pton(AF_INET, local, addrs.local_addr);
	inet_pton(AF_INET, remote, addrs.remote_addr);
	emit(s, PODTAP_EV_OPEN, 0, ts, &addrs, sizeof(addrs), 0);
}

/* A read (ingress) or write (egress) of `count` bytes of which the first
 * `captured` are `data`. */
static void ev_data_n(struct sock *s, uint8_t dir, uint64_t ts,
		      const void *data, uint32_t captured, uint32_t count)
{
	emit(s, PODTAP_EV_DATA, dir, ts, data, captured, count);
	s->pos[dir] += count;
}

static void ev_data(struct sock *s, uint8_t dir, uint64_t ts,
		    const char *data)
{
	ev_data_n(s, dir, ts, data, strlen(data), strlen(data));
}

#define IN PODTAP_DIR_INGRESS
#define OUT PODTAP_DIR_EGRESS

/* Bytes that moved in a syscall whose event was lost. */
static void lose(struct sock *s, uint8_t dir, uint64_t n)
{
	s->pos[dir] += n;
}

static void ev_close(const struct sock *s, uint64_t ts)
{
	emit(s, PODTAP_EV_CLOSE, 0, ts, NULL, 0, 0);
}

static void ev_exit(uint32_t pid, uint64_t cgroup, uint64_t ts)
{
	struct sock s = { .pid = pid, .tid = pid, .cgroup = cgroup };

	emit(&s, PODTAP_EV_PROC_EXIT, 0, ts, NULL, 0, 0);
}

#define HOST_CGROUP 0x7ead0001ULL /* no directory in the fixture tree */

static struct sock server_sock(uint64_t id)
{
	return (struct sock){ .id = id, .gen = 1, .cgroup = HOST_CGROUP,
			      .pid = PID_GONE, .tid = PID_GONE + 1,
			      .role = PODTAP_ROLE_SERVER,
			      .comm = "gunicorn" };
}

static struct sock client_sock(uint64_t id)
{
	return (struct sock){ .id = id, .gen = 1, .cgroup = HOST_CGROUP,
			      .pid = PID_GONE + 10, .tid = PID_GONE + 11,
			      .role = PODTAP_ROLE_CLIENT,
			      .comm = "python3" };
}

static const char OK_2[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* ---- tests -------------------------------------------------------------- */

/* One GET /users/42 -> 200 by a host process: one series, counted once,
 * labelled with method, route, status, scheme and service_name = comm,
 * timed from the request's read to the response's write. */
static void test_server_exchange(void)
{
	struct sock s = server_sock(1);
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0 + 1 * MS,
		"GET /users/42 HTTP/1.1\r\nHost: api:8080\r\n"
		"User-Agent: curl/7.88.1\r\n\r\n");
	ev_data(&s, OUT, T0 + 31 * MS, OK_2);

	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 1);
	CHECK_INT(NSERIES(m, CLIENT_COUNT, NULL), 0);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_request_method=GET",
		     "http_response_status_code=200",
		     "http_route=/users/{id}", "url_scheme=http",
		     "service_name=gunicorn", "k8s_namespace_name=",
		     "k8s_pod_name=", "k8s_container_name=",
		     "k8s_node_name=node-a", "!server_address", "!server_port");
	/* 30 ms: in the 0.05 bucket, not the 0.025 one */
	CHECK(SAMPLE(m, SERVER_HIST "_sum", "http_route=/users/{id}") == 0.03);
	CHECK_SAMPLE(m, SERVER_HIST "_bucket", 0, "le=0.025");
	CHECK_SAMPLE(m, SERVER_HIST "_bucket", 1, "le=0.05");
	CHECK_SAMPLE(m, SERVER_HIST "_bucket", 1, "le=+Inf");
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 1, "side=server");
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 0, "side=client");
	CHECK_SAMPLE(m, "podtap_connections_total", 1, "protocol=http");
	CHECK_SAMPLE(m, "podtap_connections_total", 0, "protocol=other");
	CHECK_SAMPLE(m, "podtap_connections_tracked", 1, NULL);
	CHECK_SAMPLE(m, "podtap_events_total", 1, "kind=open");
	CHECK_SAMPLE(m, "podtap_events_total", 2, "kind=data");
	CHECK_SAMPLE(m, "podtap_event_bytes_total", (long long)bytes_in, NULL);
	CHECK_SAMPLE(m, "podtap_series", 1, NULL);
	CHECK_INT(parse_errors(m), 0);
	check_incomplete(m, 0, 0);
	free(m);

	/* The close ends nothing in flight: still one, nothing incomplete. */
	ev_close(&s, T0 + 40 * MS);
	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/users/{id}");
	CHECK_SAMPLE(m, "podtap_connections_tracked", 0, NULL);
	CHECK_SAMPLE(m, "podtap_events_total", 1, "kind=close");
	check_incomplete(m, 0, 0);
	free(m);
	stop();
}

/* Client calls: server_address and server_port from the Host header, 80
 * (443 over TLS) when it names no port, the peer's address without one. */
static void test_client_exchange(void)
{
	struct sock c1 = client_sock(1), c2 = client_sock(2),
		    c3 = client_sock(3), c4 = client_sock(4);
	char *m;

	if (START(NULL))
		return;
	ev_open(&c1, T0, "10.0.0.2", 41000, "10.0.0.9", 8000);
	ev_data(&c1, OUT, T0 + 1 * MS,
		"GET /items/17 HTTP/1.1\r\nHost: inventory.shop.svc:8000\r\n"
		"\r\n");
	ev_data(&c1, IN, T0 + 3 * MS,
		"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");

	ev_open(&c2, T0, "10.0.0.2", 41001, "10.0.0.9", 8000);
	ev_data(&c2, OUT, T0 + 1 * MS,
		"POST /orders HTTP/1.1\r\nHost: billing\r\n"
		"Content-Length: 5\r\n\r\nhello");
	ev_data(&c2, IN, T0 + 2 * MS,
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");

	ev_open(&c3, T0, "10.0.0.2", 41002, "10.0.0.7", 9000);
	ev_data(&c3, OUT, T0 + 1 * MS, "GET /health HTTP/1.0\r\n\r\n");
	ev_data(&c3, IN, T0 + 2 * MS, "HTTP/1.0 200 OK\r\n\r\nup");
	ev_close(&c3, T0 + 3 * MS); /* ends the close-delimited body */

	c4.flags = PODTAP_EVF_TLS;
	ev_open(&c4, T0, "10.0.0.2", 41003, "10.0.0.8", 443);
	ev_data(&c4, OUT, T0 + 1 * MS,
		"GET /v1/charges HTTP/1.1\r\nHost: api.stripe.example\r\n\r\n");
	ev_data(&c4, IN, T0 + 2 * MS, OK_2);

	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 0);
	CHECK_INT(NSERIES(m, CLIENT_COUNT, NULL), 4);
	CHECK_SAMPLE(m, CLIENT_COUNT, 1, "http_request_method=GET",
		     "http_response_status_code=201", "http_route=/items/{id}",
		     "url_scheme=http", "server_address=inventory.shop.svc",
		     "server_port=8000", "service_name=python3");
	CHECK_SAMPLE(m, CLIENT_COUNT, 1, "http_request_method=POST",
		     "http_response_status_code=503", "http_route=/orders",
		     "server_address=billing", "server_port=80");
	CHECK_SAMPLE(m, CLIENT_COUNT, 1, "http_route=/health",
		     "server_address=10.0.0.7", "server_port=9000");
	CHECK_SAMPLE(m, CLIENT_COUNT, 1, "http_route=/v1/charges",
		     "url_scheme=https", "server_address=api.stripe.example",
		     "server_port=443");
	/* 2 ms from the request's write to the response's read */
	CHECK(SAMPLE(m, CLIENT_HIST "_sum", "http_route=/items/{id}") == 0.002);
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 0, "side=server");
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 4, "side=client");
	CHECK_SAMPLE(m, "podtap_connections_total", 4, "protocol=http");
	CHECK_INT(parse_errors(m), 0);
	check_incomplete(m, 0, 0);
	free(m);
	stop();
}

/* Keep-alive: three exchanges one after the other on one connection, then
 * two pipelined (both requests in one read, both answers in one write). */
static void test_keep_alive(void)
{
	struct sock s = server_sock(1), p = server_sock(2);
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	for (int i = 0; i < 3; i++) {
		uint64_t t = T0 + (uint64_t)i * 100 * MS;

		ev_data(&s, IN, t, "GET /users/7 HTTP/1.1\r\nHost: api\r\n\r\n");
		ev_data(&s, OUT, t + 10 * MS, OK_2);
	}
	ev_open(&p, T0, "10.0.0.1", 8080, "10.0.0.3", 50001);
	ev_data(&p, IN, T0 + 1 * MS,
		"GET /a HTTP/1.1\r\nHost: api\r\n\r\n"
		"GET /a HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&p, OUT, T0 + 5 * MS,
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 3, "http_route=/users/{id}");
	CHECK(SAMPLE(m, SERVER_HIST "_sum", "http_route=/users/{id}") == 0.03);
	CHECK_SAMPLE(m, SERVER_HIST "_bucket", 3, "http_route=/users/{id}",
		     "le=0.01");
	CHECK_SAMPLE(m, SERVER_COUNT, 2, "http_route=/a");
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 5, "side=server");
	CHECK_SAMPLE(m, "podtap_connections_total", 2, "protocol=http");
	CHECK_INT(parse_errors(m), 0);
	free(m);
	stop();
}

/* A connection closed mid-response: the request is counted as incomplete
 * (closed), not as an exchange, on whichever side it was. */
static void test_closed_mid_response(void)
{
	struct sock s = server_sock(1), c = client_sock(2);
	static const char part[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0, "GET /users/42 HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&s, OUT, T0 + 5 * MS, part);
	ev_close(&s, T0 + 6 * MS);

	ev_open(&c, T0, "10.0.0.2", 41000, "10.0.0.9", 8000);
	ev_data(&c, OUT, T0, "GET /x HTTP/1.1\r\nHost: up\r\n\r\n");
	ev_data(&c, IN, T0 + 5 * MS, part);
	ev_close(&c, T0 + 6 * MS);

	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 0);
	CHECK_INT(NSERIES(m, CLIENT_COUNT, NULL), 0);
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 0, "side=server");
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 0, "side=client");
	check_incomplete(m, 1, 1);
	CHECK_SAMPLE(m, "podtap_http_parse_errors_total", 2,
		     "reason=incomplete");
	CHECK_SAMPLE(m, "podtap_connections_tracked", 0, NULL);
	free(m);
	stop();
}

/* A process exit is its connections' close: what is in flight is
 * incomplete (closed), and a body that ends at close ended with its last
 * write. */
static void test_process_exit(void)
{
	struct sock s = server_sock(1), d = server_sock(2),
		    other = server_sock(3);
	char *m;

	if (START(NULL))
		return;
	other.pid = PID_GONE + 100; /* another process: stays */
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0, "GET /slow HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_open(&d, T0, "10.0.0.1", 8080, "10.0.0.3", 50001);
	ev_data(&d, IN, T0, "GET /stream HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&d, OUT, T0 + 2 * MS, "HTTP/1.1 200 OK\r\n\r\npart one");
	ev_open(&other, T0, "10.0.0.1", 8080, "10.0.0.4", 50002);
	ev_exit(PID_GONE, HOST_CGROUP, T0 + 7 * MS);

	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, "http_route=/slow"), 0);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/stream");
	CHECK(SAMPLE(m, SERVER_HIST "_sum", "http_route=/stream") == 0.002);
	check_incomplete(m, 1, 0);
	CHECK_SAMPLE(m, "podtap_events_total", 1, "kind=process_exit");
	CHECK_SAMPLE(m, "podtap_connections_tracked", 1, NULL);
	free(m);
	stop();
}

/* Ends podtap did not see: a new generation on a socket (close lost) and a
 * connection idle for a minute whose process is gone (exit lost). Neither
 * finishes an exchange, not even one whose body ends at close. */
static void test_unseen_ends(void)
{
	struct sock s = server_sock(1), idle = server_sock(2),
		    busy = server_sock(3);
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0, "GET /a HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&s, OUT, T0 + 1 * MS, "HTTP/1.1 200 OK\r\n\r\nuntil close");
	s.gen = 2;
	s.pos[IN] = s.pos[OUT] = 0;
	ev_open(&s, T0 + 2 * MS, "10.0.0.1", 8080, "10.0.0.5", 50100);
	ev_data(&s, IN, T0 + 3 * MS, "GET /b HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&s, OUT, T0 + 4 * MS, OK_2);

	ev_open(&idle, T0, "10.0.0.1", 8080, "10.0.0.3", 50001);
	ev_data(&idle, IN, T0, "GET /c HTTP/1.1\r\nHost: api\r\n\r\n");
	busy.pid = (uint32_t)getpid(); /* alive: not swept */
	ev_open(&busy, T0, "10.0.0.1", 8080, "10.0.0.4", 50002);
	ev_data(&busy, IN, T0, "GET /d HTTP/1.1\r\nHost: api\r\n\r\n");

	/* 60 s idle is not yet "idle"; past it the gone process's goes */
	agent_tick(&a, T0 + 60 * SEC);
	m = render();
	CHECK_SAMPLE(m, "podtap_connections_tracked", 3, NULL);
	free(m);
	agent_tick(&a, T0 + 61 * SEC);

	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/b");
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 1);
	CHECK_SAMPLE(m, INCOMPLETE, 1, "side=server", "reason=close_lost");
	CHECK_SAMPLE(m, INCOMPLETE, 1, "side=server", "reason=exit_lost");
	CHECK_SAMPLE(m, INCOMPLETE, 0, "side=server", "reason=closed");
	CHECK_SAMPLE(m, "podtap_connections_tracked", 1, NULL);
	free(m);
	stop();
}

/* A response stamped before its request: its latency would be made up. */
static void test_misordered(void)
{
	struct sock s = server_sock(1);
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0 + 10 * MS, "GET /a HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&s, OUT, T0 + 5 * MS, OK_2);
	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 0);
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 0, "side=server");
	CHECK_SAMPLE(m, INCOMPLETE, 1, "side=server", "reason=misordered");
	free(m);
	stop();
}

/* Bytes that are not HTTP/1.x (a TLS ClientHello on a plain socket):
 * the connection is counted as other and nothing comes of it, not even
 * when HTTP-looking bytes follow. */
static void test_not_http(void)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
					 0x00, 0x01, 0xfc, 0x03, 0x03, 0x8a,
					 0x00, 0xff, 0x13, 0x01 };
	struct sock s = server_sock(1);
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8443, "10.0.0.2", 50000);
	ev_data_n(&s, IN, T0, hello, sizeof(hello), 517);
	ev_data(&s, OUT, T0 + 1 * MS, OK_2);
	ev_data(&s, IN, T0 + 2 * MS, "GET /a HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&s, OUT, T0 + 3 * MS, OK_2);
	ev_close(&s, T0 + 4 * MS);

	m = render();
	CHECK_SAMPLE(m, "podtap_connections_total", 1, "protocol=other");
	CHECK_SAMPLE(m, "podtap_connections_total", 0, "protocol=http");
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 0);
	CHECK_INT(NSERIES(m, CLIENT_COUNT, NULL), 0);
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 0, "side=server");
	CHECK_SAMPLE(m, "podtap_series", 0, NULL);
	CHECK_INT(parse_errors(m), 0);
	check_incomplete(m, 0, 0);
	/* every event is still counted as read */
	CHECK_SAMPLE(m, "podtap_events_total", 4, "kind=data");
	free(m);
	stop();
}

/* Lost events (a jump in stream_pos), as the parser's rules say: a lost
 * request costs its exchange and its answer matches nothing; bytes lost
 * inside a body of known length are counted through and cost nothing. */
static void test_gap(void)
{
	struct sock s = server_sock(1), b = server_sock(2);
	static const char req2[] = "GET /second HTTP/1.1\r\nHost: e\r\n\r\n";
	char *m;

	if (START(NULL))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0 + 100 * MS, "GET /first HTTP/1.1\r\n\r\n");
	ev_data(&s, OUT, T0 + 200 * MS, OK_2);
	lose(&s, IN, strlen(req2)); /* GET /second's read was lost */
	ev_data(&s, OUT, T0 + 400 * MS, OK_2);
	ev_data(&s, IN, T0 + 500 * MS, "GET /third HTTP/1.1\r\n\r\n");
	ev_data(&s, OUT, T0 + 600 * MS, OK_2);

	ev_open(&b, T0, "10.0.0.1", 8080, "10.0.0.3", 50001);
	ev_data(&b, IN, T0, "GET /big HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&b, OUT, T0 + 1 * MS,
		"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n");
	ev_data_n(&b, OUT, T0 + 2 * MS, "aaaa", 4, 1000);
	lose(&b, OUT, 1000);
	ev_data_n(&b, OUT, T0 + 4 * MS, "cccc", 4, 1000);
	ev_data(&b, IN, T0 + 5 * MS, "GET /after HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&b, OUT, T0 + 6 * MS, OK_2);

	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/first");
	CHECK_INT(NSERIES(m, SERVER_COUNT, "http_route=/second"), 0);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/third");
	CHECK(SAMPLE(m, SERVER_HIST "_sum", "http_route=/third") == 0.1);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/big");
	CHECK(SAMPLE(m, SERVER_HIST "_sum", "http_route=/big") == 0.004);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/after");
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 4);
	CHECK_SAMPLE(m, "podtap_http_parse_errors_total", 1, "reason=gap");
	CHECK_SAMPLE(m, "podtap_http_parse_errors_total", 1,
		     "reason=unmatched_response");
	CHECK_INT(parse_errors(m), 2);
	check_incomplete(m, 0, 0);
	free(m);
	stop();
}

/* A connection first seen mid-stream (no accept or connect seen, role
 * unknown): what came before a request line answers nothing, and the
 * first request line read says it is a server. */
static void test_mid_stream(void)
{
	struct sock s = server_sock(1);
	char *m;

	if (START(NULL))
		return;
	s.role = PODTAP_ROLE_UNKNOWN;
	s.pos[IN] = 5000;
	s.pos[OUT] = 7000;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	ev_data(&s, IN, T0, "the end of a request body");
	ev_data(&s, OUT, T0 + 1 * MS, OK_2); /* its answer: of nothing seen */
	ev_data(&s, IN, T0 + 10 * MS, "GET /next HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&s, OUT, T0 + 12 * MS, OK_2);

	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 1);
	CHECK_INT(NSERIES(m, CLIENT_COUNT, NULL), 0);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/next");
	CHECK(SAMPLE(m, SERVER_HIST "_sum", "http_route=/next") == 0.002);
	CHECK_SAMPLE(m, "podtap_connections_total", 1, "protocol=http");
	CHECK_INT(parse_errors(m), 0);
	free(m);
	stop();
}

#define UID1 "0d8f1c2a-4b3e-4f5a-9c6d-7e8f9a0b1c2d"
#define UID1_ "0d8f1c2a_4b3e_4f5a_9c6d_7e8f9a0b1c2d"
#define UID2 "11111111-2222-4333-8444-555555555555"
#define UID2_ "11111111_2222_4333_8444_555555555555"
#define CID1 "4f1d7e2b9a8c6d5e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"
#define CID2 "84e0e502d968b4599ebdbe83e9777f720973638828c621ccf8167299a842f20d"
#define GKE_POD "kubepods.slice/kubepods-burstable.slice/" \
	"kubepods-burstable-pod" UID1_ ".slice"
#define GKE GKE_POD "/cri-containerd-" CID1 ".scope"
#define CRIO "kubepods.slice/kubepods-pod" UID2_ ".slice/crio-" CID2 ".scope"

/* A pod's traffic beside a host process's: k8s_* labels from the cgroup
 * tree and the pod log directory, service_name the container's. */
static void test_pod_workload(void)
{
	struct sock p = server_sock(1), h = server_sock(2);
	char *m;

	if (START(NULL))
		return;
	mkdirs(GKE);
	log_dir("shop", "web-7c9d8f6b5-x2x9q", UID1, "web");
	p.cgroup = cgid(GKE);
	ev_open(&p, T0, "10.4.0.7", 8080, "10.4.1.2", 50000);
	ev_data(&p, IN, T0, "GET /users/42 HTTP/1.1\r\nHost: web\r\n\r\n");
	ev_data(&p, OUT, T0 + 20 * MS, OK_2);
	ev_open(&h, T0, "10.0.0.1", 8080, "10.0.0.2", 50001);
	ev_data(&h, IN, T0, "GET /users/43 HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&h, OUT, T0 + 20 * MS, OK_2);

	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, "http_route=/users/{id}"), 2);
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/users/{id}",
		     "k8s_namespace_name=shop",
		     "k8s_pod_name=web-7c9d8f6b5-x2x9q",
		     "k8s_container_name=web", "service_name=web",
		     "k8s_node_name=node-a", "k8s_deployment_name=");
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/users/{id}",
		     "k8s_namespace_name=", "k8s_pod_name=",
		     "service_name=gunicorn");
	free(m);
	stop();
}

/* A pod known from its cgroup's mkdir event: its traffic is the pod's
 * although its cgroup directory is gone by the time its events are read. */
static void test_pod_cgroup_made(void)
{
	struct sock p = server_sock(1);
	char path[] = "/" CRIO;
	char *m;

	if (START(NULL))
		return;
	log_dir("data", "postgres-0", UID2, "postgres");
	p.cgroup = 0x7ead0002ULL; /* no such directory */
	p.comm = "postgres";
	emit(&p, PODTAP_EV_CGROUP_MKDIR, 0, T0, path, sizeof(path), 0);
	ev_open(&p, T0, "10.4.0.8", 8080, "10.4.1.2", 50000);
	ev_data(&p, IN, T0, "GET /healthz HTTP/1.1\r\nHost: pg\r\n\r\n");
	ev_data(&p, OUT, T0 + 1 * MS, OK_2);

	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/healthz",
		     "k8s_namespace_name=data", "k8s_pod_name=postgres-0",
		     "k8s_container_name=postgres", "service_name=postgres");
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 1);
	CHECK_SAMPLE(m, "podtap_events_total", 1, "kind=cgroup_mkdir");
	free(m);
	stop();
}

/* --series-ttl: a live pod's series stay however old; once its cgroup is
 * gone they go a TTL after their last request, and so do a host
 * process's. */
static void test_series_expiry(void)
{
	struct sock p = server_sock(1), h = server_sock(2);
	uint64_t t = T0;
	char *m;

	if (START("--series-ttl", "10"))
		return;
	mkdirs(GKE);
	log_dir("shop", "web-7c9d8f6b5-x2x9q", UID1, "web");
	p.cgroup = cgid(GKE);
	ev_open(&p, t, "10.4.0.7", 8080, "10.4.1.2", 50000);
	ev_data(&p, IN, t, "GET /a HTTP/1.1\r\nHost: web\r\n\r\n");
	ev_data(&p, OUT, t + 1 * MS, OK_2);
	ev_close(&p, t + 2 * MS);
	ev_open(&h, t, "10.0.0.1", 8080, "10.0.0.2", 50001);
	ev_data(&h, IN, t, "GET /b HTTP/1.1\r\nHost: api\r\n\r\n");
	ev_data(&h, OUT, t + 1 * MS, OK_2);
	ev_close(&h, t + 2 * MS);

	agent_tick(&a, t + 9 * SEC); /* within the TTL: nothing goes */
	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 2);
	CHECK_SAMPLE(m, "podtap_series_expired_total", 0, "workload=host");
	free(m);
	agent_tick(&a, t + 11 * SEC); /* host unused for the TTL: goes */
	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/a",
		     "k8s_pod_name=web-7c9d8f6b5-x2x9q");
	CHECK_INT(NSERIES(m, SERVER_COUNT, "http_route=/b"), 0);
	CHECK_SAMPLE(m, "podtap_series", 1, NULL);
	CHECK_SAMPLE(m, "podtap_series_expired_total", 0, "workload=pod");
	CHECK_SAMPLE(m, "podtap_series_expired_total", 1, "workload=host");
	free(m);

	/* The pod is deleted: its series go a TTL after their last use. */
	rmdirs(GKE, 2);
	agent_tick(&a, t + 12 * SEC);
	m = render();
	CHECK_INT(NSERIES(m, SERVER_COUNT, NULL), 0);
	CHECK_SAMPLE(m, "podtap_series", 0, NULL);
	CHECK_SAMPLE(m, "podtap_series_expired_total", 1, "workload=pod");
	CHECK_SAMPLE(m, "podtap_series_expired_total", 1, "workload=host");
	free(m);

	/* The same names again: a series of their own, from 1. */
	p.gen = 2;
	p.pos[IN] = p.pos[OUT] = 0;
	mkdirs(GKE);
	p.cgroup = cgid(GKE);
	t += 20 * SEC;
	ev_open(&p, t, "10.4.0.7", 8080, "10.4.1.2", 50002);
	ev_data(&p, IN, t, "GET /a HTTP/1.1\r\nHost: web\r\n\r\n");
	ev_data(&p, OUT, t + 1 * MS, OK_2);
	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/a",
		     "k8s_pod_name=web-7c9d8f6b5-x2x9q");
	free(m);
	stop();
}

/* --route patterns win over the heuristic; past --max-series-per-pod a
 * workload's new series fold into the overflow route, counted. */
static void test_routes_and_cap(void)
{
	struct sock s = server_sock(1);
	static const char *const reqs[] = {
		"GET /users/alice/orders HTTP/1.1\r\n\r\n",
		"GET /users/bob/orders HTTP/1.1\r\n\r\n",
		"PURGE /cache HTTP/1.1\r\n\r\n",
		"GET /one HTTP/1.1\r\n\r\n",
		"GET /two HTTP/1.1\r\n\r\n",
		"GET /three HTTP/1.1\r\n\r\n",
	};
	char *m;

	if (START("--route", "/users/{user}/orders", "--max-series-per-pod",
		  "3"))
		return;
	ev_open(&s, T0, "10.0.0.1", 8080, "10.0.0.2", 50000);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		ev_data(&s, IN, T0 + i * 10 * MS, reqs[i]);
		ev_data(&s, OUT, T0 + i * 10 * MS + 1 * MS, OK_2);
	}
	m = render();
	CHECK_SAMPLE(m, SERVER_COUNT, 2, "http_route=/users/{user}/orders");
	/* a method outside the OpenTelemetry set */
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/cache",
		     "http_request_method=_OTHER");
	CHECK_SAMPLE(m, SERVER_COUNT, 1, "http_route=/one");
	CHECK_INT(NSERIES(m, SERVER_COUNT, "http_route=/two"), 0);
	CHECK_INT(NSERIES(m, SERVER_COUNT, "http_route=/three"), 0);
	CHECK_SAMPLE(m, SERVER_COUNT, 2, "http_route={overflow}",
		     "http_request_method=GET", "service_name=gunicorn");
	CHECK_SAMPLE(m, "podtap_series_dropped_total", 2,
		     "service_name=gunicorn");
	CHECK_SAMPLE(m, "podtap_series", 4, NULL);
	CHECK_SAMPLE(m, "podtap_http_exchanges_total", 6, "side=server");
	free(m);
	stop();
}

int main(void)
{
	clearenv();
	setenv("NODE_NAME", "node-a", 1);
	RUN(test_server_exchange);
	RUN(test_client_exchange);
	RUN(test_keep_alive);
	RUN(test_closed_mid_response);
	RUN(test_process_exit);
	RUN(test_unseen_ends);
	RUN(test_misordered);
	RUN(test_not_http);
	RUN(test_gap);
	RUN(test_mid_stream);
	RUN(test_pod_workload);
	RUN(test_pod_cgroup_made);
	RUN(test_series_expiry);
	RUN(test_routes_and_cap);
	return check_summary("agent");
}
