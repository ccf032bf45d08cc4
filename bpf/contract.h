/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF<->user contract: what the kernel side (bpf/podtap*.bpf.c) and the
 * daemon (user/) both read, in one place: the event layout, map keys and
 * values, map sizes and the enums that index counters. Both sides include
 * this file; the sizes are asserted, so a field added on one side cannot
 * silently disagree with the other.
 */
#ifndef PODTAP_CONTRACT_H
#define PODTAP_CONTRACT_H

#ifndef __VMLINUX_H__ /* the BPF side has the kernel's types already */
#include <stdbool.h>
#include <linux/types.h>
#endif

/* Hard upper bound of payload bytes copied per syscall; the runtime limit
 * (--payload-size) is at most this. Power of two: the BPF side masks with
 * it to prove bounds to the verifier. */
#define PODTAP_PAYLOAD_MAX 16384
/* At most this many iovec entries are read for readv/writev/recvmsg/sendmsg. */
#define PODTAP_IOV_MAX 16
#define PODTAP_COMM_LEN 16

/* Map sizes (max_entries). The daemon's tables mirror the first two. */
#define PODTAP_MAX_CONNS 65536     /* podtap_conns, and the daemon's conn_table */
#define PODTAP_MAX_PY_PROCS 32768  /* podtap_py_procs: Python processes hooked */
#define PODTAP_MAX_TLS_CALLS 16384 /* podtap_tls_calls: SSL calls in flight */
#define PODTAP_MAX_SSL_FDS 65536   /* podtap_ssl_fds: SSL object -> socket */
#define PODTAP_MAX_GC_RUNS 4096    /* podtap_gc_runs: collections in progress */
#define PODTAP_MAX_TLS_RECVS 16384 /* podtap_tls_recvs: TLS records just read */
#define PODTAP_MAX_SOCK_FDS 65536  /* podtap_sock_fds: (process, fd) -> socket */
/* --inject-trace-context only (else one entry each): */
#define PODTAP_MAX_TRACE_UNITS 65536 /* podtap_units, podtap_serving,
				      * podtap_trace_ctx: threads/greenlets */
#define PODTAP_MAX_INJECT_SOCKS 65536 /* podtap_injsocks: outgoing TCP */
#define PODTAP_MAX_HANDSHAKES 16384 /* podtap_handshakes: passive TCP
				     * handshakes done, not accepted yet */

enum podtap_event_kind {
	PODTAP_EV_DATA = 1,     /* bytes read from or written to a socket */
	PODTAP_EV_OPEN = 2,     /* a socket was accepted, connected, or first
				 * seen; payload: struct podtap_open */
	PODTAP_EV_CLOSE = 3,    /* close() of a tracked socket */
	PODTAP_EV_PROC_EXIT = 4,/* a process (thread group) exited */
	PODTAP_EV_EXEC = 5,     /* a process called execve */
	PODTAP_EV_FORK = 6,     /* a tracked Python process forked; payload:
				 * struct podtap_fork */
	PODTAP_EV_LIB_MAPPED = 7,/* a tracked Python process mapped an
				  * executable file (dlopen, import) */
	PODTAP_EV_GC = 8,       /* a CPython collection ended; payload:
				 * struct podtap_gc */
	PODTAP_EV_CGROUP_MKDIR = 9, /* a cgroup v2 directory was made;
				     * cgroup_id is its id, payload its path
				     * from the root, NUL-terminated */
	PODTAP_EV_UNIT = 10,    /* the thread switched to another greenlet;
				 * payload: struct podtap_unit */
	PODTAP_EV_INJECTED = 11,/* a traceparent was put into the request
				 * that starts at stream_pos of an outgoing
				 * connection; payload: struct podtap_injected */
	PODTAP_EV_SERVING = 12, /* the kernel named the server request that
				 * starts at stream_pos (no trace header):
				 * payload: struct podtap_serving_ids */
	PODTAP_EV__COUNT,
};

/* Longest cgroup path sent; a kubelet's pod cgroups are well below. */
#define PODTAP_CGROUP_PATH_MAX 512

/* Event flags. */
#define PODTAP_EVF_TLS 0x1 /* plaintext of SSL_read/SSL_write (https) */

enum podtap_direction {
	PODTAP_DIR_INGRESS = 0, /* read by the process */
	PODTAP_DIR_EGRESS = 1,  /* written by the process */
};

enum podtap_role {
	PODTAP_ROLE_UNKNOWN = 0, /* first seen mid-stream */
	PODTAP_ROLE_SERVER = 1,  /* came from accept() */
	PODTAP_ROLE_CLIENT = 2,  /* came from connect() */
};

