// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Root test: loads and attaches every BPF program, then drives real sockets
 * through each traced syscall and checks what the kernel side recorded:
 * roles, directions, byte counts, stream positions, payload bytes,
 * generations.
 *
 * Every program is loaded with the verifier's statistics asked for
 * (BPF_LOG_STATS), and they are printed per program, so a change that
 * brings one near a verifier limit shows (and fails test_verifier_budget
 * past a quarter of the instruction limit). A rejected program is loaded
 * again with the full log, which is printed (its last BPF_LOAD_LOG_LINES
 * lines, default 1000; 0 for all), and the programs after it are loaded
 * without it, so each one's verdict is known.
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
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "capture/trace_inject.h"
#include "python/python_hooks.h"
#include "lib/array_size.h"
#include "lib/log.h"
#include "capture/preflight.h"
#include "k8s/proc_cgroup.h"
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

/* --- the verifier's statistics and logs ------------------------------- */

#define MAX_PROGS 64
#define STATS_LOG_SIZE (64 << 10)
#define FULL_LOG_SIZE (16 << 20)
#define FULL_LOG_SIZE_MAX (256 << 20)
#define BPF_LOG_LEVEL1 1
#define BPF_LOG_STATS 4

/* NOT_USED: a program the daemon leaves out on this kernel (one of two
 * variants, podtap_sys_exit and podtap_sys_exit_cast). */
enum verdict { NOT_TRIED = 0, LOADED, REJECTED, NOT_USED };

struct prog_report {
	char name[64];
	enum verdict verdict;
	bool done;              /* rejected, and its log printed */
	bool have_stats;
	char stack[32];         /* "stack depth" of its (sub)programs */
	unsigned int insns, limit, max_states, total_states, peak_states,
		mark_read;
	long long usec;
	char *log;              /* this load's buffer */
};

/* One BPF object's programs, over as many loads as it takes. */
struct object_report {
	const char *object;
	struct prog_report progs[MAX_PROGS];
	int nprogs;
	size_t full_size;           /* buffer for a full log */
	bool full_printed;          /* one rejected program's full log */
	struct prog_report *failed; /* rejected in the last load, or NULL */
};

/* libbpf names the program the kernel refused: after a failed load every
 * program's fd is closed, so the logs alone cannot tell which it was. */
static char libbpf_rejected[64];

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	char line[1024];
	char name[64];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (sscanf(line, "libbpf: prog '%63[^']': failed to load", name) == 1)
		memcpy(libbpf_rejected, name, sizeof(name));
	return fputs(line, stderr);
}

static struct prog_report *report_prog(struct object_report *r,
				       const char *name)
{
	for (int i = 0; i < r->nprogs; i++)
		if (!strcmp(r->progs[i].name, name))
			return &r->progs[i];
	if (r->nprogs == MAX_PROGS)
		return NULL;
	snprintf(r->progs[r->nprogs].name, sizeof(r->progs[0].name), "%s", name);
	r->progs[r->nprogs].usec = -1;
	return &r->progs[r->nprogs++];
}

/* Before a load: statistics for every program, the full log for the first
 * one rejected; a rejected program whose log was printed is left out, so
 * that the programs after it are tried. */
static void report_before(void *ctx, struct bpf_object *obj)
{
	struct object_report *r = ctx;
	struct bpf_program *prog;

	libbpf_rejected[0] = '\0';
	bpf_object__for_each_program(prog, obj) {
		struct prog_report *p = report_prog(r, bpf_program__name(prog));
		bool full = p && p->verdict == REJECTED;
		size_t size = full ? r->full_size : STATS_LOG_SIZE;

		if (!p || !bpf_program__autoload(prog))
			continue;
		if (p->done) {
			bpf_program__set_autoload(prog, false);
			continue;
		}
		free(p->log);
		p->log = calloc(1, size);
		if (!p->log)
			continue;
		bpf_program__set_log_buf(prog, p->log, size);
		bpf_program__set_log_level(prog, BPF_LOG_STATS |
						 (full ? BPF_LOG_LEVEL1 : 0));
	}
}

