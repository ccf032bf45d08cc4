// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket I/O capture on syscall tracepoints.
 *
 * Enter stubs stash the syscall's arguments (fd, buffer or iovec array) for
 * socket fds only; exit stubs, once the byte count is known, copy a bounded
 * prefix of the bytes into a ring-buffer event with the connection's
 * generation and stream position. Everything else (HTTP parsing, pods,
 * metrics) happens in userspace. Nothing here needs kprobes or fentry.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"
#include "sockfd.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EINPROGRESS 115

/* Set by the daemon between open and load. */
const volatile __u32 self_tgid = 0;         /* never trace ourselves */
const volatile __u32 payload_size = 8192;   /* <= PODTAP_PAYLOAD_MAX */
const volatile __u64 wakeup_min_bytes = 0;  /* batch wakeups below this */

/* Connection generations: unique per (pid, fd) lifetime, node-wide. */
__u64 next_conn_gen = 1;

struct conn_key {
	__u32 tgid;
	__s32 fd;
};

struct conn_state {
	__u64 gen;
	__u64 pos[2];   /* bytes so far, per enum podtap_direction */
	__u8 role;      /* enum podtap_role */
	__u8 ignored;   /* set by userspace: not HTTP, send no data */
	__u8 pad[6];
};

enum io_shape {
	IO_BUF = 0, /* read/write/recvfrom/sendto/sendfile: one buffer */
	IO_IOV = 1, /* readv/writev/recvmsg/sendmsg: an iovec array */
	IO_NONE = 2,/* sendfile: bytes move, but not through user memory */
};

struct syscall_args {
	__u64 ptr;     /* buffer or struct iovec * */
	__u32 iovcnt;
	__s32 fd;
	__u8 shape;    /* enum io_shape */
	__u8 pad[7];
};

/* Sockets seen; LRU because a process can vanish without close(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} podtap_conns SEC(".maps");

/* Arguments of in-flight socket syscalls, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct syscall_args);
} podtap_inflight SEC(".maps");

/* Per-reason drop counters (enum podtap_drop_reason). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PODTAP_DROP_NR);
	__type(key, __u32); /* enum podtap_drop_reason: arrays need int keys */
	__type(value, __u64);
} podtap_drops SEC(".maps");

/* Scratch space for building an event: per CPU (max_entries is set to the
 * number of CPUs at load), and twice the payload bound so that a variable
 * offset plus a bounded length provably stays inside it. Not a per-CPU map
 * because per-CPU values are limited to 32 KiB. */
struct event_scratch {
	__u8 data[sizeof(struct podtap_event) + 2 * PODTAP_PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the daemon sets it to the CPU count */
	__type(key, __u32);
	__type(value, struct event_scratch);
} podtap_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} podtap_events SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&podtap_drops, &reason);

	if (n)
		*n += 1;
}

static __always_inline bool traced_task(void)
{
	return (bpf_get_current_pid_tgid() >> 32) != self_tgid;
}

/* Wake the reader only once enough has piled up; the daemon polls on a
 * short timeout, so quiet periods still flow. */
