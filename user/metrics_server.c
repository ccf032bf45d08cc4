// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "metrics_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "listen_addr.h"
#include "log.h"

/* /healthz fails when the event loop has not turned for this long. */
#define STALL_SECONDS 10

struct metrics_server {
	struct MHD_Daemon *daemon;
	struct metrics_server_opts opts;
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
	if (listen(fd, 64)) {
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
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec <= *s->opts.heartbeat_s + STALL_SECONDS;
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
	struct metrics_server *s = cls;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)req_cls;
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
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
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
