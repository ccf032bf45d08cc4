/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Connections and the events about them, shared by the syscall programs
 * (podtap.bpf.c) and the Python uprobes (podtap_py.bpf.c). Both objects
 * declare these maps; the daemon loads podtap.bpf.c first and hands its
 * map fds to podtap_py.bpf.c (bpf_map__reuse_fd), so there is one table of
 * each. Each object has its own copy of the configuration below.
 */
#ifndef PODTAP_CONN_BPF_H
#define PODTAP_CONN_BPF_H

#include "contract.h"
#include "drops.bpf.h"
#include "payload.bpf.h"
#include "sockfd.bpf.h"
#include "head_scan.bpf.h"
#include "trace_ctx.bpf.h"
#include "accept_wait.bpf.h"

/* Set by the daemon between open and load. */
const volatile __u32 self_tgid = 0;         /* never trace ourselves */
const volatile __u64 wakeup_min_bytes = 0;  /* batch wakeups below this */

/* An SSL_read/SSL_write/SSL_do_handshake call in progress on a thread.
 * The socket syscalls the library makes inside it name the socket (fd). */
struct tls_call {
	__u64 ssl;       /* the SSL object */
	__u64 buf;       /* plaintext buffer */
	__u64 count_ptr; /* size_t * of the _ex variants, else 0 */
	__s32 fd;        /* socket, once a syscall inside the call shows it */
	__u8 dir;        /* enum podtap_direction, or TLS_HANDSHAKE */
	__u8 pad[3];
};

#define TLS_HANDSHAKE 2

struct ssl_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

/* Sockets seen; LRU because a process can vanish without close(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_CONNS);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} podtap_conns SEC(".maps");

/*
 * The socket a process names by an fd, for the connection's end: close is
 * seen at its syscall's exit, when the fd no longer names anything but the
 * socket's struct file still exists (its last reference's release runs
 * after the exit tracepoint, on the way back to user mode). Entries are
 * made when a connection opens and when another process or fd than its
 * last starts moving its bytes (a dup, a fork's child, an fd passed over a
 * unix socket); close removes them. LRU: a process that exits holding
 * sockets leaves its entries behind.
 */
struct sock_fd_key {
	__u32 tgid;
	__s32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_SOCK_FDS);
	__type(key, struct sock_fd_key);
	__type(value, __u64); /* struct conn_key's sock_id */
} podtap_sock_fds SEC(".maps");

/* The current process's fd, as podtap_sock_fds keys it. */
static __always_inline struct sock_fd_key sock_fd_key_of(int fd)
{
	return (struct sock_fd_key){ .tgid = bpf_get_current_pid_tgid() >> 32,
				     .fd = fd };
}

/* The next connection generation: unique per socket lifetime. A map,
 * not a global, so both objects count from the same place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} podtap_conn_gen SEC(".maps");

/* SSL calls in progress, by thread (LRU: a thread can die inside one). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_TLS_CALLS);
	__type(key, __u64);
	__type(value, struct tls_call);
} podtap_tls_calls SEC(".maps");

/*
 * SSL calls in progress on the node: podtap_tls_calls' entries, and those
 * of threads that died inside a call or were evicted (a count that never
 * comes down only costs speed). While it is 0, as on a node without
 * Python HTTPS, socket syscalls skip the lookup in podtap_tls_calls.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} podtap_tls_active SEC(".maps");

static __always_inline bool tls_calls_active(void)
{
	__u32 zero = 0;
	__s64 *n = bpf_map_lookup_elem(&podtap_tls_active, &zero);

	return n && *n > 0;
}

static __always_inline void tls_calls_add(__s64 delta)
{
	__u32 zero = 0;
	__s64 *n = bpf_map_lookup_elem(&podtap_tls_active, &zero);

	if (n)
		__sync_fetch_and_add(n, delta);
}

/* SSL object -> socket fd, for calls served from OpenSSL's own buffer
 * without a syscall. Refreshed by every syscall made inside a call, so a
 * reused SSL address is remapped on its first I/O. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_SSL_FDS);
	__type(key, struct ssl_key);
	__type(value, __s32);
} podtap_ssl_fds SEC(".maps");

/*
 * The socket whose TLS records a Python thread read last, for SSL objects
 * on memory BIOs (asyncio's SSLObject: uvicorn --ssl-*, aiohttp, httpx):
 * their SSL calls make no socket syscall, but the event loop reads the
 * records and hands them to the SSL object in one callback, on one thread.
 * The thread's next SSL call takes it (podtap_py.bpf.c: tls_exit).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_TLS_RECVS);
	__type(key, __u64);   /* pid_tgid */
	__type(value, __s32); /* the socket's fd */
} podtap_tls_recvs SEC(".maps");

