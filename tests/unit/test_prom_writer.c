// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "prometheus/prom_writer.h"

static const double duration_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.075,
					  0.1,   0.25, 0.5,   0.75, 1,
					  2.5,   5,    7.5,   10 };
#define NBOUNDS (sizeof(duration_bounds) / sizeof(duration_bounds[0]))

/* The sample line prom_sample writes for `v`, without labels. */
static const char *sample_line(double v)
{
	static char line[128];
	struct prom_writer w;

	prom_writer_init(&w);
	prom_sample(&w, "m", NULL, 0, v);
	snprintf(line, sizeof(line), "%s", w.buf ? w.buf : "(null)");
	CHECK_INT(w.len, strlen(line));
	prom_writer_free(&w);
	return line;
}

static void test_numbers(void)
{
	CHECK_STR(sample_line(42), "m 42\n");
	CHECK_STR(sample_line(0), "m 0\n");
	CHECK_STR(sample_line(-0.0), "m 0\n");
	CHECK_STR(sample_line(-3), "m -3\n");
	CHECK_STR(sample_line(1e15), "m 1000000000000000\n");
	CHECK_STR(sample_line(9007199254740991.0), "m 9007199254740991\n");
	CHECK_STR(sample_line(-9007199254740991.0), "m -9007199254740991\n");
	/* from 2^53 on, integers take the shortest round-trip form */
	CHECK_STR(sample_line(9007199254740992.0), "m 9007199254740992\n");
	CHECK_STR(sample_line(1e21), "m 1e+21\n");
	CHECK_STR(sample_line(-1e300), "m -1e+300\n");
	CHECK_STR(sample_line(0.1), "m 0.1\n");
	CHECK_STR(sample_line(0.1 + 0.2), "m 0.30000000000000004\n");
	CHECK_STR(sample_line(1.0 / 3), "m 0.3333333333333333\n");
	CHECK_STR(sample_line(2.5), "m 2.5\n");
	CHECK_STR(sample_line(-0.075), "m -0.075\n");
	CHECK_STR(sample_line(123456.5), "m 123456.5\n");
	CHECK_STR(sample_line(1e-7), "m 1e-07\n");
	CHECK_STR(sample_line(5e-324), "m 5e-324\n");
	CHECK_STR(sample_line(DBL_MAX), "m 1.7976931348623157e+308\n");
	CHECK_STR(sample_line(INFINITY), "m +Inf\n");
	CHECK_STR(sample_line(-INFINITY), "m -Inf\n");
	CHECK_STR(sample_line(NAN), "m NaN\n");
	CHECK_STR(sample_line(-NAN), "m NaN\n");
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Any double reads back as itself; integers never get a '.' or 'e'. */
static void test_number_round_trip(void)
{
	int wrong = 0, not_integer = 0;

	for (int i = 0; i < 200000; i++) {
		double v;
		const char *num;

		if (i % 2) { /* any bit pattern */
			uint64_t bits = rng();

			memcpy(&v, &bits, sizeof(v));
		} else { /* integers and short decimals */
			v = (double)((int64_t)(rng() % 2000001) - 1000000) /
			    (i % 4 ? 1000 : 1);
		}
		num = sample_line(v) + 2; /* skip "m " */
		if (isnan(v) ? strcmp(num, "NaN\n") != 0 : strtod(num, NULL) != v)
			wrong++;
		if (v > -0x1p53 && v < 0x1p53 && v == (double)(int64_t)v &&
		    strpbrk(num, ".e"))
			not_integer++;
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(not_integer, 0);
}

/* Label values are sanitised first (a newline is the text "\u000a", which
 * sanitize.h makes of every control character), then escaped; HELP text
 * is podtap's own and only escaped. */
static void test_escaping(void)
{
	struct prom_writer w;
	const struct prom_label labels[] = {
		{ "a", "back\\slash \"quoted\"\nnewline" },
		{ "b", NULL },
		{ "c", "" },
		{ "d", "\\n is not a newline" },
	};

	prom_writer_init(&w);
	prom_family(&w, "x", "gauge", "say \"hi\" \\ to\nall");
	prom_sample(&w, "x", labels, 4, 1);
	CHECK_STR(w.buf, "# HELP x say \"hi\" \\\\ to\\nall\n"
			 "# TYPE x gauge\n"
			 "x{a=\"back\\\\slash \\\"quoted\\\"\\\\u000anewline\","
			 "b=\"\",c=\"\",d=\"\\\\n is not a newline\"} 1\n");
	prom_writer_free(&w);
	CHECK(w.buf == NULL && w.len == 0 && w.cap == 0 && !w.failed);
}

static void test_histogram_shapes(void)
{
	struct prom_writer w;
	const double bounds[] = { 0.5, 1e6 };
	const uint64_t counts[] = { 1, 0, 2 };
	/* cumulative counts past 2^53 stay exact */
	const uint64_t big[] = { UINT64_MAX / 2, UINT64_MAX / 2, 1 };
	const struct prom_label lbl[] = { { "k", "v" } };

	prom_writer_init(&w);
	prom_histogram(&w, "h", NULL, 0, bounds, 2, counts, 0.1 + 0.2);
	prom_histogram(&w, "h", lbl, 1, bounds, 2, big, 1e300);
	prom_histogram(&w, "e", NULL, 0, NULL, 0, (uint64_t[]){ 3 }, 4.5);
	CHECK_STR(w.buf, "h_bucket{le=\"0.5\"} 1\n"
			 "h_bucket{le=\"1000000\"} 1\n"
			 "h_bucket{le=\"+Inf\"} 3\n"
			 "h_sum 0.30000000000000004\n"
			 "h_count 3\n"
			 "h_bucket{k=\"v\",le=\"0.5\"} 9223372036854775807\n"
			 "h_bucket{k=\"v\",le=\"1000000\"} 18446744073709551614\n"
			 "h_bucket{k=\"v\",le=\"+Inf\"} 18446744073709551615\n"
			 "h_sum{k=\"v\"} 1e+300\n"
			 "h_count{k=\"v\"} 18446744073709551615\n"
			 "e_bucket{le=\"+Inf\"} 3\n"
			 "e_sum 4.5\n"
			 "e_count 3\n");
	prom_writer_free(&w);
}

static void test_growth_and_failure(void)
{
	struct prom_writer w;
	char want[64];
	size_t pos = 0;
	int mismatches = 0;

	prom_writer_init(&w);
	for (int i = 0; i < 20000; i++)
		prom_sample(&w, "podtap_test_growth", NULL, 0, i);
	CHECK(!w.failed);
	CHECK(w.len < w.cap);
	CHECK_INT(strlen(w.buf), w.len);
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(want, sizeof(want), "podtap_test_growth %d\n",
				 i);

		mismatches += pos + (size_t)n > w.len ||
			      memcmp(w.buf + pos, want, (size_t)n) != 0;
		pos += (size_t)n;
	}
	CHECK_INT(mismatches, 0);
	CHECK_INT(pos, w.len);

	/* once failed, writes are ignored and the buffer stays as it was */
	w.failed = true;
	pos = w.len;
	prom_sample(&w, "ignored", NULL, 0, 1);
	prom_family(&w, "ignored", "gauge", "ignored");
	CHECK_INT(w.len, pos);
	prom_writer_free(&w);
}

/* A small but complete exposition, as the daemon would serve it. */
static void write_exposition(struct prom_writer *w)
{
	const struct prom_label get[] = {
		{ "http_request_method", "GET" },
		{ "http_route", "/search/\"q\"\\{id}\n" },
		{ "k8s_pod_name", NULL },
	};
	const struct prom_label post[] = {
		{ "http_request_method", "POST" },
		{ "http_route", "/users/{id}" },
		{ "k8s_pod_name", "web-7d4b9c8f6d-x2x9q" },
	};
	const uint64_t counts[NBOUNDS + 1] = { 1, 2, 3, 0, 0, 4, 0, 0,
					       0, 0, 0, 0, 0, 1, 2 };

	prom_family(w, "http_server_requests_total", "counter",
		    "Requests served.\nPer \\ route.");
	prom_sample(w, "http_server_requests_total", get, 3, 42);
	prom_sample(w, "http_server_requests_total", post, 3, 0);
	prom_family(w, "podtap_ring_buffer_fill_ratio", "gauge",
		    "Fill ratio of the \"events\" ring buffer.");
	prom_sample(w, "podtap_ring_buffer_fill_ratio", NULL, 0, 0.125);
	prom_family(w, "http_server_request_duration_seconds", "histogram",
		    "Duration of HTTP server requests.");
	prom_histogram(w, "http_server_request_duration_seconds", post, 3,
		       duration_bounds, NBOUNDS, counts, 33.25);
}

static const char expected_exposition[] =
	"# HELP http_server_requests_total Requests served.\\nPer \\\\ route.\n"
	"# TYPE http_server_requests_total counter\n"
	"http_server_requests_total{http_request_method=\"GET\","
	"http_route=\"/search/\\\"q\\\"\\\\{id}\\\\u000a\",k8s_pod_name=\"\"} 42\n"
	"http_server_requests_total{http_request_method=\"POST\","
	"http_route=\"/users/{id}\",k8s_pod_name=\"web-7d4b9c8f6d-x2x9q\"} 0\n"
	"# HELP podtap_ring_buffer_fill_ratio Fill ratio of the \"events\" "
	"ring buffer.\n"
	"# TYPE podtap_ring_buffer_fill_ratio gauge\n"
	"podtap_ring_buffer_fill_ratio 0.125\n"
	"# HELP http_server_request_duration_seconds Duration of HTTP server "
	"requests.\n"
	"# TYPE http_server_request_duration_seconds histogram\n"
#define B "http_server_request_duration_seconds_bucket{" \
	  "http_request_method=\"POST\",http_route=\"/users/{id}\"," \
	  "k8s_pod_name=\"web-7d4b9c8f6d-x2x9q\",le="
	B "\"0.005\"} 1\n"
	B "\"0.01\"} 3\n"
	B "\"0.025\"} 6\n"
	B "\"0.05\"} 6\n"
	B "\"0.075\"} 6\n"
	B "\"0.1\"} 10\n"
	B "\"0.25\"} 10\n"
	B "\"0.5\"} 10\n"
	B "\"0.75\"} 10\n"
	B "\"1\"} 10\n"
	B "\"2.5\"} 10\n"
	B "\"5\"} 10\n"
	B "\"7.5\"} 10\n"
	B "\"10\"} 11\n"
	B "\"+Inf\"} 13\n"
#undef B
	"http_server_request_duration_seconds_sum{http_request_method=\"POST\","
	"http_route=\"/users/{id}\",k8s_pod_name=\"web-7d4b9c8f6d-x2x9q\"} 33.25\n"
	"http_server_request_duration_seconds_count{http_request_method=\"POST\","
	"http_route=\"/users/{id}\",k8s_pod_name=\"web-7d4b9c8f6d-x2x9q\"} 13\n";

static void test_exposition(void)
{
	struct prom_writer w;

	prom_writer_init(&w);
	write_exposition(&w);
	CHECK(!w.failed);
	CHECK_STR(w.buf, expected_exposition);
	CHECK_INT(w.len, strlen(expected_exposition));
	prom_writer_free(&w);
}

/*
 * Prometheus' own parser and linter as the judge: "promtool check metrics"
 * exits 1 on a parse error, 3 on lint problems (missing HELP, a counter
 * not ending in _total, ...), 0 and silent when all is well.
 */
static void test_promtool(void)
{
	char text[] = "/tmp/podtap-prom-XXXXXX";
	char report[] = "/tmp/podtap-promtool-XXXXXX";
	char cmd[256], msg[1024] = "";
	struct prom_writer w;
	int fd, rfd, status;
	ssize_t n;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		printf("# skip: promtool not found\n");
		return;
	}
	prom_writer_init(&w);
	write_exposition(&w);
	fd = mkstemp(text);
	rfd = mkstemp(report);
	CHECK(fd >= 0 && rfd >= 0);
	if (fd < 0 || rfd < 0)
		goto cleanup;
	CHECK(write(fd, w.buf, w.len) == (ssize_t)w.len);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s 2>&1",
		 text, report);
	status = system(cmd);
	n = read(rfd, msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	if (msg[0])
		fprintf(stderr, "  promtool says:\n%s", msg);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_STR(msg, "");

	/* and it does catch what it should: a broken label value */
	CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	CHECK(write(fd, "m{a=\"x} 1\n", 10) == 10);
	status = system(cmd);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
cleanup:
	if (fd >= 0) {
		close(fd);
		unlink(text);
	}
	if (rfd >= 0) {
		close(rfd);
		unlink(report);
	}
	prom_writer_free(&w);
}

