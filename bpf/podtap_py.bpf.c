// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Python runtime hooks: OpenSSL's SSL_read/SSL_write (plaintext of HTTPS)
 * and CPython's garbage collector, plus the process events the daemon
 * needs to find Python processes and the libraries they map.
 *
 * The uprobes are attached per file (libssl, libpython, python3.x) for all
 * processes; SSL calls are only captured for the processes the daemon put
 * in podtap_py_procs, since libssl serves every other program too.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "conn.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct gc_run {
	__u64 start_ns;
	__u32 generation;
	__u32 pad;
};

/* Collections in progress, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PODTAP_MAX_GC_RUNS);
	__type(key, __u64);
	__type(value, struct gc_run);
} podtap_gc_runs SEC(".maps");

/* --- TLS -------------------------------------------------------------- */

static __always_inline void tls_enter(__u64 ssl, __u64 buf, __u64 count_ptr,
				      __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call call = { .ssl = ssl, .buf = buf,
				 .count_ptr = count_ptr, .fd = -1,
				 .dir = dir };

	if (!python_task())
		return;
	/* Counted once per entry: a stale one (its thread died in a call) is
	 * overwritten, not counted again. */
	if (!bpf_map_update_elem(&podtap_tls_calls, &id, &call, BPF_NOEXIST))
		tls_calls_add(1);
	else if (bpf_map_update_elem(&podtap_tls_calls, &id, &call, BPF_EXIST))
		count_drop(PODTAP_DROP_TLS_CALLS_FULL);
}

/*
 * The socket of an SSL call: the one its syscalls used; else, for a
 * handshake, the one whose records this thread just read (a memory BIO's
 * new connection: an SSL object's address may be a freed one's); else the
 * one last seen under the same SSL object; else the records just read
 * again. A socket found by records read is remembered for the object.
 */
static __always_inline int tls_socket(const struct tls_call *call)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_key key = { .tgid = id >> 32, .ssl = call->ssl };
	__s32 *fdp = bpf_map_lookup_elem(&podtap_tls_recvs, &id);
	__s32 recv_fd = fdp ? *fdp : -1;

	if (fdp)
		bpf_map_delete_elem(&podtap_tls_recvs, &id); /* taken */
	if (call->fd >= 0)
		return call->fd;
	if (call->dir != TLS_HANDSHAKE || recv_fd < 0) {
		fdp = bpf_map_lookup_elem(&podtap_ssl_fds, &key);
		if (fdp)
			return *fdp;
	}
	if (recv_fd >= 0)
		bpf_map_update_elem(&podtap_ssl_fds, &key, &recv_fd, BPF_ANY);
	return recv_fd;
}

static __always_inline void tls_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *c = bpf_map_lookup_elem(&podtap_tls_calls, &id);
	struct tls_call call;
	struct conn_state *st;
	struct sock_ref sock;
	__u8 first[2];
	__u64 count = 0;
	int fd;

	if (!c)
		return;
	call = *c;
	if (!bpf_map_delete_elem(&podtap_tls_calls, &id))
		tls_calls_add(-1);
	if (call.dir == TLS_HANDSHAKE) {
		/* On a memory BIO, the syscalls that would have turned the
		 * connection into a TLS one (tls_syscall) are not inside. */
		fd = tls_socket(&call);
		if (fd >= 0 && (st = lookup_conn(fd, &sock)) && !st->tls)
			conn_make_tls(sock, st, false);
		return;
	}
	if (call.count_ptr) {
		/* SSL_read_ex/SSL_write_ex return 1 and store the count. */
		if (ret == 1 && bpf_probe_read_user(&count, sizeof(count),
						    (void *)call.count_ptr))
			count_drop(PODTAP_DROP_READ_FAILED);
	} else if (ret > 0) {
		count = ret;
	}
	if (!count)
		return;
	fd = tls_socket(&call);
	if (fd < 0) {
		count_drop(PODTAP_DROP_TLS_NO_SOCKET);
		return;
	}
	st = lookup_conn(fd, &sock);
	if (!st)
		return;
	if (!st->tls)
		conn_make_tls(sock, st, false);
	emit_data(sock, st, call.dir, count, IO_BUF, call.buf, 0, first);
}

