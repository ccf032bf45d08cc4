// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gunicorn's statsd lines from podtap, read off a real UDP socket on
 * loopback: exact lines, gunicorn's prefix rule, names made safe, counters
 * summed per flush, datagrams within STATSD_DATAGRAM_MAX; templates
 * checked. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "statsd/statsd.h"

static struct workload web = { .in_pod = true, .namespace = "shop",
			       .pod = "web-1", .container = "web",
			       .service = "web", .deployment = "web" };

/* A UDP socket on 127.0.0.1; *addr is its HOST:PORT. */
static int listener(char *addr, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	CHECK(fd >= 0);
	CHECK(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK(!getsockname(fd, (struct sockaddr *)&sa, &len));
	snprintf(addr, size, "127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

/* The next datagram ("" when none is waiting). */
static char *next(int fd)
{
	static char buf[65536];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_lines(void)
{
	char addr[64];
	int fd = listener(addr, sizeof(addr));
	struct statsd *s = statsd_new(addr, "{namespace}.{pod}..");
	struct statsd_stats st;

	CHECK(s);
	statsd_request(s, &web, 200, 0.0123456);
	statsd_request(s, &web, 404, 2);
	statsd_request(s, &web, 200, 0.001);
	statsd_flush(s, 0);
	/* One datagram: the timers as they came, then the sums (in the
	 * table's order). */
	const char *want = "shop.web-1.gunicorn.request.duration:12.346|ms\n"
			   "shop.web-1.gunicorn.request.duration:2000.000|ms\n"
			   "shop.web-1.gunicorn.request.duration:1.000|ms\n";
	const char *d = next(fd);

	CHECK(!strncmp(d, want, strlen(want)));
	CHECK(strstr(d, "\nshop.web-1.gunicorn.requests:3|c"));
	CHECK(strstr(d, "\nshop.web-1.gunicorn.request.status.200:2|c"));
	CHECK(strstr(d, "\nshop.web-1.gunicorn.request.status.404:1|c"));
	CHECK_STR(next(fd), "");
	/* the sums start again after a flush */
	statsd_request(s, &web, 200, 0.001);
	statsd_flush(s, 0);
	CHECK(strstr(next(fd), "shop.web-1.gunicorn.requests:1|c"));
	statsd_get_stats(s, &st);
	CHECK_INT(st.datagrams, 2);
	CHECK_INT(st.lines, 6 + 3);
	CHECK_INT(st.dropped[STATSD_DROP_UNRESOLVED] + st.dropped[STATSD_DROP_SEND], 0);
	statsd_free(s);
	close(fd);
}

/* gunicorn's rule: no prefix stays none; else one '.' after it. Bytes a
 * name cannot hold become '_'. */
static void test_prefixes(void)
{
	struct workload odd = web;
	char addr[64];
	int fd = listener(addr, sizeof(addr));
	struct statsd *s = statsd_new(addr, "");

	statsd_request(s, &web, 204, 0);
	statsd_flush(s, 0);
	CHECK(!strncmp(next(fd), "gunicorn.request.duration:0.000|ms\n", 35));
	statsd_free(s);

	snprintf(odd.pod, sizeof(odd.pod), "a:b|c@d e");
	s = statsd_new(addr, "k8s.{deployment}-{pod}");
	statsd_request(s, &odd, 200, 0);
	statsd_flush(s, 0);
	CHECK(!strncmp(next(fd), "k8s.web-a_b_c_d_e.gunicorn.request.duration:", 44));
	statsd_free(s);
	close(fd);
}

static void test_datagrams_within_mtu(void)
{
	char addr[64];
	int fd = listener(addr, sizeof(addr));
	struct statsd *s = statsd_new(addr, "{namespace}.{pod}");
	size_t datagrams = 0, timers = 0;
	char *d;

	for (int i = 0; i < 500; i++)
		statsd_request(s, &web, 200, 0.005);
	statsd_flush(s, 0);
	while (*(d = next(fd))) {
		CHECK(strlen(d) <= STATSD_DATAGRAM_MAX);
		for (char *p = d; (p = strstr(p, "|ms")); p++)
			timers++;
		datagrams++;
	}
	CHECK_INT(timers, 500);
	CHECK(datagrams >= 500 * 46 / STATSD_DATAGRAM_MAX);
	statsd_free(s);
	close(fd);
}

static void test_bad_input(void)
{
	CHECK(!statsd_prefix_check(""));
	CHECK(!statsd_prefix_check("prod.{namespace}.{pod}_{container}-x"));
	CHECK(statsd_prefix_check("{namespace"));
	CHECK(statsd_prefix_check("{node}"));
	CHECK(statsd_prefix_check("a:b"));
	CHECK(statsd_prefix_check("a b"));
	CHECK(!statsd_new("127.0.0.1", ""));
	CHECK(!statsd_new("127.0.0.1:8125", "{bad}"));
}

int main(void)
{
	RUN(test_lines);
	RUN(test_prefixes);
	RUN(test_datagrams_within_mtu);
	RUN(test_bad_input);
	return check_summary("statsd");
}
