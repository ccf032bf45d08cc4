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

#include "conn.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EINPROGRESS 115
#define MSG_PEEK 2

struct syscall_args {
	__u64 ptr;     /* buffer or struct iovec * */
	__u64 sock_id; /* the connection, found at enter */
	__u32 iovcnt;
	__s32 fd;
	__u8 shape;    /* enum io_shape */
	__u8 note_only;/* an ignored connection: nothing is sent, but TLS
			* records read may still be noted (note_tls_recv) */
	__u8 pad[6];
};

/* Arguments of in-flight socket syscalls, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct syscall_args);
} podtap_inflight SEC(".maps");

/*
 * Socket I/O inside an SSL call is ciphertext: it names the SSL object's
 * socket, turns the connection into a TLS one, and is not sent. Returns
 * true when the syscall's bytes must not be captured.
 */
static __always_inline bool tls_syscall(struct sock_ref sock,
					struct conn_state *st)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *call = bpf_map_lookup_elem(&podtap_tls_calls, &id);
	struct ssl_key key = { .tgid = id >> 32 };

	if (!call)
		return st->tls;
	call->fd = sock.fd;
	key.ssl = call->ssl;
	bpf_map_update_elem(&podtap_ssl_fds, &key, &sock.fd, BPF_ANY);
	if (!st->tls)
		conn_make_tls(sock, st);
	return true;
}

static __always_inline void stash_args(int fd, __u64 ptr, __u32 iovcnt,
				       __u8 shape)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args a = { .ptr = ptr, .iovcnt = iovcnt, .fd = fd,
				  .shape = shape };
	struct conn_state *st;
	struct sock_ref sock;

	if (!traced_task())
		return;
	st = lookup_conn(fd, &sock);
	if (!st || tls_syscall(sock, st))
		return;
	/* Userspace sets a connection aside once its first bytes are not
	 * HTTP, a ClientHello among them, maybe before the handshake's
	 * answer is read: a Python process's reads of such a socket are still
	 * looked at for TLS records, for asyncio's SSL objects. */
	if (st->ignored) {
		if (shape != IO_BUF || !python_task())
			return;
		a.note_only = 1;
	}
	a.sock_id = sock.id;
	if (bpf_map_update_elem(&podtap_inflight, &id, &a, BPF_ANY))
		count_drop(PODTAP_DROP_ARGS_FULL);
}

/* TLS records a Python thread just read into buf: its next SSL call on a
 * memory BIO is this socket's (podtap_tls_recvs). A record starts with
 * its content type (20..23) and the major version 3. */
static __always_inline void note_tls_recv(int fd, __u64 buf, long n)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 hdr[2];
	__s32 v = fd;

	if (n < 5 || !python_task() ||
	    bpf_probe_read_user(hdr, sizeof(hdr), (void *)buf) ||
	    hdr[0] < 20 || hdr[0] > 23 || hdr[1] != 3)
		return;
	bpf_map_update_elem(&podtap_tls_recvs, &id, &v, BPF_ANY);
}

static __always_inline void data_exit(long ret, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct syscall_args *a = bpf_map_lookup_elem(&podtap_inflight, &id);
	struct syscall_args args;
	struct conn_key key;
	struct conn_state *st;
	struct sock_ref sock;

	if (!a)
		return;
	args = *a;
	bpf_map_delete_elem(&podtap_inflight, &id);
	if (ret <= 0)
		return;
	if (args.shape == IO_NONE_IN)
		dir = PODTAP_DIR_INGRESS;
	key.sock_id = args.sock_id;
	st = bpf_map_lookup_elem(&podtap_conns, &key);
	sock.id = args.sock_id;
	sock.fd = args.fd;
	if (!st)
		return;
	if (!args.note_only)
		emit_data(sock, st, dir, ret, args.shape, args.ptr,
			  args.iovcnt);
	if (dir == PODTAP_DIR_INGRESS && args.shape == IO_BUF)
		note_tls_recv(args.fd, args.ptr, ret);
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

/* A peek (a proxy's protocol sniffing) leaves the bytes to be read again:
 * it neither moves the stream nor is data. */
SEC("tracepoint/syscalls/sys_enter_recvfrom")
int podtap_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[3] & MSG_PEEK))
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
	if (!(ctx->args[2] & MSG_PEEK))
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

