// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --inject-trace-context: a W3C traceparent (and/or a B3 header) put into
 * each outgoing HTTP/1.x request that carries no trace header, naming the
 * client span podtap reports for it, so that a callee on another node
 * continues the caller's trace with no help from either app.
 *
 * A sock_ops program on the cgroup v2 root puts every outgoing TCP
 * connection, once established, into podtap_injsocks; the sk_msg
 * program attached to that map sees each send on them before TCP does,
 * in the sending task's context. It follows each connection's request
 * framing itself (Content-Length, or no body), so that it only ever
 * touches the first bytes of a request: the header goes straight after
 * the request line, and nothing else of the request changes. A connection
 * whose framing it cannot follow (a head split over sends, a chunked
 * body), or that does not start with a request, is left alone for good.
 * Plain HTTP only: the bytes of a TLS connection here are ciphertext.
 *
 * The context is the server request the sending unit serves
 * (trace_ctx.bpf.h), checked against what the unit last read; a unit that
 * serves nothing starts a trace. The ids chosen go to the daemon
 * (PODTAP_EV_INJECTED) ahead of the request's own data event, and its
 * client span takes them.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "conn.bpf.h"
#include "head_scan.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

/* Set by the daemon between open and load. */
const volatile bool inject_w3c = true;
const volatile bool inject_b3 = false;


#define TRACEPARENT_LEN 70 /* "traceparent: 00-" 32 "-" 16 "-" 2 CRLF */
#define B3_LEN 57          /* "b3: " 32 "-" 16 "-" 1 CRLF */

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, PODTAP_MAX_INJECT_SOCKS);
	__type(key, __u64); /* socket cookie */
	__type(value, __u64);
} podtap_injsocks SEC(".maps");

/* What the sk_msg program knows of a connection: user bytes sent, where
 * the next request starts, and whether it gave up on it. */
struct inject_sock {
	__u64 sent;
	__u64 next_at;
	__u8 off;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inject_sock);
} podtap_injstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PODTAP_INJECT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} podtap_injstats SEC(".maps");

/* A copy of the head being judged, and the header being built. */
struct inject_scratch {
	__u8 head[HEAD_SCAN_BUF];
	__u8 hdr[TRACEPARENT_LEN + B3_LEN];
	__u8 ev[sizeof(struct podtap_event) + sizeof(struct podtap_injected)];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inject_scratch);
} podtap_injbuf SEC(".maps");

static __always_inline void count_inject(__u32 result)
{
	__u64 *n = bpf_map_lookup_elem(&podtap_injstats, &result);

	if (n)
		*n += 1;
}

SEC("sockops")
int podtap_inject_sockops(struct bpf_sock_ops *skops)
{
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ||
	    (skops->family != AF_INET && skops->family != AF_INET6))
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	if (bpf_sock_hash_update(skops, &podtap_injsocks, &cookie,
				 BPF_NOEXIST))
		count_inject(PODTAP_INJECT_SOCKS_FULL);
	return 1;
}

/* --- the context --------------------------------------------------------- */

/*
 * The context of the unit's calls, into *ctx: the server request it serves
 * (PODTAP_INJECT_CHILD) or none (ROOT: ctx left zero). The daemon's record
 * is used only while the unit's last server read is inside that request:
 * once it reads past it, or reads another connection, the record is
 * stale until the daemon writes the next.
 */
static __always_inline __u32 unit_context(struct trace_ctx *ctx)
{
	struct unit_key k = current_unit();
	struct serving_state *s = bpf_map_lookup_elem(&podtap_serving, &k);
	struct trace_ctx *c;

	if (!s)
		return PODTAP_INJECT_ROOT;
	if (s->flags & SERVING_MULTIPLEXED)
		return PODTAP_INJECT_MULTIPLEXED;
	c = bpf_map_lookup_elem(&podtap_trace_ctx, &k);
	if (!c || c->sock_id != s->sock_id || c->gen != s->gen ||
	    s->pos_end <= c->head_pos || s->pos_end > c->end_pos)
		return PODTAP_INJECT_NO_CONTEXT;
	*ctx = *c;
	return PODTAP_INJECT_CHILD;
}

