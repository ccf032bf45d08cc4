// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket I/O capture on the raw syscall tracepoints.
 *
 * One program sees the end of every syscall of every process on the node:
 * once the byte count or result is known, handles those that move socket
 * bytes or make connections, and copies a bounded prefix of the bytes into
 * a ring-buffer event with the connection's generation and stream
 * position. The syscall's arguments are still in the saved user registers
 * at exit, so nothing is kept from its enter: a syscall podtap does not
 * read costs a compare, and a read or write of a file that is no socket
 * one walk of the task's fd table. close and mmap are seen here too, so
 * that no program runs at any syscall's enter (a sys_enter probe of any
 * kind made every syscall of the node slower still). Everything else
 * (HTTP parsing, pods, metrics) happens in userspace. Nothing here needs
 * kprobes or fentry.
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
#define PROT_EXEC 0x4

/*
 * Socket I/O inside an SSL call is ciphertext: it names the SSL object's
 * socket, turns the connection into a TLS one, and is not sent. Returns
 * true when the syscall's bytes must not be captured.
 */
static __always_inline bool tls_syscall(struct sock_ref sock,
					struct conn_state *st, bool cast)
{
	__u64 id;
	struct tls_call *call;
	struct ssl_key key;

	if (!tls_calls_active())
		return st->tls;
	id = bpf_get_current_pid_tgid();
	call = bpf_map_lookup_elem(&podtap_tls_calls, &id);
	if (!call)
		return st->tls;
	key.tgid = id >> 32;
	key.pad = 0;
	call->fd = sock.fd;
	key.ssl = call->ssl;
	bpf_map_update_elem(&podtap_ssl_fds, &key, &sock.fd, BPF_ANY);
	if (!st->tls)
		conn_make_tls(sock, st, cast);
	return true;
}

/* A TLS record starts with its content type (20..23) and the major
 * version 3. */
static __always_inline bool tls_record_start(const __u8 b[2])
{
	return b[0] >= 20 && b[0] <= 23 && b[1] == 3;
}

/* TLS records a Python thread just read into buf: its next SSL call on a
 * memory BIO is this socket's (podtap_tls_recvs). b: the first two bytes
 * read, if the event copied them (copied >= 2). */
static __always_inline void note_tls_recv(int fd, __u64 buf, long n,
					  __u8 b[2], __u64 copied)
{
	__u64 id;
	__s32 v = fd;

	if (n < 5)
		return;
	if (copied >= 2) {
		/* The bytes first: HTTP fails at once, without a lookup. */
		if (!tls_record_start(b) || !python_task())
			return;
	} else {
		/* Nothing copied: a connection set aside as not HTTP, most
		 * often no Python process's (a database, a cache, a proxy).
		 * The lookup first: it is cheaper than a read of user
		 * memory, which iperf3's stream paid on every read. */
		if (!python_task() || bpf_probe_read_user(b, 2, (void *)buf) ||
		    !tls_record_start(b))
			return;
	}
	id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&podtap_tls_recvs, &id, &v, BPF_ANY);
}

/*
 * ret > 0 bytes moved through fd: the connection's event, unless fd is no
 * socket, the bytes are an SSL call's ciphertext, or userspace set the
 * connection aside as not HTTP. A Python process's reads of such a
 * connection are still looked at for TLS records, for asyncio's SSL
 * objects (userspace may set it aside on the ClientHello, before the
 * handshake's answer is read).
 */
static __always_inline void socket_io(int fd, __u8 dir, __u8 shape,
				      __u64 ptr, __u32 iovcnt, long ret,
				      bool cast)
{
	struct sock_ref sock = fd_sock_ref_walk(fd, cast);
	__u8 first[2] = {};
	__u64 copied = 0;
	struct conn_state *st;

	/* The fd is checked first: most syscalls are on files. */
	if (!sock.id || !traced_task())
		return;
	st = conn_of(sock, cast);
	if (!st || tls_syscall(sock, st, cast))
		return;
	if (!st->ignored)
		copied = emit_data(sock, st, dir, ret, shape, ptr, iovcnt,
				   first);
	if (dir == PODTAP_DIR_INGRESS && shape == IO_BUF)
		note_tls_recv(fd, ptr, ret, first, copied);
}

/* --- syscall numbers and arguments, per architecture ----------------- */

