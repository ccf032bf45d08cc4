// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "statsd/statsd.h"

#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/hashmap.h"
#include "lib/listen_addr.h"
#include "lib/log.h"

/* Counters summed between flushes, at most this many (prefix, status)
 * pairs: one more sends them early. */
#define COUNTERS_MAX 4096
#define RETRY_NS (5ULL * NSEC_PER_SEC)
#define TEMPLATE_MAX 256

/* The placeholders of a prefix template, and where each is in a workload. */
static const struct {
	const char *name;
	size_t offset;
} fields[] = {
	{ "namespace", offsetof(struct workload, namespace) },
	{ "pod", offsetof(struct workload, pod) },
	{ "container", offsetof(struct workload, container) },
	{ "service", offsetof(struct workload, service) },
	{ "deployment", offsetof(struct workload, deployment) },
	{ "statefulset", offsetof(struct workload, statefulset) },
	{ "daemonset", offsetof(struct workload, daemonset) },
};

/* One counter line's sum: status 0 is gunicorn.requests. */
struct counter {
	struct hnode node;
	int status;
	uint64_t n;
	char prefix[]; /* expanded */
};

struct statsd {
	char host[LISTEN_ADDR_HOST_MAX];
	char port[LISTEN_ADDR_PORT_MAX];
	char template[TEMPLATE_MAX];
	bool numeric;          /* an IP address: resolved once */
	int fd;                /* -1 until resolved */
	/* The lookup in flight (getaddrinfo_a). */
	bool lookup_busy;
	struct addrinfo hints;
	struct gaicb req;
	uint64_t next_lookup_ns;
	bool warned;           /* the current failure streak was logged */
	/* The datagram being filled. */
	char buf[STATSD_DATAGRAM_MAX];
	size_t len;
	unsigned int nlines;
	struct hmap counters;
	_Atomic uint64_t datagrams, lines, dropped[STATSD_DROP__COUNT];
	_Atomic bool resolved;
};

const char *statsd_drop_name(enum statsd_drop d)
{
	switch (d) {
	case STATSD_DROP_UNRESOLVED: return "unresolved";
	case STATSD_DROP_SEND: return "send_failed";
	case STATSD_DROP_NO_MEMORY: return "no_memory";
	default: return "unknown";
	}
}

/* Bytes a statsd name may hold as they are: the rest (':' and '|' would
 * break the line) become '_'. Dots stay: they are Graphite's levels. */
static bool name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* The field a placeholder at t (just after its '{') names, or -1. */
static int field_at(const char *t, size_t *len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t n = strlen(fields[i].name);

		if (!strncmp(t, fields[i].name, n) && t[n] == '}') {
			*len = n + 1;
			return (int)i;
		}
	}
	return -1;
}

const char *statsd_prefix_check(const char *template)
{
	size_t len;

	if (strlen(template) >= TEMPLATE_MAX)
		return "must be shorter than 256 bytes";
	for (const char *t = template; *t;) {
		if (*t == '{') {
			if (field_at(t + 1, &len) < 0)
				return "must name only {namespace}, {pod}, {container}, {service}, {deployment}, {statefulset} or {daemonset}, between letters, digits and _ . -";
			t += 1 + len;
		} else if (name_byte(*t)) {
			t++;
		} else {
			return "must name only {namespace}, {pod}, {container}, {service}, {deployment}, {statefulset} or {daemonset}, between letters, digits and _ . -";
		}
	}
	return NULL;
}

/* w's prefix: the template with w's names, ended by one '.' unless empty
 * (gunicorn's rule for --statsd-prefix). */
static void expand(const struct statsd *s, const struct workload *w,
		   char *out)
{
	size_t n = 0, len;

	for (const char *t = s->template; *t && n < STATSD_PREFIX_MAX - 2;) {
		int f = *t == '{' ? field_at(t + 1, &len) : -1;

		if (f < 0) {
			out[n++] = *t++;
			continue;
		}
		for (const char *v = (const char *)w + fields[f].offset;
		     *v && n < STATSD_PREFIX_MAX - 2; v++)
			out[n++] = name_byte(*v) ? *v : '_';
		t += 1 + len;
	}
	while (n && out[n - 1] == '.')
		n--;
	if (n)
		out[n++] = '.';
	out[n] = '\0';
}

