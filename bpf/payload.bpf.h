/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which bytes of a syscall are copied into its DATA event, and copying
 * them. The parser reads heads and chunked framing; of a body it needs
 * only the count, which the event carries whole (byte_count). So:
 *
 *  - A syscall of at most COPY_WHOLE_MAX bytes is copied whole (up to
 *    payload_size): it is cheap, and it may be anything (part of a head,
 *    a chunk-size line, pipelined requests).
 *  - A larger one that starts like a head (a method and a space, or
 *    "HTTP/") has its first HEAD_SCAN_MAX bytes copied and searched for
 *    the blank line that ends the head. Found: the event carries the head
 *    and BODY_PEEK bytes after it (a chunk-size line), and the rest of the
 *    direction's stream is body from there ("body_from" in conn_state).
 *    Not found, or another head follows at once (pipelined requests):
 *    copied as before, up to payload_size.
 *  - A larger one that starts at or after body_from and not like a head
 *    is body: BODY_PEEK bytes are copied (a chunk-size line at its start,
 *    the start of a message that would prove the kernel wrong).
 *  - Anything else (a head longer than HEAD_SCAN_MAX, a stream not known
 *    to be HTTP yet) is copied as before, up to payload_size.
 *
 * Why it holds: a message starts at a syscall's first byte unless requests
 * are pipelined (a client sends the next request only after the answer;
 * a server writes the next answer after reading the next request), and a
 * head that starts a syscall ends at its first blank line. Pipelining is
 * the exception: requests straight after each other (GETs, the methods
 * clients pipeline) are seen as above, but a message after a body in one
 * large syscall (pipelined answers read at once, or a request after a
 * POST's body) is past the copy, and the parser counts it as a head not
 * captured, not silently.
 * Setting body_from too late only copies more; it is never set early: a
 * head whose end was not seen leaves it unknown (NO_BODY).
 */
#ifndef PODTAP_PAYLOAD_BPF_H
#define PODTAP_PAYLOAD_BPF_H

#include "contract.h"
#include "drops.bpf.h"

enum io_shape {
	IO_BUF = 0, /* read/write/recvfrom/sendto/SSL_*: one buffer */
	IO_IOV = 1, /* readv/writev/recvmsg/sendmsg: an iovec array */
	IO_NONE = 2,/* sendfile, splice: bytes move, but not through user
		     * memory */
};

/* Set by the daemon between open and load (--payload-size). */
const volatile __u32 payload_size = 8192; /* <= PODTAP_PAYLOAD_MAX */

#define COPY_WHOLE_MAX 512
#define HEAD_SCAN_MAX 1024
#define BODY_PEEK 64
/* body_from when the direction's body start is not known. */
#define NO_BODY (~0ULL)

_Static_assert(BODY_PEEK < COPY_WHOLE_MAX && COPY_WHOLE_MAX < HEAD_SCAN_MAX &&
		       HEAD_SCAN_MAX <= PODTAP_PAYLOAD_MAX,
	       "the copy policy's sizes nest");

/* Scratch space for building an event: per CPU (max_entries is set to the
 * number of CPUs at load), and three times the payload bound so that a
 * variable offset (masked to the payload bound) plus a length masked to
 * twice it provably stays inside, whatever register the compiler spilled
 * the length through. Not a per-CPU map because per-CPU values are
 * limited to 32 KiB. */
struct event_scratch {
	__u8 data[sizeof(struct podtap_event) + 3 * PODTAP_PAYLOAD_MAX];
	__u64 body_from; /* copy_payload's answer beside the bytes */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the daemon sets it to the CPU count */
	__type(key, __u32);
	__type(value, struct event_scratch);
} podtap_scratch SEC(".maps");

/*
 * Sizes and offsets handed to helpers are proved in bounds where they are
 * used, on the very register the helper gets, with a mask the C code above
 * it already makes a no-op. Older verifiers (5.15, 6.1) need this: they
 * only prune a branch decided by a constant when the constant is the
 * second operand, but clang for BPF v1 has no "<" against an immediate, so
 * `if (count < limit)` becomes `if 8192 > count`. Both sides are then
 * walked, also the impossible one (count > 0xffffffff and count < 8192),
 * where the bounds derived from count are nonsense; and a bound learned on
 * a zero-extended copy of a 32-bit value (the compare clang emits for a
 * __u32) never reaches the register the value is used from. A mask makes
 * any such bounds sane again, so every path verifies. asm keeps clang from
 * dropping a mask it can prove redundant, or applying it to a copy. Hence
 * also __u64 for these values: no zero-extending copies.
 */
#define verifier_mask(v, mask) \
	asm volatile("%[val] &= %[m]" : [val] "+r"(v) : [m] "i"(mask))

/* Masks that keep every value the C code allows: a copy's offset and size
 * are each at most PODTAP_PAYLOAD_MAX, and an event is at most its header
 * plus that; the masks stay inside the scratch buffer, also added
 * together. */
#define PAYLOAD_LEN_MASK (2 * PODTAP_PAYLOAD_MAX - 1)
#define PAYLOAD_OFF_MASK (PODTAP_PAYLOAD_MAX - 1)
_Static_assert((PODTAP_PAYLOAD_MAX & (PODTAP_PAYLOAD_MAX - 1)) == 0,
	       "PODTAP_PAYLOAD_MAX must be a power of two");
_Static_assert(sizeof(struct podtap_event) + PODTAP_PAYLOAD_MAX <=
		       PAYLOAD_LEN_MASK &&
	       PAYLOAD_LEN_MASK < sizeof(struct event_scratch),
	       "an event's size mask must keep whole events in the scratch");
_Static_assert(sizeof(struct podtap_event) + PAYLOAD_OFF_MASK +
		       PAYLOAD_LEN_MASK <= sizeof(struct event_scratch),
	       "a masked offset and length must stay in the scratch");

/* Copies len bytes from src to dst + off, off < PODTAP_PAYLOAD_MAX and
 * len <= PODTAP_PAYLOAD_MAX; false (counted) if they could not be read. */
static __always_inline bool copy_at(char *dst, __u64 off, __u64 src,
				    __u64 len)
{
	/* The masks keep both; off + len must fit the scratch, which a mask
	 * for len alone cannot show (len can be PODTAP_PAYLOAD_MAX itself):
	 * the compare after it does, on bounds the mask made sane. */
	verifier_mask(off, PAYLOAD_OFF_MASK);
	verifier_mask(len, PAYLOAD_LEN_MASK);
	if (len > PODTAP_PAYLOAD_MAX)
		len = PODTAP_PAYLOAD_MAX;
	if (bpf_probe_read_user(dst + off, len, (void *)src)) {
		count_drop(PODTAP_DROP_READ_FAILED);
		return false;
	}
	return true;
}

/* Bytes [0, to) of an iovec array's stream into dst, to <=
 * PODTAP_PAYLOAD_MAX. Returns the end of what was copied (to, unless the
 * array was shorter, unreadable or longer than PODTAP_IOV_MAX entries).
 * Entries are read IOV_CHUNK at a time, not one per call: a writev of a
 * head and a body (nginx) takes one read of the array, not two (of the
 * request's six reads of user memory, one); more would not fit in the
 * 512 bytes of stack the program and its calls share (conn.bpf.h). */
#define IOV_CHUNK 4
_Static_assert(PODTAP_IOV_MAX % IOV_CHUNK == 0, "whole chunks");

static __always_inline __u64 copy_iov(char *dst, __u64 iovp, __u32 iovcnt,
				      __u64 to)
{
	const struct iovec *iov = (const struct iovec *)iovp;
	struct iovec seg[IOV_CHUNK];
	__u64 off = 0;

	for (int i = 0; i < PODTAP_IOV_MAX; i++) {
		__u64 len, k = i % IOV_CHUNK;

		if (i >= iovcnt || off >= to)
			break;
		if (k == 0) {
			__u64 n = iovcnt - i;

			if (n > IOV_CHUNK)
				n = IOV_CHUNK;
			/* The bound again, for the verifier: the mask makes
			 * it sane on old ones, the compare proves it (as in
			 * copy_at). */
			verifier_mask(n, 2 * IOV_CHUNK - 1);
			if (n > IOV_CHUNK)
				n = IOV_CHUNK;
			if (bpf_probe_read_user(seg, n * sizeof(seg[0]),
						&iov[i])) {
				count_drop(PODTAP_DROP_READ_FAILED);
				break;
			}
		}
		len = seg[k].iov_len;
		if (len > to - off)
			len = to - off;
		if (!copy_at(dst, off, (__u64)seg[k].iov_base, len))
			break;
		off += len;
	}
	if (iovcnt > PODTAP_IOV_MAX && off < to)
		count_drop(PODTAP_DROP_IOV_TRUNCATED);
	return off;
}

/* This CPU's scratch: where an event is built. */
static __always_inline struct event_scratch *this_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&podtap_scratch, &cpu);
}