#if defined(__TARGET_ARCH_x86)
/* arch/x86/entry/syscalls/syscall_64.tbl */
enum {
	NR_read = 0, NR_write = 1, NR_close = 3, NR_mmap = 9, NR_readv = 19,
	NR_writev = 20, NR_sendfile = 40, NR_connect = 42, NR_accept = 43,
	NR_sendto = 44, NR_recvfrom = 45, NR_sendmsg = 46, NR_recvmsg = 47,
	NR_splice = 275, NR_accept4 = 288,
};
#define syscall_nr(regs) ((regs)->orig_ax)
#define TS_COMPAT 0x0002
/* A 32-bit process's syscall numbers are another table's; like the perf
 * syscall tracepoints, podtap leaves such processes alone. */
static __always_inline bool compat_syscall(void)
{
	return bpf_get_current_task_btf()->thread_info.status & TS_COMPAT;
}
#elif defined(__TARGET_ARCH_arm64)
/* include/uapi/asm-generic/unistd.h */
enum {
	NR_close = 57, NR_read = 63, NR_write = 64, NR_readv = 65,
	NR_writev = 66, NR_sendfile = 71, NR_splice = 76, NR_accept = 202,
	NR_connect = 203, NR_sendto = 206, NR_recvfrom = 207,
	NR_sendmsg = 211, NR_recvmsg = 212, NR_mmap = 222, NR_accept4 = 242,
};
#define syscall_nr(regs) ((regs)->syscallno)
#define TIF_32BIT 22
static __always_inline bool compat_syscall(void)
{
	return bpf_get_current_task_btf()->thread_info.flags &
	       (1UL << TIF_32BIT);
}
#else
#error "podtap: syscall numbers for this architecture are not known"
#endif

/* The saved registers of a syscall hold its arguments at exit too (arm64
 * keeps the first in orig_x0, which libbpf's macros read). */
#define ARG1(regs) PT_REGS_PARM1_SYSCALL(regs)
#define ARG2(regs) PT_REGS_PARM2_SYSCALL(regs)
#define ARG3(regs) PT_REGS_PARM3_SYSCALL(regs)
#define ARG4(regs) PT_REGS_PARM4_SYSCALL(regs)
#define ARG5(regs) PT_REGS_PARM5_SYSCALL(regs)

/* --- the syscalls ----------------------------------------------------- */

/* A socket that accept() or connect() made: a new connection. */
static __always_inline void opened(int fd, __u8 role, bool cast)
{
	struct sock_ref sock = fd_sock_ref_walk(fd, cast);

	if (sock.id && traced_task())
		new_conn(sock, role, cast);
}

/*
 * close(fd) succeeded: if fd named a connection's socket and was its last
 * reference, the connection ends. The fd is gone by now, so the socket is
 * found by podtap_sock_fds. Since 6.7 close releases the file before it
 * returns, and the struct file may already be another file's: a reference
 * count still held, but of another file or another socket (f_op, inode),
 * is no reference to this one.
 */
static __always_inline void closed(int fd, bool cast)
{
	struct sock_fd_key fd_key = sock_fd_key_of(fd);
	struct conn_key key;
	struct conn_state *st;
	struct file *file;
	__u64 *sock_id;

	sock_id = bpf_map_lookup_elem(&podtap_sock_fds, &fd_key);
	if (!sock_id)
		return;
	key.sock_id = *sock_id;
	bpf_map_delete_elem(&podtap_sock_fds, &fd_key);
	st = bpf_map_lookup_elem(&podtap_conns, &key);
	if (!st)
		return;
	file = (struct file *)key.sock_id;
	if (!file_released(file) && file_fops(file, cast) == socket_fops &&
	    file_ino(file, cast) == st->ino)
		return;
	emit_lifecycle(PODTAP_EV_CLOSE, (struct sock_ref){ .id = key.sock_id,
							   .fd = fd },
		       st->gen, st->role);
	bpf_map_delete_elem(&podtap_conns, &key);
}

/* mmap(addr, len, prot, flags, fd, off) of a file, executable, by a Python
 * process whose SSL calls are hooked: `import ssl` after start, or any
 * dlopen. The daemon rereads the process's maps (the event's fd is the
 * file's). */
static __always_inline void mapped(struct pt_regs *regs)
{
	int fd = ARG5(regs);

	if (!(ARG3(regs) & PROT_EXEC) || fd < 0 || !python_task())
		return;
	emit_lifecycle(PODTAP_EV_LIB_MAPPED,
		       (struct sock_ref){ .id = 0, .fd = fd }, 0,
		       PODTAP_ROLE_UNKNOWN);
}