/* promtool's exit status for `len` bytes of exposition, -1 without it. */
static int promtool_status(const char *buf, size_t len)
{
	char text[] = "/tmp/podtap-prom-XXXXXX";
	char cmd[256];
	int fd = mkstemp(text), status;

	if (fd < 0)
		return -2;
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		unlink(text);
		return -2;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1",
		 text);
	status = system(cmd);
	unlink(text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

/* Label values of any bytes come out valid (sanitize.h), short enough,
 * and promtool accepts them; the same bytes written raw it refuses. */
static void test_hostile_values(void)
{
	static const char raw[] = "m{a=\"\xff:80\"} 1\n";
	char long_value[3000];
	struct prom_writer w;
	const struct prom_label labels[] = {
		{ "server_address", "\xff:80" },
		{ "service_name", "caf\xe9\x1b[31m\x7f" },
		{ "http_route", "/{\xe2\x80\xae}/\xc0\xaf" },
		{ "k8s_pod_name", long_value },
	};

	memset(long_value, 'a', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	prom_writer_init(&w);
	prom_family(&w, "m", "gauge", "Hostile labels.");
	prom_sample(&w, "m", labels, 4, 1);
	CHECK(!w.failed);
	CHECK(strstr(w.buf, "server_address=\"\xef\xbf\xbd:80\""));
	CHECK(strstr(w.buf, "service_name=\"caf\xef\xbf\xbd\\\\u001b[31m"
			    "\\\\u007f\""));
	CHECK(strstr(w.buf, "http_route=\"/{\\\\u202e}/\xef\xbf\xbd\xef\xbf\xbd\""));
	/* cut to SANITIZE_MAX bytes */
	CHECK(strstr(w.buf, "k8s_pod_name=\"aaaa"));
	CHECK(strlen(strstr(w.buf, "k8s_pod_name=\"")) ==
	      strlen("k8s_pod_name=\"") + 1024 + strlen("\"} 1\n"));
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		CHECK_INT(promtool_status(w.buf, w.len), 0);
		CHECK(promtool_status(raw, strlen(raw)) != 0);
	}
	prom_writer_free(&w);
}

int main(void)
{
	RUN(test_numbers);
	RUN(test_number_round_trip);
	RUN(test_escaping);
	RUN(test_histogram_shapes);
	RUN(test_growth_and_failure);
	RUN(test_exposition);
	RUN(test_promtool);
	RUN(test_hostile_values);
	return check_summary("prom_writer");
}