/* --- datagrams ---------------------------------------------------------- */

static void send_datagram(struct statsd *s)
{
	if (!s->len)
		return;
	if (send(s->fd, s->buf, s->len, MSG_DONTWAIT) == (ssize_t)s->len) {
		atomic_fetch_add(&s->datagrams, 1);
		atomic_fetch_add(&s->lines, s->nlines);
	} else {
		atomic_fetch_add(&s->dropped[STATSD_DROP_SEND], s->nlines);
	}
	s->len = 0;
	s->nlines = 0;
}

static void add_line(struct statsd *s, const char *line, size_t n)
{
	if (s->fd < 0) {
		atomic_fetch_add(&s->dropped[STATSD_DROP_UNRESOLVED], 1);
		return;
	}
	if (s->len && s->len + 1 + n > sizeof(s->buf))
		send_datagram(s);
	if (n > sizeof(s->buf)) { /* cannot be: prefixes are bounded */
		atomic_fetch_add(&s->dropped[STATSD_DROP_SEND], 1);
		return;
	}
	if (s->len)
		s->buf[s->len++] = '\n';
	memcpy(s->buf + s->len, line, n);
	s->len += n;
	s->nlines++;
}

/* --- counters ----------------------------------------------------------- */

static uint64_t counter_hash(const char *prefix, int status)
{
	return hash_bytes(prefix, strlen(prefix), hash_u64((uint64_t)status));
}

struct counter_key {
	const char *prefix;
	int status;
};

static bool counter_eq(const struct hnode *n, const void *key)
{
	const struct counter *c = hmap_entry(n, struct counter, node);
	const struct counter_key *k = key;

	return c->status == k->status && !strcmp(c->prefix, k->prefix);
}

static void flush_counters(struct statsd *s)
{
	char line[STATSD_PREFIX_MAX + 64];

	hmap_for_each(it, &s->counters) {
		struct counter *c = hmap_entry(it.node, struct counter, node);
		int n = c->status
				? snprintf(line, sizeof(line),
					   "%sgunicorn.request.status.%d:%llu|c",
					   c->prefix, c->status,
					   (unsigned long long)c->n)
				: snprintf(line, sizeof(line),
					   "%sgunicorn.requests:%llu|c",
					   c->prefix, (unsigned long long)c->n);

		add_line(s, line, (size_t)n);
		hmap_remove(&s->counters, &c->node);
		free(c);
	}
}

static void count(struct statsd *s, const char *prefix, int status)
{
	struct counter_key k = { prefix, status };
	uint64_t h = counter_hash(prefix, status);
	struct hnode *n = hmap_find(&s->counters, h, &k, counter_eq);
	struct counter *c;

	if (n) {
		hmap_entry(n, struct counter, node)->n++;
		return;
	}
	if (s->counters.count >= COUNTERS_MAX)
		flush_counters(s);
	c = malloc(sizeof(*c) + strlen(prefix) + 1);
	if (!c) {
		atomic_fetch_add(&s->dropped[STATSD_DROP_NO_MEMORY], 1);
		return;
	}
	c->status = status;
	c->n = 1;
	strcpy(c->prefix, prefix);
	hmap_insert(&s->counters, &c->node, h);
}

void statsd_request(struct statsd *s, const struct workload *w, int status,
		    double seconds)
{
	char prefix[STATSD_PREFIX_MAX], line[STATSD_PREFIX_MAX + 64];
	int n;

	expand(s, w, prefix);
	n = snprintf(line, sizeof(line), "%sgunicorn.request.duration:%.3f|ms",
		     prefix, seconds * 1e3);
	add_line(s, line, (size_t)n);
	count(s, prefix, 0);
	count(s, prefix, status);
}

/* --- the address -------------------------------------------------------- */

/* Takes the first address of res: the socket is connected to it, so that
 * each datagram is one send. */