/* "processed N insns (limit L) max_states_per_insn M total_states T
 * peak_states P mark_read R": the last line of a log with statistics. */
static void parse_stats(struct prog_report *p)
{
	const char *line = NULL, *s, *t;

	for (s = p->log; (s = strstr(s, "processed ")); s++)
		if (s == p->log || s[-1] == '\n')
			line = s;
	if (!line)
		return;
	p->have_stats = sscanf(line, "processed %u insns (limit %u) "
			       "max_states_per_insn %u total_states %u "
			       "peak_states %u mark_read %u", &p->insns,
			       &p->limit, &p->max_states, &p->total_states,
			       &p->peak_states, &p->mark_read) == 6;
	t = strstr(p->log, "verification time ");
	if (t)
		p->usec = atoll(t + strlen("verification time "));
	t = strstr(p->log, "stack depth ");
	if (t)
		sscanf(t, "stack depth %31[0-9+]", p->stack);
}

static void print_log(const struct prog_report *p, const char *what)
{
	const char *env = getenv("BPF_LOAD_LOG_LINES");
	long max = env ? atol(env) : 1000, lines = 0, skip;
	const char *s = p->log;

	for (const char *c = s; *c; c++)
		lines += *c == '\n';
	skip = max > 0 && lines > max ? lines - max : 0;
	printf("verifier log of %s (%s): %ld lines", p->name, what, lines);
	if (skip)
		printf(", the first %ld left out (BPF_LOAD_LOG_LINES=0 prints "
		       "all)", skip);
	printf("\n");
	for (; skip > 0 && *s; s++)
		skip -= *s == '\n';
	fputs(s, stdout);
	if (*s && s[strlen(s) - 1] != '\n')
		putchar('\n');
	printf("end of the verifier log of %s\n", p->name);
}

static void report_after(void *ctx, struct bpf_object *obj, int err)
{
	struct object_report *r = ctx;
	struct bpf_program *prog;
	struct prog_report *last_logged = NULL;

	r->failed = NULL;
	bpf_object__for_each_program(prog, obj) {
		struct prog_report *p = report_prog(r, bpf_program__name(prog));

		if (p && !bpf_program__autoload(prog) && !err)
			p->verdict = NOT_USED;
		if (!p || !p->log || !bpf_program__autoload(prog))
			continue;
		if (p->log[0])
			last_logged = p;
		if (!strcmp(p->name, libbpf_rejected))
			r->failed = p;
	}
	/* Without libbpf's word, the last program the kernel saw: programs
	 * load in order and the first failure ends the load. */
	if (err && !r->failed && !libbpf_rejected[0])
		r->failed = last_logged;
	bpf_object__for_each_program(prog, obj) {
		struct prog_report *p = report_prog(r, bpf_program__name(prog));

		if (!p || !p->log)
			continue;
		if (p == r->failed && p->verdict == REJECTED) {
			/* The full log: again with a larger buffer if it did
			 * not fit. */
			if (err == -ENOSPC && r->full_size < FULL_LOG_SIZE_MAX) {
				r->full_size *= 4;
			} else {
				print_log(p, err == -ENOSPC ?
					  "full, cut: over the largest buffer" :
					  "full");
				p->done = r->full_printed = true;
			}
		} else if (p == r->failed) {
			p->verdict = REJECTED;
			parse_stats(p);
			/* One full log per object says what is wrong; the
			 * others give their error and statistics. */
			if (r->full_printed) {
				print_log(p, "error and statistics only: the "
					  "full log is that of the first "
					  "rejected program");
				p->done = true;
			}
		} else if (p->log[0] && p->verdict == NOT_TRIED) {
			p->verdict = LOADED;
			parse_stats(p);
		}
		/* The object is closed after this load: the buffer goes. */
		free(p->log);
		p->log = NULL;
	}
}

