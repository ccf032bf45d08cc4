// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Root test: loads and attaches every BPF program (a verifier rejection
 * fails here with the verifier's log), then drives real sockets through
 * each traced syscall and checks what the kernel side recorded: roles,
 * directions, byte counts, stream positions, payload bytes, generations.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture.h"
#include "python_hooks.h"
#include "log.h"
#include "preflight.h"
#include "../unit/check.h"

#define MAX_SEEN 256

struct seen {
	struct podtap_event ev;
	char payload[256];
};

static struct seen seen[MAX_SEEN];
static int nseen;
static int self_pid;

static void on_event(void *ctx, const struct podtap_event *ev, size_t size)
{
	(void)ctx;
	(void)size;
	/* The daemon never sees itself; the test process is not the daemon
	 * (self_tgid is the loader's pid, which is us), so the BPF side must
	 * report nothing from us. We therefore drive traffic from a child. */
	if (nseen == MAX_SEEN || (int)ev->pid == self_pid)
		return;
	seen[nseen].ev = *ev;
	memcpy(seen[nseen].payload, ev->payload,
	       ev->captured < sizeof(seen[0].payload) ? ev->captured
						       : sizeof(seen[0].payload));
	nseen++;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static const char request[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* In the child: one TCP connection exercising every data syscall. */
static void drive_traffic(int *child_pid, int *client_fd, int *server_fd,
			  int *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int lfd, c, s, pid, one = 1;
	char buf[512];

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (void *)&addr, sizeof(addr)) || listen(lfd, 4) ||
	    getsockname(lfd, (void *)&addr, &alen)) {
		perror("listen");
		exit(2);
	}
	*port = ntohs(addr.sin_port);
	c = socket(AF_INET, SOCK_STREAM, 0);
	*client_fd = c;
	pid = fork();
	if (pid == 0) {
		struct iovec iov[3];
		struct msghdr msg = { 0 };
		int tmp;
		char path[] = "/tmp/podtap-bpf-load-XXXXXX";
		off_t off = 0;

		if (connect(c, (void *)&addr, sizeof(addr)))
			_exit(3);
		s = accept(lfd, NULL, NULL);
		/* write -> read */
		if (write(c, request, sizeof(request) - 1) < 0 ||
		    read(s, buf, sizeof(buf)) < 0)
			_exit(4);
		/* sendto -> recvfrom */
		if (sendto(s, response, sizeof(response) - 1, 0, NULL, 0) < 0 ||
		    recvfrom(c, buf, sizeof(buf), 0, NULL, NULL) < 0)
			_exit(5);
		/* writev (3 pieces) -> readv (2 pieces) */
		iov[0] = (struct iovec){ (void *)"GET /v", 6 };
		iov[1] = (struct iovec){ (void *)" HTTP/1.1\r\n", 11 };
		iov[2] = (struct iovec){ (void *)"\r\n", 2 };
		if (writev(c, iov, 3) != 19)
			_exit(6);
		usleep(10000);
		iov[0] = (struct iovec){ buf, 10 };
		iov[1] = (struct iovec){ buf + 100, 100 };
		if (readv(s, iov, 2) != 19)
			_exit(7);
		/* sendmsg -> recvmsg */
		iov[0] = (struct iovec){ (void *)"HTTP/1.1 204 No", 15 };
		iov[1] = (struct iovec){ (void *)" Content\r\n\r\n", 12 };
		msg.msg_iov = iov;
		msg.msg_iovlen = 2;
		if (sendmsg(s, &msg, 0) != 27)
			_exit(8);
		usleep(10000);
		iov[0] = (struct iovec){ buf, sizeof(buf) };
		msg.msg_iovlen = 1;
		if (recvmsg(c, &msg, 0) != 27)
			_exit(9);
		/* sendfile: counted, not copied */
		tmp = mkstemp(path);
		if (tmp < 0 || write(tmp, "0123456789", 10) != 10)
			_exit(10);
		unlink(path);
		if (sendfile(s, tmp, &off, 10) != 10)
			_exit(11);
		close(tmp);
		close(c);
		close(s);
		_exit(0);
	}
	*child_pid = pid;
	*server_fd = -1;
	close(lfd);
	close(c);
}