static __always_inline __u8 hex_digit(__u8 v)
{
	return v < 10 ? '0' + v : 'a' + v - 10;
}

static __always_inline void put_hex(__u8 *dst, const __u8 *src, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		dst[2 * i] = hex_digit(src[i] >> 4);
		dst[2 * i + 1] = hex_digit(src[i] & 15);
	}
}

/* "traceparent: 00-<trace>-<span>-<flags>\r\n" at p. */
static __always_inline void put_traceparent(__u8 *p,
					    const struct podtap_injected *in)
{
	__builtin_memcpy(p, "traceparent: 00-", 16);
	put_hex(p + 16, in->trace_id, 16);
	p[48] = '-';
	put_hex(p + 49, in->span_id, 8);
	p[65] = '-';
	p[66] = '0';
	p[67] = in->sampled ? '1' : '0';
	p[68] = '\r';
	p[69] = '\n';
}

/* "b3: <trace>-<span>-<1|0>\r\n" at p. */
static __always_inline void put_b3(__u8 *p, const struct podtap_injected *in)
{
	__builtin_memcpy(p, "b3: ", 4);
	put_hex(p + 4, in->trace_id, 16);
	p[36] = '-';
	put_hex(p + 37, in->span_id, 8);
	p[53] = '-';
	p[54] = in->sampled ? '1' : '0';
	p[55] = '\r';
	p[56] = '\n';
}

/*
 * Inserts hdr[0, len) at byte off of the message, inside its head of
 * head_len bytes. The head is then pulled into one piece: left in three
 * (before, the header, after), TCP could send them apart, and a server
 * reading the first alone would see half a head.
 */
static __always_inline bool insert(struct sk_msg_md *msg, __u32 off,
				   __u32 head_len, const __u8 *hdr, __u32 len)
{
	__u8 *data, *end, *p;

	if (bpf_msg_push_data(msg, off, len, 0))
		return false;
	if (bpf_msg_pull_data(msg, 0, head_len + len, 0))
		goto undo;
	data = msg->data;
	end = msg->data_end;
	p = data + (off & (HEAD_SCAN_MAX_BYTES - 1));
	if (len == TRACEPARENT_LEN) {
		if (p + TRACEPARENT_LEN > end)
			goto undo;
		__builtin_memcpy(p, hdr, TRACEPARENT_LEN);
	} else if (len == B3_LEN) {
		if (p + B3_LEN > end)
			goto undo;
		__builtin_memcpy(p, hdr, B3_LEN);
	} else {
		if (p + TRACEPARENT_LEN + B3_LEN > end)
			goto undo;
		__builtin_memcpy(p, hdr, TRACEPARENT_LEN + B3_LEN);
	}
	return true;
undo:
	/* The pushed bytes must not reach the wire unwritten. */
	bpf_msg_pop_data(msg, off, len, 0);
	return false;
}

static __always_inline void report(struct inject_scratch *sc,
				   const struct conn_state *st, __u64 sock_id,
				   __u64 pos, const struct podtap_injected *in)
{
	struct podtap_event *ev = (struct podtap_event *)sc->ev;
	__u64 id = bpf_get_current_pid_tgid();

	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->sock_id = sock_id;
	ev->conn_gen = st->gen;
	ev->stream_pos = pos;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->fd = -1;
	ev->kind = PODTAP_EV_INJECTED;
	ev->direction = PODTAP_DIR_EGRESS;
	ev->role = PODTAP_ROLE_CLIENT;
	ev->captured = sizeof(*in);
	__builtin_memcpy(sc->ev + sizeof(*ev), in, sizeof(*in));
	send_event(ev, sizeof(sc->ev));
}

/* podtap_conns' key for the socket: its struct file's address. */
static __always_inline __u64 sock_file(struct bpf_sock *bsk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	struct socket *sock;

	if (!tp)
		return 0;
	sock = BPF_CORE_READ((struct sock *)tp, sk_socket);
	return sock ? (__u64)BPF_CORE_READ(sock, file) : 0;
}