static bool report_pending(const struct object_report *r)
{
	for (int i = 0; i < r->nprogs; i++)
		if (r->progs[i].verdict == NOT_TRIED ||
		    (r->progs[i].verdict == REJECTED && !r->progs[i].done))
			return true;
	return false;
}

static void report_print(const struct object_report *r)
{
	for (int i = 0; i < r->nprogs; i++) {
		const struct prog_report *p = &r->progs[i];
		static const char *const verdicts[] = {
			"not loaded", "ok", "REJECTED", "not used on this kernel"
		};

		printf("verifier: %s %-24s %s", r->object, p->name,
		       verdicts[p->verdict]);
		if (p->have_stats)
			printf(": %u insns processed (limit %u), states %u "
			       "total, %u peak, %u max per insn, mark_read %u",
			       p->insns, p->limit, p->total_states,
			       p->peak_states, p->max_states, p->mark_read);
		if (p->have_stats && p->stack[0])
			printf(", stack %s", p->stack);
		if (p->have_stats && p->usec >= 0)
			printf(", %lld us", p->usec);
		putchar('\n');
	}
}

/* load(arg, observer) opens, loads (and may attach) the object once and
 * closes it. The first load's result is returned. After a rejection, more
 * loads take the rejected program's full log and then the verdicts of the
 * programs after it, until every program has one (or a load fails for
 * another reason than a program). */
static int report_object(struct object_report *r,
			 int (*load)(void *arg, const struct bpf_load_observer *o),
			 void *arg)
{
	struct bpf_load_observer obs = { report_before, report_after, r };
	int err;

	r->full_size = FULL_LOG_SIZE;
	err = load(arg, &obs);
	for (int pass = 0; err && r->failed && report_pending(r) &&
	     pass < 2 * MAX_PROGS + 8; pass++)
		if (!load(arg, &obs))
			break;
	report_print(r);
	return err;
}
static const char request[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* A listening TCP socket on a free loopback port, its address in *addr;
 * -1 on failure. */
static int listen_loopback(struct sockaddr_in *addr)
{
	socklen_t alen = sizeof(*addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	*addr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (void *)addr, sizeof(*addr)) || listen(lfd, 4) ||
	    getsockname(lfd, (void *)addr, &alen)) {
		close(lfd);
		return -1;
	}
	return lfd;
}