static struct seen *find(int pid, int kind, int dir, int nth)
{
	for (int i = 0; i < nseen; i++) {
		struct podtap_event *ev = &seen[i].ev;

		if ((int)ev->pid != pid || ev->kind != kind)
			continue;
		if (kind == PODTAP_EV_DATA && ev->direction != dir)
			continue;
		if (nth-- == 0)
			return &seen[i];
	}
	return NULL;
}

static struct capture *cap;
static int child;

static void test_events(void)
{
	int client_fd, server_fd, status, port;
	struct seen *e;

	drive_traffic(&child, &client_fd, &server_fd, &port);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "  traffic child failed: status %d\n", status);
		CHECK(0);
		return;
	}
	for (int i = 0; i < 20; i++)
		capture_poll(cap, 50);

	/* Two OPEN events: the client side (connect) and the server side,
	 * each with the socket's addresses: 127.0.0.1 both ends. */
	static const uint8_t loopback[4] = { 127, 0, 0, 1 };
	struct podtap_sock_addrs a;

	CHECK((e = find(child, PODTAP_EV_OPEN, 0, 0)) != NULL);
	if (e) {
		CHECK_INT(e->ev.role, PODTAP_ROLE_CLIENT);
		CHECK_INT(e->ev.captured, sizeof(a));
		memcpy(&a, e->payload, sizeof(a));
		CHECK_INT(a.family, AF_INET);
		CHECK_INT(a.remote_port, port);
		CHECK(a.local_port != 0 && a.local_port != port);
		CHECK(memcmp(a.remote_addr, loopback, 4) == 0);
		CHECK(memcmp(a.local_addr, loopback, 4) == 0);
	}
	CHECK((e = find(child, PODTAP_EV_OPEN, 0, 1)) != NULL);
	if (e) {
		CHECK_INT(e->ev.role, PODTAP_ROLE_SERVER);
		memcpy(&a, e->payload, sizeof(a));
		CHECK_INT(a.family, AF_INET);
		CHECK_INT(a.local_port, port);
		CHECK(a.remote_port != 0 && a.remote_port != port);
		CHECK(memcmp(a.remote_addr, loopback, 4) == 0);
	}

	/* write -> read */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 0)) != NULL);
	if (e) {
		CHECK_INT(e->ev.byte_count, sizeof(request) - 1);
		CHECK_INT(e->ev.captured, sizeof(request) - 1);
		CHECK_INT(e->ev.stream_pos, 0);
		CHECK_INT(e->ev.role, PODTAP_ROLE_CLIENT);
		CHECK(memcmp(e->payload, request, sizeof(request) - 1) == 0);
	}
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_INGRESS, 0)) != NULL);
	if (e) {
		CHECK_INT(e->ev.byte_count, sizeof(request) - 1);
		CHECK_INT(e->ev.role, PODTAP_ROLE_SERVER);
		CHECK(memcmp(e->payload, request, sizeof(request) - 1) == 0);
	}
	/* sendto -> recvfrom: server's first egress, client's first ingress */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 1)) != NULL);
	if (e) {
		CHECK_INT(e->ev.byte_count, sizeof(response) - 1);
		CHECK_INT(e->ev.stream_pos, 0);
		CHECK(memcmp(e->payload, response, sizeof(response) - 1) == 0);
	}
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_INGRESS, 1)) != NULL);
	if (e)
		CHECK_INT(e->ev.byte_count, sizeof(response) - 1);
	/* writev: three iovecs gathered in order, position after the request */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 2)) != NULL);
	if (e) {
		CHECK_INT(e->ev.byte_count, 19);
		CHECK_INT(e->ev.captured, 19);
		CHECK_INT(e->ev.stream_pos, sizeof(request) - 1);
		CHECK(memcmp(e->payload, "GET /v HTTP/1.1\r\n\r\n", 19) == 0);
	}
	/* readv: scattered over two iovecs, gathered back in order */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_INGRESS, 2)) != NULL);
	if (e) {
		CHECK_INT(e->ev.captured, 19);
		CHECK(memcmp(e->payload, "GET /v HTTP/1.1\r\n\r\n", 19) == 0);
	}
	/* sendmsg -> recvmsg */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 3)) != NULL);
	if (e) {
		CHECK_INT(e->ev.captured, 27);
		CHECK_INT(e->ev.stream_pos, sizeof(response) - 1);
		CHECK(memcmp(e->payload, "HTTP/1.1 204 No Content\r\n\r\n", 27) == 0);
	}
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_INGRESS, 3)) != NULL);
	if (e)
		CHECK(memcmp(e->payload, "HTTP/1.1 204 No Content\r\n\r\n", 27) == 0);
	/* sendfile: 10 bytes counted, none copied */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 4)) != NULL);
	if (e) {
		CHECK_INT(e->ev.byte_count, 10);
		CHECK_INT(e->ev.captured, 0);
		CHECK_INT(e->ev.stream_pos, sizeof(response) - 1 + 27);
	}
	/* Both sockets closed; the process exited. */
	CHECK(find(child, PODTAP_EV_CLOSE, 0, 1) != NULL);
	CHECK(find(child, PODTAP_EV_PROC_EXIT, 0, 0) != NULL);
	/* The temp file's write was filtered in the kernel: every DATA event
	 * is on one of the two sockets, with that socket's generation. */
	struct seen *open_c = find(child, PODTAP_EV_OPEN, 0, 0);
	struct seen *open_s = find(child, PODTAP_EV_OPEN, 0, 1);
	int ndata = 0;

	for (int i = 0; open_c && open_s && i < nseen; i++) {
		struct podtap_event *ev = &seen[i].ev;

		if ((int)ev->pid != child || ev->kind != PODTAP_EV_DATA)
			continue;
		ndata++;
		CHECK((ev->fd == open_c->ev.fd && ev->conn_gen == open_c->ev.conn_gen) ||
		      (ev->fd == open_s->ev.fd && ev->conn_gen == open_s->ev.conn_gen));
	}
	CHECK_INT(ndata, 9);
	if (open_c && open_s)
		CHECK(open_c->ev.conn_gen != open_s->ev.conn_gen);
}