static __always_inline __u64 wakeup_flags(void)
{
	if (!wakeup_min_bytes)
		return 0;
	if (bpf_ringbuf_query(&podtap_events, BPF_RB_AVAIL_DATA) >= wakeup_min_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_header(struct podtap_event *ev, __u8 kind,
					int fd, __u64 gen, __u8 role)
{
	__u64 id = bpf_get_current_pid_tgid();

	ev->ts_ns = bpf_ktime_get_ns();
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->conn_gen = gen;
	ev->stream_pos = 0;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->fd = fd;
	ev->byte_count = 0;
	ev->captured = 0;
	ev->kind = kind;
	ev->direction = 0;
	ev->role = role;
	ev->pad = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

/* CLOSE and PROC_EXIT carry no payload: a small stack event is enough. */
static __always_inline void emit_lifecycle(__u8 kind, int fd, __u64 gen,
					   __u8 role)
{
	struct podtap_event ev;

	fill_header(&ev, kind, fd, gen, role);
	if (bpf_ringbuf_output(&podtap_events, &ev, sizeof(ev), wakeup_flags()))
		count_drop(PODTAP_DROP_RINGBUF_FULL);
}

/* OPEN carries the socket's addresses. */
static __always_inline void emit_open(int fd, __u64 gen, __u8 role)
{
	__u8 buf[sizeof(struct podtap_event) + sizeof(struct podtap_sock_addrs)] = {};
	struct podtap_event *ev = (struct podtap_event *)buf;
	struct podtap_sock_addrs *addrs =
		(struct podtap_sock_addrs *)(buf + sizeof(*ev));

	fill_header(ev, PODTAP_EV_OPEN, fd, gen, role);
	fd_sock_addrs(fd, addrs);
	ev->captured = sizeof(*addrs);
	if (bpf_ringbuf_output(&podtap_events, buf, sizeof(buf), wakeup_flags()))
		count_drop(PODTAP_DROP_RINGBUF_FULL);
}

static __always_inline struct conn_state *new_conn(int fd, __u8 role)
{
	struct conn_key key = { .tgid = bpf_get_current_pid_tgid() >> 32,
				.fd = fd };
	struct conn_state st = {
		.gen = __sync_fetch_and_add(&next_conn_gen, 1),
		.role = role,
	};

	if (bpf_map_update_elem(&podtap_conns, &key, &st, BPF_ANY)) {
		count_drop(PODTAP_DROP_CONNS_FULL);
		return NULL;
	}
	emit_open(fd, st.gen, role);
	return bpf_map_lookup_elem(&podtap_conns, &key);
}

/* The connection behind fd, created on first sight of a socket that was
 * opened before we attached (or by a syscall we do not trace). */
static __always_inline struct conn_state *lookup_conn(int fd)
{
	struct conn_key key = { .tgid = bpf_get_current_pid_tgid() >> 32,
				.fd = fd };
	struct conn_state *st = bpf_map_lookup_elem(&podtap_conns, &key);

	if (st)
		return st;
	if (!fd_is_socket(fd))
		return NULL;
	return new_conn(fd, PODTAP_ROLE_UNKNOWN);
}

static __always_inline void stash_args(int fd, __u64 ptr, __u32 iovcnt,
				       __u8 shape)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args a = { .ptr = ptr, .iovcnt = iovcnt, .fd = fd,
				  .shape = shape };
	struct conn_state *st;

	if (!traced_task())
		return;
	st = lookup_conn(fd);
	if (!st || st->ignored)
		return;
	if (bpf_map_update_elem(&podtap_inflight, &id, &a, BPF_ANY))
		count_drop(PODTAP_DROP_ARGS_FULL);
}

static __always_inline __u32 copy_buf(char *dst, __u64 src, __u32 len)
{
	if (len > PODTAP_PAYLOAD_MAX)
		len = PODTAP_PAYLOAD_MAX;
	if (bpf_probe_read_user(dst, len, (void *)src)) {
		count_drop(PODTAP_DROP_READ_FAILED);
		return 0;
	}
	return len;
}

/* Copies up to `limit` bytes from an iovec array, in order. */
static __always_inline __u32 copy_iov(char *dst, __u64 iovp, __u32 iovcnt,
				      __u32 limit)
{
	const struct iovec *iov = (const struct iovec *)iovp;
	__u32 off = 0;

	for (int i = 0; i < PODTAP_IOV_MAX; i++) {
		struct iovec seg;
		__u64 len;

		if (i >= iovcnt || off >= limit)
			break;
		if (bpf_probe_read_user(&seg, sizeof(seg), &iov[i])) {
			count_drop(PODTAP_DROP_READ_FAILED);
			break;
		}
		len = seg.iov_len;
		if (len > limit - off)
			len = limit - off;
		if (len > PODTAP_PAYLOAD_MAX)
			len = PODTAP_PAYLOAD_MAX;
		off &= PODTAP_PAYLOAD_MAX - 1;
		if (bpf_probe_read_user(dst + off, len, seg.iov_base)) {
			count_drop(PODTAP_DROP_READ_FAILED);
			break;
		}
		off += len;
	}
	if (iovcnt > PODTAP_IOV_MAX && off < limit)
		count_drop(PODTAP_DROP_IOV_TRUNCATED);
	return off;
}

static __always_inline void data_exit(long ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args *a = bpf_map_lookup_elem(&podtap_inflight, &id);
	struct syscall_args args;
	struct conn_key key;
	struct conn_state *st;
	struct event_scratch *s;
	struct podtap_event *ev;
	char *payload;
	__u32 cpu = bpf_get_smp_processor_id(), limit, captured = 0;
	__u64 pos;

	if (!a)
		return;
	args = *a;
	bpf_map_delete_elem(&podtap_inflight, &id);
	if (ret <= 0)
		return;

	key.tgid = id >> 32;
	key.fd = args.fd;
	st = bpf_map_lookup_elem(&podtap_conns, &key);
	if (!st)
		return;
	/* Positions advance even when the event is lost below, so userspace
	 * sees the gap instead of misreading the stream. */
	pos = __sync_fetch_and_add(&st->pos[dir & 1], (__u64)ret);

	s = bpf_map_lookup_elem(&podtap_scratch, &cpu);
	if (!s)
		return;
	ev = (struct podtap_event *)s->data;
	payload = (char *)s->data + sizeof(*ev);
	fill_header(ev, PODTAP_EV_DATA, args.fd, st->gen, st->role);
	ev->direction = dir;
	ev->stream_pos = pos;
	ev->byte_count = ret > 0xffffffffL ? 0xffffffff : (__u32)ret;

	limit = payload_size;
	if (limit > PODTAP_PAYLOAD_MAX)
		limit = PODTAP_PAYLOAD_MAX;
	if ((__u64)ret < limit)
		limit = (__u32)ret;
	if (args.shape == IO_BUF)
		captured = copy_buf(payload, args.ptr, limit);
	else if (args.shape == IO_IOV)
		captured = copy_iov(payload, args.ptr, args.iovcnt, limit);
	if (captured > PODTAP_PAYLOAD_MAX)
		captured = PODTAP_PAYLOAD_MAX;
	ev->captured = captured;

	if (bpf_ringbuf_output(&podtap_events, s, sizeof(*ev) + captured,
			       wakeup_flags()))
		count_drop(PODTAP_DROP_RINGBUF_FULL);
}

/* --- reads ------------------------------------------------------------ */

SEC("tracepoint/syscalls/sys_enter_read")
int podtap_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], ctx->args[1], 0, IO_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int podtap_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_INGRESS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int podtap_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], ctx->args[1], 0, IO_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int podtap_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_INGRESS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_readv")
int podtap_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], ctx->args[1], ctx->args[2], IO_IOV);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_readv")
int podtap_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_INGRESS);
	return 0;
}