/* In the child: one TCP connection exercising every data syscall. */
static void drive_traffic(int *child_pid, int *client_fd, int *server_fd,
			  int *port)
{
	struct sockaddr_in addr;
	int lfd, c, s, pid;
	char buf[512];

	lfd = listen_loopback(&addr);
	if (lfd < 0) {
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

/* An event names its task as the kernel's helpers would: the command (the
 * traffic child's, inherited from this process) and the cgroup v2 id, the
 * inode number of the task's cgroup directory. */
static void check_task(const struct podtap_event *ev)
{
	char comm[32] = "", root[256], rel[2048], path[2400];
	struct stat st;
	FILE *f = fopen("/proc/self/comm", "r");

	CHECK(f != NULL);
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	CHECK(memchr(ev->comm, '\0', sizeof(ev->comm)) != NULL);
	CHECK(strncmp(ev->comm, comm, sizeof(ev->comm)) == 0);
	CHECK_INT(cgroup2_mount_point(root, sizeof(root)), 0);
	CHECK_INT(cgroup_path_of_pid(root, getpid(), rel, sizeof(rel)), 0);
	snprintf(path, sizeof(path), "%s%s", root, rel);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(ev->cgroup_id, st.st_ino);
}

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
	 * each with the socket's addresses: 127.0.0.1 both ends; the server
	 * side with its wait in the accept queue (the handshake ended at
	 * connect, before the accept). */
	static const uint8_t loopback[4] = { 127, 0, 0, 1 };
	struct podtap_sock_addrs a;
	struct podtap_open o;

	CHECK((e = find(child, PODTAP_EV_OPEN, 0, 0)) != NULL);
	if (e) {
		check_task(&e->ev);
		CHECK_INT(e->ev.role, PODTAP_ROLE_CLIENT);
		CHECK_INT(e->ev.captured, sizeof(o));
		memcpy(&o, e->payload, sizeof(o));
		CHECK_INT(o.accept_wait_ns, 0);
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
		memcpy(&o, e->payload, sizeof(o));
		CHECK(o.accept_wait_ns > 0 && o.accept_wait_ns < 10 * 1000000000ull);
		memcpy(&a, e->payload, sizeof(a));
		CHECK_INT(a.family, AF_INET);
		CHECK_INT(a.local_port, port);
		CHECK(a.remote_port != 0 && a.remote_port != port);
		CHECK(memcmp(a.remote_addr, loopback, 4) == 0);
	}

	/* write -> read */
	CHECK((e = find(child, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 0)) != NULL);
	if (e) {
		check_task(&e->ev);
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

/* --- what is copied of large syscalls (bpf/payload.bpf.h) ------------ */

#define BODY_LEN 3000
#define PEEK 64     /* BODY_PEEK */
#define SCAN 1024   /* HEAD_SCAN_MAX */
#define PIPELINED 150 /* GETs of 19 bytes in one write */
#define LONG_HEAD_PAD 600
#define LONG_HEAD (sizeof("m-search * HTTP/1.1\r\nX-Pad: \r\n\r\n") - 1 + \
		   LONG_HEAD_PAD)

static const char big_head[] = "POST /up HTTP/1.1\r\nContent-Length: 9000\r\n\r\n";

/* In a child: one TCP connection whose client writes the shapes
 * test_copy_policy lists; nobody reads (they fit the socket's buffers). */
static int drive_large_writes(void)
{
	struct sockaddr_in addr;
	int lfd = listen_loopback(&addr), pid;

	if (lfd < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		static char buf[2 * SCAN + BODY_LEN], body[BODY_LEN];
		size_t hl = sizeof(big_head) - 1, n;
		int c = socket(AF_INET, SOCK_STREAM, 0), s;
		struct iovec iov[2];

		memset(body, 'x', sizeof(body));
		if (connect(c, (void *)&addr, sizeof(addr)))
			_exit(3);
		s = accept(lfd, NULL, NULL);
		/* a head and the start of its body in one write */
		memcpy(buf, big_head, hl);
		memcpy(buf + hl, body, BODY_LEN);
		if (write(c, buf, hl + BODY_LEN) < 0)
			_exit(4);
		/* the rest of the body (6000 - 1 bytes), then its last byte */
		if (write(c, body, BODY_LEN) < 0 ||
		    write(c, body, BODY_LEN - 1) < 0 || write(c, "x", 1) < 0)
			_exit(5);
		/* a head longer than the kernel looks into */
		n = (size_t)snprintf(buf, sizeof(buf),
				     "POST /long HTTP/1.1\r\nX-Pad: %0*d\r\n"
				     "Content-Length: %d\r\n\r\n",
				     SCAN + 10, 0, 2 * BODY_LEN);
		memcpy(buf + n, body, BODY_LEN);
		if (write(c, buf, n + BODY_LEN) < 0 ||
		    write(c, body, BODY_LEN) < 0)
			_exit(6);
		/* writev: head and body as two pieces, then body */
		iov[0] = (struct iovec){ (void *)big_head, hl };
		iov[1] = (struct iovec){ body, BODY_LEN };
		if (writev(c, iov, 2) < 0)
			_exit(7);
		iov[0] = (struct iovec){ body, BODY_LEN };
		iov[1] = (struct iovec){ body, BODY_LEN };
		if (writev(c, iov, 2) < 0)
			_exit(8);
		/* a head with any token for a method, where body could be */
		n = (size_t)snprintf(buf, sizeof(buf),
				     "m-search * HTTP/1.1\r\nX-Pad: %0*d\r\n\r\n",
				     LONG_HEAD_PAD, 0);
		if (write(c, buf, n) < 0)
			_exit(11);
		/* body bytes that start like a head (a token and a space) */
		memset(buf, 'X', BODY_LEN);
		buf[4] = ' ';
		if (write(c, buf, BODY_LEN) < 0)
			_exit(9);
		/* pipelined GETs */
		for (n = 0; n < PIPELINED * 19; n += 19)
			memcpy(buf + n, "GET /p HTTP/1.1\r\n\r\n", 19);
		if (write(c, buf, n) < 0)
			_exit(10);
		close(c);
		close(s);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void test_copy_policy(void)
{
	size_t hl = sizeof(big_head) - 1;
	/* For each write: bytes, and bytes copied. */
	const struct {
		size_t count, captured;
	} want[] = {
		/* the head, and PEEK bytes of body (a chunk-size line) */
		{ hl + BODY_LEN, hl + PEEK },
		/* body: PEEK bytes */
		{ BODY_LEN, PEEK },
		{ BODY_LEN - 1, PEEK },
		/* small: whole */
		{ 1, 1 },
		/* head end not found: all, as is the body after it */
		{ 0, 0 },
		{ BODY_LEN, BODY_LEN },
		{ hl + BODY_LEN, hl + PEEK },
		{ 2 * BODY_LEN, PEEK },
		/* a head alone: all of it */
		{ LONG_HEAD, LONG_HEAD },
		/* looked at as a head (no blank line): all */
		{ BODY_LEN, BODY_LEN },
		/* a head after the head: all */
		{ PIPELINED * 19, PIPELINED * 19 },
	};
	int pid = drive_large_writes(), status, i;
	struct seen *e;

	CHECK(pid > 0);
	if (pid <= 0)
		return;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	for (i = 0; i < 20; i++)
		capture_poll(cap, 50);
	for (i = 0; i < (int)ARRAY_SIZE(want); i++) {
		e = find(pid, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, i);
		CHECK(e != NULL);
		if (!e)
			continue;
		if (want[i].count) {
			CHECK_INT(e->ev.byte_count, want[i].count);
			CHECK_INT(e->ev.captured, want[i].captured);
		} else {
			/* the long head and its body's first bytes: all */
			CHECK(e->ev.byte_count > SCAN + BODY_LEN);
			CHECK_INT(e->ev.captured, e->ev.byte_count);
		}
	}
	if ((e = find(pid, PODTAP_EV_DATA, PODTAP_DIR_EGRESS, 0)))
		CHECK(memcmp(e->payload, big_head, hl) == 0 &&
		      e->payload[hl] == 'x');
}

static struct object_report capture_report = { .object = "podtap" };
static struct object_report python_report = { .object = "podtap_py" };
/* --inject-trace-context: the two objects again with their trace context
 * code on, and the injection object. */
static struct object_report capture_ctx_report = { .object = "podtap+ctx" };
static struct object_report python_ctx_report = { .object = "podtap_py+ctx" };
static struct object_report inject_report = { .object = "podtap_inject" };
static const struct trace_ctx_config ctx_on = {
	.on = true, .parent_based = true, .root_sample_bound = 1ULL << 63,
};

/* One load of the capture object, as the daemon configures it; the first
 * one that succeeds is kept for the tests. */
static int load_capture(void *arg, const struct bpf_load_observer *o)
{
	struct capture_opts opts = { .payload_size = 8192,
				     .ringbuf_size = 1 << 20,
				     .observer = o };
	struct capture **keep = arg, *c;
	int err = capture_open(&c, &opts, on_event, NULL);

	if (!err)
		err = capture_start_reading(c);
	if (!err && !*keep)
		*keep = c;
	else
		capture_close(c);
	return err;
}

/* The Python hooks' object shares the capture's maps, loads (verifier)
 * and attaches its process tracepoints; the uprobes themselves are
 * exercised end to end (tests/e2e/python.bats). */
static int load_python(void *arg, const struct bpf_load_observer *o)
{
	struct python_hooks_opts opts = { .payload_size = 8192, .observer = o };
	struct python_hooks *ph = NULL;
	int err = python_hooks_open(&ph, arg, &opts);

	python_hooks_close(ph);
	return err;
}

static void test_python_hooks(void)
{
	CHECK_INT(report_object(&python_report, load_python, cap), 0);
}

static int load_capture_ctx(void *arg, const struct bpf_load_observer *o)
{
	struct capture_opts opts = { .payload_size = 8192,
				     .ringbuf_size = 1 << 20,
				     .trace_ctx = ctx_on, .observer = o };

	return capture_open(arg, &opts, on_event, NULL);
}

static int load_python_ctx(void *arg, const struct bpf_load_observer *o)
{
	struct python_hooks_opts opts = { .payload_size = 8192,
					  .greenlets = true,
					  .trace_ctx = ctx_on, .observer = o };
	struct python_hooks *ph = NULL;
	int err = python_hooks_open(&ph, arg, &opts);

	python_hooks_close(ph);
	return err;
}

static int load_inject(void *arg, const struct bpf_load_observer *o)
{
	char root[512];
	struct trace_inject_opts opts = { .w3c = true, .b3 = true,
					  .trace_ctx = ctx_on,
					  .cgroup_root = root, .observer = o };
	struct trace_inject *ti = NULL;
	int err = cgroup2_mount_point(root, sizeof(root));

	if (!err)
		err = trace_inject_open(&ti, arg, &opts);
	trace_inject_close(ti);
	return err;
}

/* Loads and attaches (sock_ops on the cgroup v2 root, sk_msg on its map);
 * what they do to traffic is tests/e2e/inject.bats'. */
static void test_trace_injection(void)
{
	struct capture *c = NULL;

	CHECK_INT(report_object(&capture_ctx_report, load_capture_ctx, &c), 0);
	if (!c)
		return;
	CHECK_INT(report_object(&python_ctx_report, load_python_ctx, c), 0);
	CHECK_INT(report_object(&inject_report, load_inject, c), 0);
	capture_close(c);
}

/* Every program verifies with room to spare: at most a quarter of the
 * verifier's instruction limit, so growth shows here before a kernel
 * refuses it. */
static void check_budget(const struct object_report *r)
{
	for (int i = 0; i < r->nprogs; i++) {
		const struct prog_report *p = &r->progs[i];

		if (p->verdict == NOT_USED)
			continue;
		CHECK(p->verdict == LOADED && p->have_stats);
		if (p->have_stats && p->insns > p->limit / 4) {
			fprintf(stderr, "  %s: %u insns processed, over a "
				"quarter of the limit (%u)\n", p->name,
				p->insns, p->limit);
			CHECK(p->insns <= p->limit / 4);
		}
	}
}

static void test_verifier_budget(void)
{
	check_budget(&capture_report);
	check_budget(&python_report);
	check_budget(&capture_ctx_report);
	check_budget(&python_ctx_report);
	check_budget(&inject_report);
}

int main(void)
{
	int err;

	if (geteuid() != 0) {
		printf("bpf_load: needs root\n");
		return 1;
	}
	if (preflight_btf() || preflight_tracefs())
		return 1;
	self_pid = getpid();
	/* Logs go to stderr, results to stdout: in order when both are one
	 * file. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(libbpf_log);
	log_set_verbose(true);
	/* Loads every program, with the verifier's statistics; a rejected
	 * one's log is printed. */
	err = report_object(&capture_report, load_capture, &cap);
	check_case_failed = 0;
	if (err) {
		printf("not ok - load_and_attach (%s)\n", strerror(-err));
		check_failed++;
		capture_close(cap);
		return check_summary("bpf_load");
	}
	printf("ok - load_and_attach\n");
	check_passed++;
	RUN(test_events);
	RUN(test_copy_policy);
	RUN(test_python_hooks);
	RUN(test_trace_injection);
	RUN(test_verifier_budget);
	capture_close(cap);
	return check_summary("bpf_load");
}