static __always_inline char *scratch_payload(struct event_scratch *s)
{
	return (char *)s->data + sizeof(struct podtap_event);
}

/*
 * Bytes [from, to) of a syscall's user memory (one buffer or an iovec
 * array) into this CPU's scratch payload at from, to <= PODTAP_PAYLOAD_MAX.
 * Returns the end of what was copied. An iovec array is copied again from
 * its start: simpler for the verifier than skipping into one, and it
 * happens only when a head is longer than HEAD_SCAN_MAX or the stream is
 * not known to be HTTP. Global, like copy_payload below, which calls it
 * three times: inlined, its copies of the iovec loop took more stack than
 * 6.1's verifier allows the three frames.
 */
__noinline __u64 copy_range(__u64 shape, __u64 ptr, __u64 iovcnt, __u64 from,
			    __u64 to)
{
	struct event_scratch *s = this_scratch();
	char *dst;

	if (!s)
		return from;
	dst = scratch_payload(s);
	if (to > PODTAP_PAYLOAD_MAX)
		to = PODTAP_PAYLOAD_MAX;
	if (from >= to)
		return from;
	if (shape == IO_IOV)
		return copy_iov(dst, ptr, iovcnt, to);
	if (shape != IO_BUF)
		return from;
	return copy_at(dst, from, ptr + from, to - from) ? to : from;
}