static void use_address(struct statsd *s, const struct addrinfo *res)
{
	int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen)) {
		log_warn("statsd %s:%s: %s", s->host, s->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	send_datagram(s); /* what the old socket batched */
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	if (!atomic_exchange(&s->resolved, true) || s->warned)
		log_info("statsd: sending to %s:%s", s->host, s->port);
	s->warned = false;
}

static void lookup_done(struct statsd *s, int err, uint64_t now_ns)
{
	s->lookup_busy = false;
	if (!err) {
		use_address(s, s->req.ar_result);
		freeaddrinfo(s->req.ar_result);
		s->req.ar_result = NULL;
		s->next_lookup_ns = now_ns + STATSD_RESOLVE_S * NSEC_PER_SEC;
		return;
	}
	if (!s->warned)
		log_warn("statsd: cannot resolve %s: %s (trying again every "
			 "5 s; lines until then are counted as dropped)",
			 s->host, gai_strerror(err));
	s->warned = true;
	s->next_lookup_ns = now_ns + RETRY_NS;
}

static void lookup_start(struct statsd *s, uint64_t now_ns)
{
	struct gaicb *list[1] = { &s->req };
	int err;

	memset(&s->req, 0, sizeof(s->req));
	s->req.ar_name = s->host;
	s->req.ar_service = s->port;
	s->req.ar_request = &s->hints;
	err = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (err)
		lookup_done(s, err, now_ns);
	else
		s->lookup_busy = true;
}

void statsd_flush(struct statsd *s, uint64_t now_ns)
{
	if (s->lookup_busy) {
		int err = gai_error(&s->req);

		if (err != EAI_INPROGRESS)
			lookup_done(s, err, now_ns);
	} else if (!s->numeric && now_ns >= s->next_lookup_ns) {
		lookup_start(s, now_ns);
	}
	flush_counters(s);
	if (s->fd >= 0)
		send_datagram(s);
}

struct statsd *statsd_new(const char *host_port, const char *prefix_template)
{
	struct statsd *s;
	struct addrinfo *res;
	const char *why = statsd_prefix_check(prefix_template);
	int err;

	if (why) {
		log_error("--statsd-prefix %s", why);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || hmap_init(&s->counters)) {
		free(s);
		log_error("out of memory");
		return NULL;
	}
	s->fd = -1;
	snprintf(s->template, sizeof(s->template), "%s", prefix_template);
	if (listen_addr_split(host_port, s->host, sizeof(s->host), s->port,
			      sizeof(s->port))) {
		log_error("--statsd-host must be HOST:PORT, got '%s'", host_port);
		statsd_free(s);
		return NULL;
	}
	s->hints.ai_socktype = SOCK_DGRAM;
	s->hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	err = getaddrinfo(s->host, s->port, &s->hints, &res);
	if (!err) {
		s->numeric = true;
		use_address(s, res);
		freeaddrinfo(res);
		if (s->fd < 0) {
			statsd_free(s);
			return NULL;
		}
		return s;
	}
	/* A name: looked up in the background from now on. */
	s->hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	lookup_start(s, monotonic_ns());
	return s;
}

void statsd_free(struct statsd *s)
{
	if (!s)
		return;
	if (s->lookup_busy) {
		const struct gaicb *list[1] = { &s->req };

		if (gai_cancel(&s->req) != EAI_CANCELED)
			while (gai_error(&s->req) == EAI_INPROGRESS)
				gai_suspend(list, 1, NULL);
		if (!gai_error(&s->req) && s->req.ar_result)
			freeaddrinfo(s->req.ar_result);
	}
	flush_counters(s);
	if (s->fd >= 0) {
		send_datagram(s);
		close(s->fd);
	}
	hmap_free(&s->counters);
	free(s);
}

void statsd_get_stats(struct statsd *s, struct statsd_stats *out)
{
	out->datagrams = atomic_load(&s->datagrams);
	out->lines = atomic_load(&s->lines);
	for (int i = 0; i < STATSD_DROP__COUNT; i++)
		out->dropped[i] = atomic_load(&s->dropped[i]);
	out->resolved = atomic_load(&s->resolved);
}