static __always_inline void stash_msghdr(int fd, __u64 msgp)
{
	struct user_msghdr msg;

	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)msgp))
		return;
	stash_args(fd, (__u64)msg.msg_iov, msg.msg_iovlen, IO_IOV);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int podtap_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	stash_msghdr(ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int podtap_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_INGRESS);
	return 0;
}

/* --- writes ----------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_write")
int podtap_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], ctx->args[1], 0, IO_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_write")
int podtap_exit_write(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_EGRESS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int podtap_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], ctx->args[1], 0, IO_BUF);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int podtap_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_EGRESS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int podtap_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], ctx->args[1], ctx->args[2], IO_IOV);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_writev")
int podtap_exit_writev(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_EGRESS);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int podtap_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	stash_msghdr(ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int podtap_exit_sendmsg(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_EGRESS);
	return 0;
}

/* sendfile moves response bodies (static files) without user memory: only
 * the count is known, but the stream position must still advance. */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int podtap_enter_sendfile(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[0], 0, 0, IO_NONE);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int podtap_exit_sendfile(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_EGRESS);
	return 0;
}

/* --- connection lifecycle -------------------------------------------- */

static __always_inline void accepted(long ret)
{

	if (ret < 0 || !traced_task())
		return;
	new_conn(ret, PODTAP_ROLE_SERVER);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int podtap_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	accepted(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int podtap_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	accepted(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int podtap_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args a = { .fd = ctx->args[0], .shape = IO_NONE };

	if (!traced_task())
		return 0;
	if (bpf_map_update_elem(&podtap_inflight, &id, &a, BPF_ANY))
		count_drop(PODTAP_DROP_ARGS_FULL);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int podtap_exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args *a = bpf_map_lookup_elem(&podtap_inflight, &id);
	int fd;

	if (!a)
		return 0;
	fd = a->fd;
	bpf_map_delete_elem(&podtap_inflight, &id);
	/* Non-blocking connects report EINPROGRESS and finish later. */
	if (ctx->ret != 0 && ctx->ret != -EINPROGRESS)
		return 0;
	new_conn(fd, PODTAP_ROLE_CLIENT);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int podtap_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct conn_key key = { .tgid = bpf_get_current_pid_tgid() >> 32,
				.fd = ctx->args[0] };
	struct conn_state *st = bpf_map_lookup_elem(&podtap_conns, &key);

	if (!st)
		return 0;
	emit_lifecycle(PODTAP_EV_CLOSE, key.fd, st->gen, st->role);
	bpf_map_delete_elem(&podtap_conns, &key);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int podtap_proc_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	/* Once per process: when its main thread exits. */
	if ((__u32)id != (id >> 32) || !traced_task())
		return 0;
	emit_lifecycle(PODTAP_EV_PROC_EXIT, -1, 0, PODTAP_ROLE_UNKNOWN);
	return 0;
}