/* RFC 9110 tchar: the bytes of a method. */
static const __u8 tchar[256] = {
	['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['!'] = 1,
	['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1,
	['|'] = 1, ['~'] = 1,
};

/* A method is at most this long, with a byte to spare (the parser's
 * HTTP_METHOD_MAX). */
#define METHOD_MAX 16

/* p[0, n) may start a message: "HTTP/", or a method (any token: the
 * parser takes any) and its space. Only cost comes of a body that does
 * too. */
static __always_inline bool starts_like_head(const __u8 *p, __u64 n)
{
	if (n >= 5 && p[0] == 'H' && p[1] == 'T' && p[2] == 'T' &&
	    p[3] == 'P' && p[4] == '/')
		return true;
	for (int i = 0; i < METHOD_MAX; i++) {
		if (i >= n)
			return false;
		if (p[i] == ' ')
			return i > 0;
		if (!tchar[p[i]])
			return false;
	}
	return false;
}

#define BLANK_LINE 0x0a0d0a0dU /* "\r\n\r\n" read as a little-endian __u32 */

/* p[i, i + 4) is "\r\n\r\n" (i + 4 <= HEAD_SCAN_MAX + 4, unchecked). */
static __always_inline bool blank_line_at(const __u8 *p, __u64 i)
{
	verifier_mask(i, 2 * HEAD_SCAN_MAX - 1);
	return *(const __u32 *)(p + i) == BLANK_LINE;
}

/*
 * The length of the head that starts the scratch payload's first n bytes
 * (n <= HEAD_SCAN_MAX): up to and with its first "\r\n\r\n"; 0 if that
 * is not there. Every fourth byte is looked at, since any four in a row
 * hold one of them: about head_len / 4 steps. The candidates of each step
 * are tried in order, so the first blank line is the one found. Global,
 * so that the loop's many exits (each narrowing n) do not each walk the
 * rest of copy_payload through the verifier.
 */
__noinline __u64 head_length(__u64 n)
{
	struct event_scratch *s = this_scratch();
	__u8 *p;

	if (!s)
		return 0;
	p = (__u8 *)scratch_payload(s);
	if (n > HEAD_SCAN_MAX)
		n = HEAD_SCAN_MAX;
	/* Zeros after the bytes: a blank line read across their end never
	 * matches, with no bound checked per candidate. */
	verifier_mask(n, 2 * HEAD_SCAN_MAX - 1);
	*(__u32 *)(p + n) = 0;
	for (__u64 j = 3; j < HEAD_SCAN_MAX; j += 4) {
		__u8 c;

		if (j >= n)
			break;
		c = p[j];
		if (c == '\r') {
			if (blank_line_at(p, j - 2))
				return j + 2;
			if (blank_line_at(p, j))
				return j + 4;
		} else if (c == '\n') {
			if (blank_line_at(p, j - 3))
				return j + 1;
			if (blank_line_at(p, j - 1))
				return j + 3;
		}
	}
	return 0;
}

/* p[0, n) ends with "\r\n\r\n". */
static __always_inline bool ends_with_blank_line(const __u8 *p, __u64 n)
{
	return n >= 4 && blank_line_at(p, n - 4);
}

/*
 * Copies what the policy above keeps of a syscall that moved `count`
 * bytes into this CPU's scratch payload, for the DATA event whose header
 * is in the scratch (its stream_pos), given the direction's body_from; its
 * new value is left in the scratch. Returns the bytes copied. Global, not
 * inline: the verifier walks it once per program, instead of walking each
 * of its outcomes through the rest of every caller (which made the
 * syscall program ten times larger). count comes as an argument, not from
 * the header's __u32: 6.1's verifier, mixing the 32-bit compares of one
 * with the 64-bit compares of the other, walks impossible paths whose
 * bounds no mask repairs.
 */
__noinline __u64 copy_payload(__u64 shape, __u64 ptr, __u64 iovcnt,
			      __u64 count, __u64 body_from)
{
	struct event_scratch *s = this_scratch();
	const struct podtap_event *ev;
	__u64 pos, limit, scan, first, got, head, want;
	bool large, in_body;
	char *p;

	if (!s)
		return 0;
	ev = (const struct podtap_event *)s->data;
	p = scratch_payload(s);
	s->body_from = body_from;
	pos = ev->stream_pos;
	limit = payload_size < PODTAP_PAYLOAD_MAX ? payload_size
						  : PODTAP_PAYLOAD_MAX;
	if (count < limit)
		limit = count;
	large = count > COPY_WHOLE_MAX;
	in_body = large && pos >= body_from;
	want = limit;
	scan = HEAD_SCAN_MAX < limit ? HEAD_SCAN_MAX : limit;
	first = !large ? limit : in_body ? BODY_PEEK : scan;
	if (first > limit)
		first = limit;
	got = copy_range(shape, ptr, iovcnt, 0, first);
	if (got < first)
		return got; /* unreadable: counted */
	if (starts_like_head((__u8 *)p, got)) {
		s->body_from = NO_BODY;
		if (!large) {
			if (got == count && ends_with_blank_line((__u8 *)p, got))
				s->body_from = pos + count;
			return got;
		}
		if (got < scan)
			got = copy_range(shape, ptr, iovcnt, got, scan);
		head = head_length(got);
		if (head > HEAD_SCAN_MAX)
			head = 0; /* never: for the verifier */
		verifier_mask(head, 2 * HEAD_SCAN_MAX - 1);
		/* A head straight after the head is pipelined requests
		 * (GETs have no body): copied as before, nothing is body. */
		if (head && !starts_like_head((__u8 *)p + head, got - head)) {
			s->body_from = pos + head;
			want = head + BODY_PEEK < got ? head + BODY_PEEK : got;
		}
	} else if (in_body) {
		return got;
	}
	if (want > got)
		got = copy_range(shape, ptr, iovcnt, got, want);
	return got < want ? got : want;
}

#endif /* PODTAP_PAYLOAD_BPF_H */