SEC("uprobe")
int BPF_KPROBE(podtap_ssl_read, void *ssl, void *buf)
{
	tls_enter((__u64)ssl, (__u64)buf, 0, PODTAP_DIR_INGRESS);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(podtap_ssl_read_ex, void *ssl, void *buf, __u64 num,
	       __u64 *readbytes)
{
	tls_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, PODTAP_DIR_INGRESS);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(podtap_ssl_write, void *ssl, void *buf)
{
	tls_enter((__u64)ssl, (__u64)buf, 0, PODTAP_DIR_EGRESS);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(podtap_ssl_write_ex, void *ssl, void *buf, __u64 num,
	       __u64 *written)
{
	tls_enter((__u64)ssl, (__u64)buf, (__u64)written, PODTAP_DIR_EGRESS);
	return 0;
}

/* The handshake's socket I/O is ciphertext too; hooking it keeps the
 * ClientHello from ever reaching the HTTP parser. */
SEC("uprobe")
int BPF_KPROBE(podtap_ssl_handshake, void *ssl)
{
	tls_enter((__u64)ssl, 0, 0, TLS_HANDSHAKE);
	return 0;
}

/* One return probe serves every SSL function: the call table says which. */
SEC("uretprobe")
int BPF_KRETPROBE(podtap_ssl_return, long ret)
{
	tls_exit(ret);
	return 0;
}

/* --- garbage collector ------------------------------------------------ */

static __always_inline void gc_start(long generation)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct gc_run run = { .start_ns = bpf_ktime_get_ns(),
			      .generation = generation };

	if (traced_task())
		bpf_map_update_elem(&podtap_gc_runs, &id, &run, BPF_ANY);
}

/* Built on the stack, not in the scratch like other events: a uprobe's
 * program may be preempted (preemptible RCU), and the program that then
 * runs on the CPU would write over the scratch. The GC's programs call
 * nothing, so the stack has room. */
static __always_inline void gc_done(void)
{
	__u8 buf[sizeof(struct podtap_event) + sizeof(struct podtap_gc)] = {};
	struct podtap_event *ev = (struct podtap_event *)buf;
	struct podtap_gc *gc = (struct podtap_gc *)(buf + sizeof(*ev));
	__u64 id = bpf_get_current_pid_tgid();
	struct gc_run *run = bpf_map_lookup_elem(&podtap_gc_runs, &id);

	if (!run)
		return;
	fill_header(ev, PODTAP_EV_GC, NO_SOCK, 0, PODTAP_ROLE_UNKNOWN);
	gc->duration_ns = ev->ts_ns - run->start_ns;
	gc->generation = run->generation;
	ev->captured = sizeof(*gc);
	bpf_map_delete_elem(&podtap_gc_runs, &id);
	send_event(ev, sizeof(buf));
}

/* CPython's own probes: python:gc__start(int generation), gc__done(long). */
SEC("usdt")
int BPF_USDT(podtap_gc_start_usdt, int generation)
{
	gc_start(generation);
	return 0;
}

SEC("usdt")
int BPF_USDT(podtap_gc_done_usdt)
{
	gc_done();
	return 0;
}

/* Builds without USDT: the collector itself, 3.11's gc_collect_main(
 * PyThreadState *tstate, int generation, ...). */
SEC("uprobe")
int BPF_KPROBE(podtap_gc_collect, void *tstate, int generation)
{
	gc_start(generation);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(podtap_gc_collect_return)
{
	gc_done();
	return 0;
}

/* --- greenlets --------------------------------------------------------- */

/*
 * Which greenlet a thread runs (gevent, eventlet: one OS thread serving
 * many requests in turn), so that a call is parented by the request of the
 * greenlet that made it. greenlet's PythonState::operator>>(PyThreadState *)
 * restores a greenlet's interpreter state into the thread at every switch
 * into it; set_initial_state() prepares a new one's. Their `this` is the
 * PythonState inside the greenlet object: one address per live greenlet.
 * Built on the stack, as gc_done's event is.
 */
SEC("uprobe")
int BPF_KPROBE(podtap_greenlet_switch, void *state)
{
	__u8 buf[sizeof(struct podtap_event) + sizeof(struct podtap_unit)] = {};
	struct podtap_event *ev = (struct podtap_event *)buf;
	struct podtap_unit *unit = (struct podtap_unit *)(buf + sizeof(*ev));

	__u64 id = bpf_get_current_pid_tgid();

	if ((id >> 32) == self_tgid)
		return 0;
	if (trace_ctx_on) { /* the kernel's own copy, for injection */
		__u32 tid = (__u32)id;
		__u64 unit = (__u64)state;

		bpf_map_update_elem(&podtap_units, &tid, &unit, BPF_ANY);
	}
	/* Only the thread and the greenlet are read: no clock, command or
	 * cgroup, at every switch. */
	ev->kind = PODTAP_EV_UNIT;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->fd = -1;
	unit->id = (__u64)state;
	ev->captured = sizeof(*unit);
	send_event(ev, sizeof(buf));
	return 0;
}

/* --- processes -------------------------------------------------------- */

SEC("tracepoint/sched/sched_process_exec")
int podtap_proc_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (traced_task())
		emit_lifecycle(PODTAP_EV_EXEC, NO_SOCK, 0, PODTAP_ROLE_UNKNOWN);
	return 0;
}

/* A tracked process's children run the same interpreter and libraries:
 * they are tracked from their first instruction, and the daemon is told. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(podtap_proc_fork, struct task_struct *parent,
	     struct task_struct *child)
{
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	struct podtap_event *ev;
	struct podtap_fork *fork;
	__u8 one = 1;

	/* New threads are forks too: only new thread groups count. */
	if (child_tgid == parent_tgid ||
	    !bpf_map_lookup_elem(&podtap_py_procs, &parent_tgid))
		return 0;
	if (bpf_map_update_elem(&podtap_py_procs, &child_tgid, &one, BPF_ANY))
		count_drop(PODTAP_DROP_PY_PROCS_FULL);
	ev = new_event(PODTAP_EV_FORK, NO_SOCK, 0, PODTAP_ROLE_UNKNOWN,
		       sizeof(*fork));
	if (!ev)
		return 0;
	fork = (struct podtap_fork *)ev->payload;
	fork->parent_pid = parent_tgid;
	fork->child_pid = child_tgid;
	send_event(ev, sizeof(*ev) + sizeof(*fork));
	return 0;
}
