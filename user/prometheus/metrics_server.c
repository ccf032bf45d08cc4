// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "prometheus/metrics_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/listen_addr.h"
#include "lib/log.h"

/* /healthz fails when the event loop has not turned for this long. */
#define STALL_SECONDS 10

/*
 * Floods of idle or slow clients must not starve a scrape or a probe. A
 * connection limit alone is what they fill, and a per-IP one refuses the
 * scrape or probe that comes from a flooding address (on a node the
 * kubelet, a hostNetwork process and podtap can share one). So:
 *
 * - Past CLIENTS_MAX live connections (fewer when the file limit is
 *   low), each new one closes an old one: the oldest idle connection from
 *   its own address (a flood evicts itself), else the oldest idle one,
 *   else the oldest busy one. Idle: no request being served, a slow
 *   client's unfinished head included. A newcomer sends its request at
 *   once, so it is served long before it becomes the oldest.
 * - MHD's own limit sits CLIENTS_SLACK above, never reached but for
 *   evicted connections MHD has yet to close: at MHD's limit the listening
 *   socket would wait, with every scrape behind it in the backlog.
 * - A connection silent for CONN_TIMEOUT_S is closed (scrapers reconnect).
 * - A connection's memory pool is CONN_MEMORY bytes: request heads of
 *   scrapers and probes are well under 1 KiB.
 */
#define CLIENTS_MAX 1024
#define CLIENTS_MIN 16
#define CLIENTS_SLACK 64
#define EVICT_SCAN 256 /* idle connections searched for the same address */
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY (16 * 1024)
#define LISTEN_BACKLOG 1024

/* One connection, on the list of idle or of busy ones, oldest first. */
struct client {
	struct client *prev, *next;
	struct client_list *list; /* NULL once evicted */
	int fd;
	sa_family_t family;
	uint8_t addr[16];
};

struct client_list {
	struct client *head, *tail;
};

struct metrics_server {
	struct MHD_Daemon *daemon;
	struct metrics_server_opts opts;
	/* MHD's thread only (MHD_USE_INTERNAL_POLLING_THREAD, one thread) */
	struct client_list idle, busy;
	unsigned int live; /* connections not evicted */
	unsigned int max_live;
	unsigned long long evicted;
};