/* The Python hooks' object shares the capture's maps, loads (verifier)
 * and attaches its process tracepoints; the uprobes themselves are
 * exercised end to end (tests/e2e/python.bats). */
static void test_python_hooks(void)
{
	struct python_hooks_opts opts = { .payload_size = 8192 };
	struct python_hooks *ph = NULL;

	CHECK_INT(python_hooks_open(&ph, cap, &opts), 0);
	python_hooks_close(ph);
}

int main(void)
{
	struct capture_opts opts = { .payload_size = 8192,
				     .ringbuf_size = 1 << 20 };
	int err;

	if (geteuid() != 0) {
		printf("bpf_load: needs root\n");
		return 1;
	}
	if (preflight_btf() || preflight_tracefs())
		return 1;
	self_pid = getpid();
	libbpf_set_print(libbpf_log);
	log_set_verbose(true);
	/* Loads every program; on a verifier rejection libbpf prints the
	 * verifier's log through libbpf_log above and this fails. */
	err = capture_open(&cap, &opts, on_event, NULL);
	check_case_failed = 0;
	if (err) {
		printf("not ok - load_and_attach (%s)\n", strerror(-err));
		check_failed++;
		return check_summary("bpf_load");
	}
	printf("ok - load_and_attach\n");
	check_passed++;
	RUN(test_events);
	RUN(test_python_hooks);
	capture_close(cap);
	return check_summary("bpf_load");
}