/* Reasons the kernel side lost something; index into the drops map. */
enum podtap_drop_reason {
	PODTAP_DROP_RINGBUF_FULL = 0,  /* no room in the ring buffer */
	PODTAP_DROP_CONNS_FULL = 1,    /* connection table full */
	PODTAP_DROP_READ_FAILED = 2,   /* user memory could not be read */
	PODTAP_DROP_IOV_TRUNCATED = 3, /* more iovecs than PODTAP_IOV_MAX */
	PODTAP_DROP_TLS_NO_SOCKET = 4, /* SSL call whose socket is unknown
					* (memory BIO, or no I/O seen yet) */
	PODTAP_DROP_TLS_CALLS_FULL = 5,/* in-flight SSL call table full */
	PODTAP_DROP_PY_PROCS_FULL = 6, /* Python process table full */
	/* Not events but requests: of the DATA events lost for want of room
	 * in the ring buffer, those that began with a request line, read by
	 * a server or written by a client. */
	PODTAP_DROP_REQUEST_SERVER = 7,
	PODTAP_DROP_REQUEST_CLIENT = 8,
	PODTAP_DROP__COUNT = 9,
};

/* Payload of OPEN events, read from the socket itself (so it is there for
 * sockets first seen mid-stream too). Addresses in network byte order,
 * IPv4 in the first 4 bytes; ports in host order. */