int metrics_server_bind(const char *listen_addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[LISTEN_ADDR_HOST_MAX], port[LISTEN_ADDR_PORT_MAX];
	int fd = -1, one = 1, err;

	if (listen_addr_split(listen_addr, host, sizeof(host), port,
			      sizeof(port))) {
		log_error("--metrics-listen must be HOST:PORT with a port in "
			  "1..65535 (for example 0.0.0.0:9464 or [::]:9464), "
			  "got '%s'", listen_addr);
		return -1;
	}
	err = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (err) {
		log_error("cannot resolve metrics address '%s': %s",
			  listen_addr, gai_strerror(err));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("cannot create metrics socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen)) {
		if (errno == EADDRINUSE)
			log_error("metrics address %s is already in use; stop "
				  "what listens there or choose another "
				  "--metrics-listen", listen_addr);
		else
			log_error("cannot bind metrics address %s: %s",
				  listen_addr, strerror(errno));
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG)) {
		log_error("cannot listen on %s: %s", listen_addr,
			  strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *type, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn,
				  unsigned int code, const char *text)
{
	return reply(conn, code, "text/plain; charset=utf-8", (char *)text,
		     strlen(text), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result serve_metrics(struct metrics_server *s,
				     struct MHD_Connection *conn)
{
	struct prom_writer w;

	prom_writer_init(&w);
	s->opts.render(s->opts.ctx, &w);
	if (w.failed) {
		prom_writer_free(&w);
		return reply_text(conn, 500, "out of memory\n");
	}
	/* MHD frees the buffer with free() once sent. */
	return reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
		     w.buf, w.len, MHD_RESPMEM_MUST_FREE);
}

static bool loop_alive(const struct metrics_server *s)
{
	return monotonic_ns() / NSEC_PER_SEC <= *s->opts.heartbeat_s + STALL_SECONDS;
}

/* --- connections ------------------------------------------------------ */

static void list_remove(struct client *c)
{
	struct client_list *l = c->list;

	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

static void list_append(struct client_list *l, struct client *c)
{
	list_remove(c);
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	c->list = l;
}

static void set_address(struct client *c, const struct sockaddr *sa)
{
	c->family = sa ? sa->sa_family : AF_UNSPEC;
	if (c->family == AF_INET)
		memcpy(c->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (c->family == AF_INET6)
		memcpy(c->addr,
		       &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

static bool same_address(const struct client *a, const struct client *b)
{
	return a->family == b->family &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static struct client *victim(struct metrics_server *s,
			     const struct client *newcomer)
{
	struct client *c = s->idle.head;

	for (int i = 0; c && i < EVICT_SCAN; c = c->next, i++)
		if (same_address(c, newcomer))
			return c;
	return s->idle.head ? s->idle.head : s->busy.head;
}

/* Makes room for newcomer: the socket is shut down, MHD sees the end of
 * the stream at once and closes the connection. */
static void evict(struct metrics_server *s, const struct client *newcomer)
{
	struct client *c = victim(s, newcomer);

	if (!c)
		return;
	list_remove(c);
	s->live--;
	s->evicted++;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (s->evicted == 1 || s->evicted % 10000 == 0)
		log_debug("metrics server: %llu connections evicted to make "
			  "room (over %u open)", s->evicted, s->max_live);
}

static struct client *client_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct metrics_server *s = cls;
	const union MHD_ConnectionInfo *ci;
	struct client *c = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (c && c->list) {
			list_remove(c);
			s->live--;
		}
		free(c);
		*socket_context = NULL;
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return; /* served all the same, never evicted */
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	c->fd = ci ? ci->connect_fd : -1;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	set_address(c, ci ? ci->client_addr : NULL);
	*socket_context = c;
	if (s->live >= s->max_live)
		evict(s, c);
	list_append(&s->idle, c);
	s->live++;
}

/* A request was answered (or failed): its connection is idle again. */
static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct metrics_server *s = cls;
	struct client *c = client_of(conn);

	(void)req_cls;
	(void)toe;
	if (c && c->list)
		list_append(&s->idle, c);
}

/* A quarter of the file limit at most: the rest is for BPF objects,
 * uprobe links and /proc reads. */
static unsigned int clients_max(void)
{
	struct rlimit rl;
	rlim_t n = CLIENTS_MAX;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < n)
		n = rl.rlim_cur / 4;
	return n < CLIENTS_MIN ? CLIENTS_MIN : (unsigned int)n;
}

static const char index_html[] =
	"<html><body><h1>podtap</h1><p><a href=\"/metrics\">/metrics</a> "
	"<a href=\"/healthz\">/healthz</a> <a href=\"/readyz\">/readyz</a>"
	"</p></body></html>\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_size, void **req_cls)
{
	static int request_seen;
	struct metrics_server *s = cls;
	struct client *c = client_of(conn);

	(void)version;
	(void)upload_data;
	/* The head is in: answer once the request is complete, as MHD
	 * keeps a connection alive only for an answer queued then. */
	if (!*req_cls) {
		*req_cls = &request_seen;
		/* Being served: evicted only when nothing is idle. */
		if (c && c->list)
			list_append(&s->busy, c);
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body nobody reads */
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply_text(conn, 405, "only GET and HEAD\n");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(s, conn);
	if (!strcmp(url, "/healthz"))
		return loop_alive(s) ? reply_text(conn, 200, "ok\n")
				     : reply_text(conn, 503,
						  "event loop stalled\n");
	if (!strcmp(url, "/readyz"))
		return atomic_load(s->opts.ready)
			       ? reply_text(conn, 200, "ready\n")
			       : reply_text(conn, 503,
					    "BPF programs not attached yet\n");
	if (!strcmp(url, "/"))
		return reply(conn, 200, "text/html; charset=utf-8",
			     (char *)index_html, sizeof(index_html) - 1,
			     MHD_RESPMEM_PERSISTENT);
	return reply_text(conn, 404, "not found: try /metrics\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("metrics server: %s", msg);
}

struct metrics_server *metrics_server_start(int fd,
					    const struct metrics_server_opts *o)
{
	struct metrics_server *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return NULL;
	}
	s->opts = *o;
	s->max_live = clients_max();
	/* One thread with epoll: the callbacks above share its lists
	 * unlocked, and renders never run two at a time. */
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)(s->max_live + CLIENTS_SLACK),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		log_error("cannot start the metrics server");
		close(fd);
		free(s);
		return NULL;
	}
	return s;
}

void metrics_server_stop(struct metrics_server *s)
{
	if (!s)
		return;
	/* MHD closes the listening socket it was given. */
	MHD_stop_daemon(s->daemon);
	free(s);
}