/* Python processes whose SSL calls are captured: set by the daemon when it
 * finds one, inherited on fork, removed on exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PODTAP_MAX_PY_PROCS);
	__type(key, __u32);
	__type(value, __u8);
} podtap_py_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} podtap_events SEC(".maps");

static __always_inline bool traced_task(void)
{
	return (bpf_get_current_pid_tgid() >> 32) != self_tgid;
}

/* A process whose SSL calls are hooked (podtap_py_procs). */
static __always_inline bool python_task(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&podtap_py_procs, &tgid) != NULL;
}

/*
 * Flags for an event of `size` bytes. The reader is woken once per
 * wakeup_min_bytes (a power of two, 1/16 of the ring) of data waiting, by
 * the event that carries it over a multiple of that; the daemon polls on a
 * short timeout, so quiet periods still flow. Not on every event past the
 * mark: while the reader catches up, that was a wakeup request per event,
 * a fifth of the kernel's time at nginx's rate. But once an eighth of the
 * ring is waiting, every event asks again: the reader is late, and a
 * wakeup lost to two CPUs racing past one multiple, or spent while it was
 * still busy, must not leave it asleep while the ring fills (at 16 KiB
 * responses the ring is a few milliseconds of traffic: with the crossings
 * alone, 8% of those events were lost at wrk's rate; with this, 0.5%).
 */