/* The end of a syscall; cast: the fd walk without helper calls
 * (fd_file_cast), a constant for each of the two programs below. */
static __always_inline int sys_exit(struct pt_regs *regs, long ret, bool cast)
{
	long nr = syscall_nr(regs);
	struct user_msghdr msg;
	__u64 ptr = 0;
	__u32 iovcnt = 0;
	__u8 dir, shape;
	int fd;

	/* Failures move nothing; a non-blocking connect reports EINPROGRESS
	 * and finishes later. */
	if (ret < 0 && !(nr == NR_connect && ret == -EINPROGRESS))
		return 0;
	switch (nr) {
	case NR_read:
	case NR_write:
	case NR_recvfrom:
	case NR_sendto:
	case NR_readv:
	case NR_writev:
	case NR_recvmsg:
	case NR_sendmsg:
	case NR_sendfile:
	case NR_splice:
	case NR_accept:
	case NR_accept4:
	case NR_connect:
	case NR_close:
	case NR_mmap:
		break;
	default:
		return 0;
	}
	if (compat_syscall())
		return 0;

	switch (nr) {
	case NR_accept:
	case NR_accept4:
		opened(ret, PODTAP_ROLE_SERVER, cast);
		return 0;
	case NR_connect:
		opened(ARG1(regs), PODTAP_ROLE_CLIENT, cast);
		return 0;
	case NR_close:
		closed(ARG1(regs), cast);
		return 0;
	case NR_mmap:
		mapped(regs);
		return 0;
	}
	if (ret == 0)
		return 0;

	fd = ARG1(regs);
	dir = PODTAP_DIR_INGRESS;
	shape = IO_BUF;
	switch (nr) {
	case NR_write:
	case NR_sendto:
		dir = PODTAP_DIR_EGRESS;
		/* fallthrough */
	case NR_read:
		ptr = ARG2(regs);
		break;
	/* A peek (a proxy's protocol sniffing) leaves the bytes to be read
	 * again: it neither moves the stream nor is data. */
	case NR_recvfrom:
		if (ARG4(regs) & MSG_PEEK)
			return 0;
		ptr = ARG2(regs);
		break;
	case NR_writev:
		dir = PODTAP_DIR_EGRESS;
		/* fallthrough */
	case NR_readv:
		shape = IO_IOV;
		ptr = ARG2(regs);
		iovcnt = ARG3(regs);
		break;
	case NR_recvmsg:
		if (ARG3(regs) & MSG_PEEK)
			return 0;
		/* fallthrough */
	case NR_sendmsg:
		if (nr == NR_sendmsg)
			dir = PODTAP_DIR_EGRESS;
		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ARG2(regs)))
			return 0;
		shape = IO_IOV;
		ptr = (__u64)msg.msg_iov;
		iovcnt = msg.msg_iovlen;
		break;
	/* sendfile moves response bodies (static files) without user memory:
	 * only the count is known, but the stream position must still
	 * advance. */
	case NR_sendfile:
		dir = PODTAP_DIR_EGRESS;
		shape = IO_NONE;
		break;
	/* splice(fd_in, off_in, fd_out, off_out, len, flags) moves bytes
	 * between a pipe and a socket (proxies, servers of files): as with
	 * sendfile only the count is known. One end is a pipe. */
	case NR_splice:
		shape = IO_NONE;
		fd = ARG3(regs);
		dir = PODTAP_DIR_EGRESS;
		if (!fd_socket_walk(fd, cast)) {
			fd = ARG1(regs);
			dir = PODTAP_DIR_INGRESS;
		}
		break;
	}
	socket_io(fd, dir, shape, ptr, iovcnt, ret, cast);
	return 0;
}

/* The daemon loads one of the two: podtap_sys_exit_cast where the kernel
 * has bpf_rdonly_cast, else podtap_sys_exit. */
SEC("tp_btf/sys_exit")
int BPF_PROG(podtap_sys_exit, struct pt_regs *regs, long ret)
{
	return sys_exit(regs, ret, false);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(podtap_sys_exit_cast, struct pt_regs *regs, long ret)
{
	return sys_exit(regs, ret, true);
}

/* Every socket state change: the passive handshakes that end are kept for
 * the accept that takes them (bpf/accept_wait.bpf.h). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(podtap_sock_state, const struct sock *sk, const int oldstate,
	     const int newstate)
{
	handshake_state(sk, oldstate, newstate);
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