/* A request starts at the first byte of msg: its verdict (a result). */
static __always_inline __u32 request(struct sk_msg_md *msg,
				     struct inject_sock *is, __u64 pos)
{
	struct head_scan s = {};
	struct podtap_injected in = {};
	struct trace_ctx ctx = {};
	struct inject_scratch *sc;
	struct conn_state *st;
	struct conn_key key;
	__u32 zero = 0, n, len, result;
	__u8 *data, *end;

	key.sock_id = sock_file(msg->sk);
	st = key.sock_id ? bpf_map_lookup_elem(&podtap_conns, &key) : NULL;
	/* Untraced (podtap's own), or not where the daemon reads it. */
	if (!st || st->role != PODTAP_ROLE_CLIENT || st->tls ||
	    st->pos[PODTAP_DIR_EGRESS] != pos) {
		is->off = 1;
		return PODTAP_INJECT__COUNT;
	}
	sc = bpf_map_lookup_elem(&podtap_injbuf, &zero);
	if (!sc)
		return PODTAP_INJECT_FAILED;
	/* The head must be whole in the send that starts it, within this. */
	n = msg->size < HEAD_SCAN_MAX_BYTES ? msg->size : HEAD_SCAN_MAX_BYTES;
	if (n < 16 || bpf_msg_pull_data(msg, 0, n, 0))
		goto unframed;
	data = msg->data;
	end = msg->data_end;
	if (data + 4 > end)
		goto unframed;
	if (end - data < n)
		n = end - data;
	n &= 2 * HEAD_SCAN_MAX_BYTES - 1; /* for the verifier: no change */
	if (n > HEAD_SCAN_MAX_BYTES || n < 16)
		goto unframed;
	if (bpf_probe_read_kernel(sc->head, n, data))
		goto unframed;
	if (!starts_request((const char *)sc->head, n)) {
		is->off = 1;
		return PODTAP_INJECT_NOT_HTTP;
	}
	head_scan(&s, sc->head, n);
	if (!head_framed(&s))
		goto unframed;
	is->next_at = pos + s.head_end + (s.has_length ? s.length : 0);
	if (s.has_context)
		return PODTAP_INJECT_HAS_CONTEXT;

	result = unit_context(&ctx);
	if (result == PODTAP_INJECT_CHILD) {
		__builtin_memcpy(in.trace_id, ctx.trace_id, 16);
		__builtin_memcpy(in.parent_id, ctx.span_id, 8);
		in.sampled = ctx.sampled;
	} else if (result == PODTAP_INJECT_ROOT) {
		random_bytes(in.trace_id, 4);
		in.sampled = root_sampled(in.trace_id);
	} else {
		return result;
	}
	random_bytes(in.span_id, 2);

	len = 0;
	if (inject_w3c) {
		put_traceparent(sc->hdr, &in);
		len = TRACEPARENT_LEN;
	}
	if (inject_b3) {
		put_b3(sc->hdr + len, &in);
		len += B3_LEN;
	}
	if (!len || !insert(msg, s.first_end, s.head_end, sc->hdr, len))
		return PODTAP_INJECT_FAILED;
	in.header_bytes = len;
	report(sc, st, key.sock_id, pos, &in);
	return result;

unframed:
	is->off = 1;
	return PODTAP_INJECT_UNFRAMED;
}

SEC("sk_msg")
int podtap_inject_msg(struct sk_msg_md *msg)
{
	struct inject_sock *is;
	struct bpf_sock *sk = msg->sk;
	__u64 pos;
	__u32 result;

	if (!sk)
		return SK_PASS;
	is = bpf_sk_storage_get(&podtap_injstate, sk, NULL,
				BPF_SK_STORAGE_GET_F_CREATE);
	if (!is || is->off)
		return SK_PASS;
	pos = is->sent;
	is->sent += msg->size;
	/* Inside a request (its head's rest, or its body): not ours; but a
	 * send that starts the next one partway is beyond our framing. */
	if (pos != is->next_at) {
		if (pos < is->next_at && is->sent > is->next_at) {
			is->off = 1;
			count_inject(PODTAP_INJECT_UNFRAMED);
		}
		return SK_PASS;
	}
	result = request(msg, is, pos);
	if (result < PODTAP_INJECT__COUNT)
		count_inject(result);
	return SK_PASS;
}