static __always_inline __u64 wakeup_flags(__u64 size)
{
	__u64 before, mask = ~(wakeup_min_bytes - 1);

	if (!wakeup_min_bytes)
		return 0;
	before = bpf_ringbuf_query(&podtap_events, BPF_RB_AVAIL_DATA);
	if (before >= 2 * wakeup_min_bytes ||
	    (before & mask) != ((before + size) & mask))
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* The socket an event is about: its key, and the fd the task named it by. */
struct sock_ref {
	__u64 id;
	int fd;
};

/* For events about no socket (process exit, GC). */
#define NO_SOCK ((struct sock_ref){ .id = 0, .fd = -1 })

/*
 * Every event names its task's command and cgroup v2 id. Both are read
 * through the task's BTF pointer by plain loads: bpf_get_current_comm()
 * copies the name byte by byte and bpf_get_current_cgroup_id() is a call
 * for four loads; at nginx's rate the two helpers were 7% of podtap's
 * time in the kernel. The answers are the helpers': the name is the whole
 * of task->comm (userspace reads it up to its NUL, and ends it at the
 * last byte), the id that of the task's cgroup on the unified hierarchy
 * (task_dfl_cgroup()). The programs run under RCU, which keeps the
 * task's css_set alive.
 */
static __always_inline void fill_task(struct podtap_event *ev)
{
	struct task_struct *task = bpf_get_current_task_btf();

	__builtin_memcpy(ev->comm, task->comm, sizeof(ev->comm));
	ev->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
}

static __always_inline void fill_header(struct podtap_event *ev, __u8 kind,
					struct sock_ref sock, __u64 gen,
					__u8 role)
{
	__u64 id = bpf_get_current_pid_tgid();

	ev->ts_ns = bpf_ktime_get_ns();
	fill_task(ev);
	ev->sock_id = sock.id;
	ev->conn_gen = gen;
	ev->stream_pos = 0;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->fd = sock.fd;
	ev->byte_count = 0;
	ev->captured = 0;
	ev->kind = kind;
	ev->direction = 0;
	ev->role = role;
	ev->flags = 0;
}

/*
 * Every event is built in this CPU's scratch (payload.bpf.h), not on the
 * stack: the syscall program inlines several kinds, and their buffers took
 * it past the 512 bytes of stack a program and the functions it calls may
 * use together (6.1 and 6.12 refused it; only newer kernels give tracing
 * programs, not uprobes, a stack of their own). A program sends its event
 * before it builds another, and the syscall and scheduler tracepoints run
 * with preemption off, one at a time on a CPU. A uprobe's program runs
 * under preemptible RCU: on a kernel with full preemption (preempt=full,
 * not the voluntary default of Debian's kernels), a task preempted inside
 * one and another program on its CPU could write the same scratch. The
 * GC's events therefore stay on the stack; the SSL data events have
 * always been built here. new_event() fills the header and zeroes
 * `payload` bytes after it (a constant); send_event() hands header and
 * payload to the ring.
 */
static __always_inline struct podtap_event *new_event(__u8 kind,
						      struct sock_ref sock,
						      __u64 gen, __u8 role,
						      __u32 payload)
{
	struct event_scratch *s = this_scratch();
	struct podtap_event *ev;

	if (!s)
		return NULL;
	ev = (struct podtap_event *)s->data;
	fill_header(ev, kind, sock, gen, role);
	ev->captured = payload;
	__builtin_memset(scratch_payload(s), 0, payload);
	return ev;
}

static __always_inline void send_event(struct podtap_event *ev, __u64 size)
{
	if (bpf_ringbuf_output(&podtap_events, ev, size, wakeup_flags(size)))
		count_drop(PODTAP_DROP_RINGBUF_FULL);
}

/* Events without payload. */
static __always_inline void emit_lifecycle(__u8 kind, struct sock_ref sock,
					   __u64 gen, __u8 role)
{
	struct podtap_event *ev = new_event(kind, sock, gen, role, 0);

	if (ev)
		send_event(ev, sizeof(*ev));
}

/* OPEN carries the socket's addresses, and an accepted one its wait in
 * the accept queue. cast, here and below: the program reads the socket's
 * file by plain loads (sockfd.bpf.h), a constant of each program, passed
 * down as one so that the other program has no kfunc call in it. */
static __always_inline void emit_open(struct sock_ref sock, __u64 gen,
				      __u8 role, __u8 flags, bool cast)
{
	struct podtap_event *ev = new_event(PODTAP_EV_OPEN, sock, gen, role,
					    sizeof(struct podtap_open));
	struct podtap_open *open;

	if (!ev)
		return;
	ev->flags = flags;
	open = (struct podtap_open *)ev->payload;
	file_sock_addrs((struct file *)sock.id, &open->addrs, cast);
	if (role == PODTAP_ROLE_SERVER)
		open->accept_wait_ns =
			accept_wait_ns(file_sk_id((struct file *)sock.id, cast));
	send_event(ev, sizeof(*ev) + sizeof(struct podtap_open));
}

static __always_inline __u64 next_gen(void)
{
	__u32 zero = 0;
	__u64 *gen = bpf_map_lookup_elem(&podtap_conn_gen, &zero);

	/* Generation 0 means "none" to userspace. */
	return gen ? __sync_fetch_and_add(gen, 1) + 1 : 0;
}

/* sock is named by the current process's sock.fd: its entry in
 * podtap_sock_fds, unless the connection's last owner was the same. */
static __always_inline void note_owner(struct sock_ref sock,
				       struct conn_state *st)
{
	struct sock_fd_key key = sock_fd_key_of(sock.fd);

	if (st->owner_tgid == key.tgid && st->owner_fd == key.fd)
		return;
	st->owner_tgid = key.tgid;
	st->owner_fd = key.fd;
	bpf_map_update_elem(&podtap_sock_fds, &key, &sock.id, BPF_ANY);
}

static __always_inline struct conn_state *new_conn(struct sock_ref sock,
						   __u8 role, bool cast)
{
	struct file *file = (struct file *)sock.id;
	struct conn_key key = { .sock_id = sock.id };
	struct sock_fd_key fd_key = sock_fd_key_of(sock.fd);
	struct conn_state st = { .gen = next_gen(),
				 .ino = file_ino(file, cast),
				 .body_from = { NO_BODY, NO_BODY },
				 .role = role,
				 .owner_tgid = fd_key.tgid,
				 .owner_fd = fd_key.fd };

	if (bpf_map_update_elem(&podtap_conns, &key, &st, BPF_ANY)) {
		count_drop(PODTAP_DROP_CONNS_FULL);
		return NULL;
	}
	bpf_map_update_elem(&podtap_sock_fds, &fd_key, &sock.id, BPF_ANY);
	emit_open(sock, st.gen, role, 0, cast);
	return bpf_map_lookup_elem(&podtap_conns, &key);
}

/* The socket behind fd of the current task (id 0: fd is no socket). */
static __always_inline struct sock_ref fd_sock_ref_walk(int fd, bool cast)
{
	struct sock_ref sock = { .id = (__u64)fd_socket_walk(fd, cast),
				 .fd = fd };

	return sock;
}

static __always_inline struct sock_ref fd_sock_ref(int fd)
{
	return fd_sock_ref_walk(fd, false);
}

/* The connection of a socket, created on first sight of a socket that was
 * opened before we attached (or by a syscall we do not trace). */
static __always_inline struct conn_state *conn_of(struct sock_ref sock,
						  bool cast)
{
	struct conn_key key = { .sock_id = sock.id };
	struct conn_state *st = bpf_map_lookup_elem(&podtap_conns, &key);

	if (!st)
		return new_conn(sock, PODTAP_ROLE_UNKNOWN, cast);
	note_owner(sock, st);
	return st;
}

/* The connection behind *sock (filled in from fd); NULL when fd is no
 * socket. */
static __always_inline struct conn_state *lookup_conn(int fd,
						      struct sock_ref *sock)
{
	*sock = fd_sock_ref(fd);
	return sock->id ? conn_of(*sock, false) : NULL;
}

/* From here on the connection's stream is the plaintext of its SSL calls:
 * a new generation, so userspace starts a fresh parser instead of feeding
 * it after whatever ciphertext (a handshake) it saw first. */
static __always_inline void conn_make_tls(struct sock_ref sock,
					  struct conn_state *st, bool cast)
{
	st->gen = next_gen();
	st->pos[0] = 0;
	st->pos[1] = 0;
	st->body_from[0] = NO_BODY;
	st->body_from[1] = NO_BODY;
	st->ignored = 0;
	st->tls = 1;
	emit_open(sock, st->gen, st->role, PODTAP_EVF_TLS, cast);
}

#define WORD(a, b, c, d) ((a) | (b) << 8 | (c) << 16 | (__u32)(d) << 24)

/* The bytes p[0, captured) of a lost event start a request line: the
 * first word of a method (and its space, when it is that short). */
static __always_inline bool starts_request(const char *p, __u64 captured)
{
	__u32 w;

	if (captured < 4)
		return false;
	__builtin_memcpy(&w, p, sizeof(w));
	switch (w) {
	case WORD('G', 'E', 'T', ' '):
	case WORD('P', 'U', 'T', ' '):
	case WORD('P', 'O', 'S', 'T'):
	case WORD('H', 'E', 'A', 'D'):
	case WORD('D', 'E', 'L', 'E'):
	case WORD('P', 'A', 'T', 'C'):
	case WORD('O', 'P', 'T', 'I'):
	case WORD('C', 'O', 'N', 'N'):
	case WORD('T', 'R', 'A', 'C'):
		return true;
	default:
		return false;
	}
}

/* A DATA event the ring had no room for: counted, and so is the request it
 * began, if it began one in its connection's request direction, so that
 * every request podtap could not measure is accounted for. */
static __always_inline void count_lost_data(const struct conn_state *st,
					    __u8 dir, const char *payload,
					    __u64 captured)
{
	count_drop(PODTAP_DROP_RINGBUF_FULL);
	if (!starts_request(payload, captured))
		return;
	if (st->role == PODTAP_ROLE_SERVER && dir == PODTAP_DIR_INGRESS)
		count_drop(PODTAP_DROP_REQUEST_SERVER);
	else if (st->role == PODTAP_ROLE_CLIENT && dir == PODTAP_DIR_EGRESS)
		count_drop(PODTAP_DROP_REQUEST_CLIENT);
}

/*
 * A server unit read a request head: the kernel names its server span
 * itself, at once (a new trace, or the caller's from its traceparent), so
 * that the calls the handler makes next can carry it whatever the
 * daemon's delay (trace_ctx.bpf.h); the ids go to the daemon ahead of the
 * request's data (PODTAP_EV_SERVING), and its span takes them. Heads it
 * cannot frame, or whose context is not a plain version-00 traceparent
 * (b3 alone, two traceparents), are the daemon's to place.
 */
static __always_inline void name_serving_head(struct event_scratch *s)
{
	const struct podtap_event *data;
	struct serving_event *se;
	struct podtap_serving_ids *ids;
	struct podtap_event *ev;
	struct head_scan hs;
	struct trace_ctx c = {};
	struct unit_key k;
	__u64 sock_id, gen, pos;
	__u32 zero = 0, n;
	__u8 flags = 0;

	/* The data event about to be sent says which request. */
	data = (const struct podtap_event *)s->data;
	sock_id = data->sock_id;
	gen = data->conn_gen;
	pos = data->stream_pos;
	n = data->captured;
	if (n > HEAD_SCAN_MAX_BYTES)
		n = HEAD_SCAN_MAX_BYTES;
	head_scan(&hs, (const __u8 *)scratch_payload(s), n);
	if (!head_framed(&hs))
		return;
	se = bpf_map_lookup_elem(&podtap_serving_scratch, &zero);
	if (!se)
		return;
	ev = (struct podtap_event *)se->buf;
	ids = (struct podtap_serving_ids *)(se->buf + sizeof(*ev));
	__builtin_memset(ids, 0, sizeof(*ids));
	if (hs.traceparents) {
		/* The caller's context, as the daemon would read it. */
		if (!head_traceparent(&hs, c.trace_id, ids->parent_id, &flags))
			return;
		c.sampled = sampler_parent_based ? flags & 1
						 : root_sampled(c.trace_id);
	} else if (hs.has_context) {
		return; /* b3 only: the daemon's */
	} else {
		random_bytes(c.trace_id, 4);
		c.sampled = root_sampled(c.trace_id);
	}
	random_bytes(c.span_id, 2);
	c.sock_id = sock_id;
	c.gen = gen;
	c.head_pos = pos;
	c.end_pos = pos + hs.head_end + (hs.has_length ? hs.length : 0);
	k = current_unit();
	bpf_map_update_elem(&podtap_trace_ctx, &k, &c, BPF_ANY);

	__builtin_memcpy(ids->trace_id, c.trace_id, sizeof(c.trace_id));
	__builtin_memcpy(ids->span_id, c.span_id, sizeof(c.span_id));
	ids->sampled = c.sampled;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->sock_id = sock_id;
	ev->conn_gen = gen;
	ev->stream_pos = pos;
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	ev->tid = k.tid;
	ev->fd = -1;
	ev->kind = PODTAP_EV_SERVING;
	ev->role = PODTAP_ROLE_SERVER;
	ev->captured = sizeof(*ids);
	send_event(ev, sizeof(se->buf));
}

/*
 * With injection on, a server connection's data event (built in this
 * CPU's scratch, about to be sent) updates its unit's record
 * (stamp_serving), and a request head is named at once. The daemon need
 * not be woken for it: the kernel names the request in the handler's
 * calls by itself. Global, taking nothing but the scratch: the verifier
 * walks it once, not once per outcome of every caller.
 */
__noinline int serving_record(void)
{
	struct event_scratch *s = this_scratch();
	const struct podtap_event *ev;

	if (!s)
		return 0;
	ev = (const struct podtap_event *)s->data;
	stamp_serving(ev->sock_id, ev->conn_gen, ev->direction,
		      ev->stream_pos + ev->byte_count);
	if (ev->direction == PODTAP_DIR_INGRESS &&
	    starts_request(scratch_payload(s), ev->captured))
		name_serving_head(s);
	return 0;
}

static __always_inline void fill_data_header(struct podtap_event *ev,
					     struct sock_ref sock,
					     struct conn_state *st, __u8 dir,
					     __u64 count, __u64 pos)
{
	fill_header(ev, PODTAP_EV_DATA, sock, st->gen, st->role);
	ev->direction = dir;
	ev->flags = st->tls ? PODTAP_EVF_TLS : 0;
	ev->stream_pos = pos;
	ev->byte_count = count > 0xffffffffULL ? 0xffffffff : (__u32)count;
}

/* A DATA event for `count` bytes moved on connection st (socket sock), with
 * what payload.bpf.h keeps of them copied from user memory. Returns the
 * number of bytes copied; first[] gets the first two when there are two. */
static __always_inline __u64 emit_data(struct sock_ref sock,
				       struct conn_state *st, __u8 dir,
				       __u64 count, __u8 shape, __u64 ptr,
				       __u32 iovcnt, __u8 first[2])
{
	struct event_scratch *s = this_scratch();
	struct podtap_event *ev;
	char *payload;
	__u64 captured, size;
	/* Positions advance even when the event is lost below, so userspace
	 * sees the gap instead of misreading the stream. */
	__u64 pos = __sync_fetch_and_add(&st->pos[dir & 1], count);

	if (!s)
		return 0;
	ev = (struct podtap_event *)s->data;
	payload = scratch_payload(s);
	fill_data_header(ev, sock, st, dir, count, pos);

	captured = copy_payload(shape, ptr, iovcnt, count, st->body_from[dir & 1]);
	st->body_from[dir & 1] = s->body_from;
	if (captured > PODTAP_PAYLOAD_MAX)
		captured = PODTAP_PAYLOAD_MAX;
	ev->captured = captured;

	size = sizeof(*ev) + captured;
	verifier_mask(size, PAYLOAD_LEN_MASK);
	if (trace_ctx_on && st->role == PODTAP_ROLE_SERVER)
		serving_record();
	if (bpf_ringbuf_output(&podtap_events, s, size, wakeup_flags(size)))
		count_lost_data(st, dir, payload, captured);
	if (captured >= 2) {
		first[0] = payload[0];
		first[1] = payload[1];
	}
	return captured;
}

#endif /* PODTAP_CONN_BPF_H */