/* splice(fd_in, off_in, fd_out, off_out, len, flags) moves bytes between a
 * pipe and a socket without user memory (proxies, servers of files): as
 * with sendfile only the count is known, and the position advances. One
 * end is a pipe, so at most one of the two is stashed. */
SEC("tracepoint/syscalls/sys_enter_splice")
int podtap_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	stash_args(ctx->args[2], 0, 0, IO_NONE);
	stash_args(ctx->args[0], 0, 0, IO_NONE_IN);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_splice")
int podtap_exit_splice(struct trace_event_raw_sys_exit *ctx)
{
	data_exit(ctx->ret, PODTAP_DIR_EGRESS); /* IO_NONE_IN: ingress */
	return 0;
}

/* --- connection lifecycle -------------------------------------------- */

/* A socket that accept() or connect() made: a new connection. */
static __always_inline void opened(int fd, __u8 role)
{
	struct sock_ref sock = fd_sock_ref(fd);

	if (sock.id)
		new_conn(sock, role);
}

static __always_inline void accepted(long ret)
{
	if (ret >= 0 && traced_task())
		opened(ret, PODTAP_ROLE_SERVER);
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
	opened(fd, PODTAP_ROLE_CLIENT);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int podtap_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct sock_ref sock = fd_sock_ref(ctx->args[0]);
	struct conn_key key = { .sock_id = sock.id };
	struct conn_state *st;

	if (!sock.id)
		return 0;
	st = bpf_map_lookup_elem(&podtap_conns, &key);
	if (!st || !file_last_ref((struct file *)sock.id))
		return 0;
	emit_lifecycle(PODTAP_EV_CLOSE, sock, st->gen, st->role);
	bpf_map_delete_elem(&podtap_conns, &key);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int podtap_proc_exit(struct trace_event_raw_sched_process_template *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	__u32 tgid = id >> 32;

	/* Once per process: when its main thread exits. */
	if ((__u32)id != tgid || !traced_task())
		return 0;
	bpf_map_delete_elem(&podtap_py_procs, &tgid);
	emit_lifecycle(PODTAP_EV_PROC_EXIT, NO_SOCK, 0, PODTAP_ROLE_UNKNOWN);
	return 0;
}

/*
 * A cgroup v2 directory was made: its id and path go to the daemon before
 * any process runs in it, so traffic is attributed to its pod even when
 * the process and the cgroup are both gone by the time the event is read
 * (a Job's last requests). Rare: the reader is woken at once.
 */
SEC("tracepoint/cgroup/cgroup_mkdir")
int podtap_cgroup_mkdir(struct trace_event_raw_cgroup *ctx)
{
	struct podtap_event *ev;
	char *path;
	long n;

	/* The unified hierarchy's id is 0; v1 hierarchies name no pods. */
	if (BPF_CORE_READ(ctx, root) != 0)
		return 0;
	ev = bpf_ringbuf_reserve(&podtap_events,
				 sizeof(*ev) + PODTAP_CGROUP_PATH_MAX, 0);
	if (!ev) {
		count_drop(PODTAP_DROP_RINGBUF_FULL);
		return 0;
	}
	fill_header(ev, PODTAP_EV_CGROUP_MKDIR, NO_SOCK, 0, PODTAP_ROLE_UNKNOWN);
	ev->cgroup_id = BPF_CORE_READ(ctx, id);
	path = (char *)ev + sizeof(*ev);
	n = bpf_probe_read_kernel_str(path, PODTAP_CGROUP_PATH_MAX,
				      (char *)ctx +
					      (BPF_CORE_READ(ctx, __data_loc_path) &
					       0xffff));
	ev->captured = n > 0 ? n : 0;
	bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
	return 0;
}