struct podtap_sock_addrs {
	__u16 family;      /* AF_INET, AF_INET6, AF_UNIX, ... */
	__u16 local_port;
	__u16 remote_port;
	__u16 pad;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

/* Payload of OPEN events. */
struct podtap_open {
	struct podtap_sock_addrs addrs;
	/* An accepted socket: nanoseconds from its handshake's end to the
	 * accept (at least 1); 0: not known (not accepted, or its handshake
	 * unseen: before podtap started, or pushed out of the table). */
	__u64 accept_wait_ns;
};

struct podtap_fork {
	__u32 parent_pid;
	__u32 child_pid;
};

/* One garbage collection: from CPython's gc__start/gc__done USDT probes or
 * a uprobe on its collector function. */
struct podtap_gc {
	__u64 duration_ns;
	__u32 generation;
	__u32 pad;
};

/* The unit of work a thread runs from now on: the greenlet's own address
 * (its interpreter state inside the greenlet object). */
struct podtap_unit {
	__u64 id;
};

/* --- trace context injection (--inject-trace-context) ---------------- */

/* A unit of work: a thread, or a greenlet of it (unit != 0). */
struct unit_key {
	__u32 tid;
	__u32 pad;
	__u64 unit;
};

/* podtap_serving: the server connection a unit last read (the kernel's
 * own record, so that a context the daemon wrote is checked against what
 * the unit does now, not what it did when the daemon caught up). */
#define SERVING_WROTE 0x1       /* it wrote to that connection since */
#define SERVING_MULTIPLEXED 0x2 /* it once read a second connection before
				 * answering the first: an event loop, whose
				 * calls no thread-level record can place */
struct serving_state {
	__u64 sock_id;
	__u64 gen;
	__u64 pos_end;  /* its read position after that read */
	__u32 flags;    /* SERVING_* */
	__u32 pad;
};

/* podtap_trace_ctx, written by the daemon: the server request a unit is
 * serving, valid while the unit's last read is inside it. */
struct trace_ctx {
	__u8 trace_id[16];
	__u8 span_id[8];   /* the server span: the parent of its calls */
	__u64 sock_id;     /* its connection and generation */
	__u64 gen;
	__u64 head_pos;    /* stream positions of its first byte and of */
	__u64 end_pos;     /* the byte after its body */
	__u8 sampled;      /* the decision for its calls' client spans */
	__u8 pad[7];
};

/* Payload of PODTAP_EV_INJECTED: the context the header names, which the
 * request's client span takes. */
struct podtap_injected {
	__u8 trace_id[16];
	__u8 span_id[8];    /* the client span's own */
	__u8 parent_id[8];  /* zero: it starts the trace */
	__u32 header_bytes; /* bytes inserted into the stream */
	__u8 sampled;
	__u8 pad[3];
};

/* Payload of PODTAP_EV_SERVING: the ids of the server span, which the
 * kernel names in the unit's calls from now on. */
struct podtap_serving_ids {
	__u8 trace_id[16];
	__u8 span_id[8];
	__u8 parent_id[8]; /* from its traceparent; zero: none */
	__u8 sampled;
	__u8 pad[7];
};

/* How the kernel samples the server spans it names (trace_ctx.bpf.h),
 * as otel/sampler.h does. */
struct trace_ctx_config {
	bool on;                    /* --inject-trace-context */
	bool parent_based;          /* a parent's decision is followed */
	__u64 root_sample_bound;    /* new traces: sampler_root_bound() */
};

/* What became of an outgoing request (podtap_injstats). */
enum podtap_inject_result {
	PODTAP_INJECT_CHILD = 0,      /* injected, child of the unit's request */
	PODTAP_INJECT_ROOT = 1,       /* injected, the unit serves nothing */
	PODTAP_INJECT_HAS_CONTEXT = 2,/* it carries a trace header: untouched */
	PODTAP_INJECT_NO_CONTEXT = 3, /* the unit serves a request the daemon
				       * has not placed yet (or never can) */
	PODTAP_INJECT_MULTIPLEXED = 4,/* the unit serves many at once */
	PODTAP_INJECT_UNFRAMED = 5,   /* head not whole in one send, or a body
				       * of unknown length: the connection
				       * is left alone from then on */
	PODTAP_INJECT_NOT_HTTP = 6,   /* the connection's first bytes are not
				       * an HTTP/1.x request: left alone */
	PODTAP_INJECT_FAILED = 7,     /* the kernel could not insert it */
	PODTAP_INJECT_SOCKS_FULL = 8, /* not a request but a connection:
				       * podtap_injsocks was full */
	PODTAP_INJECT__COUNT = 9,
};

/*
 * A connection is its socket, whatever fds name it: dup/dup2 copies, a
 * forked child's, one passed over a unix socket all share the socket's one
 * struct file, whose address is the key (unique while the socket lives).
 * So an inetd-style server reading on fd 0 and writing on fd 1 is one
 * stream, and so is a forking server whose child serves what its parent
 * accepted.
 */
struct conn_key {
	__u64 sock_id;
};

/* The kernel's state of a connection (map podtap_conns). */
struct conn_state {
	__u64 gen;      /* generation: new on accept/connect/first sight */
	__u64 ino;      /* the socket's inode, as ss -e ("ino:") and
			 * /proc/PID/fd ("socket:[ino]") show it */
	__u64 pos[2];   /* bytes so far, per enum podtap_direction */
	__u64 body_from[2]; /* per direction, the position from which its
			     * large syscalls are body unless they start a
			     * head; ~0: not known (bpf/payload.bpf.h) */
	__u8 role;      /* enum podtap_role */
	__u8 ignored;   /* set by userspace: not HTTP, send no data */
	__u8 tls;       /* data comes from SSL_read/SSL_write, not syscalls */
	__u8 pad;
	/* The process and fd that last moved its bytes: while they stay the
	 * same, podtap_sock_fds already names the socket by them. */
	__u32 owner_tgid;
	__s32 owner_fd;
	__u32 pad2;
};

struct podtap_event {
	__u64 ts_ns;       /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at syscall exit */
	__u64 cgroup_id;   /* cgroup v2 id of the task */
	__u64 sock_id;     /* the connection (struct conn_key); 0: none */
	__u64 conn_gen;    /* its generation: new on accept/connect */
	__u64 stream_pos;  /* bytes seen before this event in this direction */
	__u32 pid;         /* thread group id */
	__u32 tid;
	__s32 fd;          /* the fd the task used (any of the socket's) */
	__u32 byte_count;  /* bytes the syscall moved (DATA) */
	__u32 captured;    /* bytes of payload[] that follow (<= byte_count) */
	__u8 kind;         /* enum podtap_event_kind */
	__u8 direction;    /* enum podtap_direction */
	__u8 role;         /* enum podtap_role */
	__u8 flags;        /* PODTAP_EVF_* */
	char comm[PODTAP_COMM_LEN];
	char payload[];    /* captured bytes, DATA only */
};

/* Both compilers lay these out alike (no implicit padding); the daemon
 * reads them byte for byte from maps and the ring buffer. */
_Static_assert(sizeof(struct podtap_sock_addrs) == 40, "podtap_sock_addrs");
_Static_assert(sizeof(struct podtap_fork) == 8, "podtap_fork");
_Static_assert(sizeof(struct podtap_gc) == 16, "podtap_gc");
_Static_assert(sizeof(struct podtap_unit) == 8, "podtap_unit");
_Static_assert(sizeof(struct conn_key) == 8, "conn_key");
_Static_assert(sizeof(struct conn_state) == 64, "conn_state");
_Static_assert(sizeof(struct podtap_event) == 80, "podtap_event");
_Static_assert(sizeof(struct unit_key) == 16, "unit_key");
_Static_assert(sizeof(struct serving_state) == 32, "serving_state");
_Static_assert(sizeof(struct trace_ctx) == 64, "trace_ctx");
_Static_assert(sizeof(struct podtap_injected) == 40, "podtap_injected");
_Static_assert(sizeof(struct podtap_serving_ids) == 40, "podtap_serving_ids");
_Static_assert(PODTAP_EV__COUNT == PODTAP_EV_SERVING + 1,
	       "event kinds are numbered 1..PODTAP_EV__COUNT-1");
_Static_assert((PODTAP_PAYLOAD_MAX & (PODTAP_PAYLOAD_MAX - 1)) == 0,
	       "PODTAP_PAYLOAD_MAX is a mask bound: a power of two");

#endif /* PODTAP_CONTRACT_H */
