// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "otel/otel_env.h"

#define ENV(...) ((char *[]){ __VA_ARGS__, NULL })
#define BASE "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318"

/* Big: one for the whole run. */
static struct otel_config cfg;
static char err[512];

static int load(char *const *envp)
{
	return otel_config_from_env(&cfg, envp, err, sizeof(err));
}

/* The URL traces go to for envp, or the error. */
static const char *url_for(char *const *envp)
{
	if (load(envp))
		return err;
	return cfg.enabled ? cfg.url : cfg.disabled_reason;
}

static void test_base_endpoint(void)
{
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318")),
		  "http://collector:4318/v1/traces");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/")),
		  "http://collector:4318/v1/traces");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/mycollector/")),
		  "http://collector:4318/mycollector/v1/traces");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/mycollector")),
		  "http://collector:4318/mycollector/v1/traces");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com")),
		  "https://otlp.example.com/v1/traces");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=HTTPS://[::1]:4318")),
		  "HTTPS://[::1]:4318/v1/traces");
	/* the path goes before a query, which is kept */
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/p?tenant=a")),
		  "http://c:4318/p/v1/traces?tenant=a");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318?tenant=a")),
		  "http://c:4318/v1/traces?tenant=a");
	/* blanks around the value are not part of the URL */
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT= http://c:4318 ")),
		  "http://c:4318/v1/traces");
}

static void test_traces_endpoint(void)
{
	/* as is, with "/" for a missing path only */
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318")),
		  "http://collector:4318/");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://collector.example.com/v1/traces/")),
		  "https://collector.example.com/v1/traces/");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318/custom")),
		  "http://c:4318/custom");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318?x=1")),
		  "http://c:4318/?x=1");
	/* wins over the base, in either order */
	CHECK_STR(url_for(ENV(BASE, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:1/x")),
		  "http://t:1/x");
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:1/x", BASE)),
		  "http://t:1/x");
	/* empty is unset: the base applies */
	CHECK_STR(url_for(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=", BASE)),
		  "http://collector:4318/v1/traces");
	/* the first occurrence of a name counts, as with getenv */
	CHECK_STR(url_for(ENV(BASE, "OTEL_EXPORTER_OTLP_ENDPOINT=http://other:1")),
		  "http://collector:4318/v1/traces");
}

static void test_bad_endpoints(void)
{
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_ENDPOINT='collector:4318': want a URL starting with http:// or https://");
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=ftp://c/")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='ftp://c/': want a URL starting with http:// or https://");
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_ENDPOINT='http://': the URL has no host");
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http:///v1")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_ENDPOINT='http:///v1': the URL has no host");
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://a b:1")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_ENDPOINT='http://a b:1': a URL cannot contain blanks or control characters");
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT= ")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='': want a URL starting with http:// or https://");
}

static void test_disabled(void)
{
	CHECK_INT(load(ENV("PATH=/bin")), 0);
	CHECK(!cfg.enabled);
	CHECK_STR(cfg.disabled_reason,
		  "traces off: no OTLP endpoint (set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://collector:4318)");
	CHECK_INT(load(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=")), 0);
	CHECK(!cfg.enabled);

	CHECK_INT(load(ENV(BASE, "OTEL_TRACES_EXPORTER=none")), 0);
	CHECK(!cfg.enabled);
	CHECK_STR(cfg.disabled_reason, "traces off: OTEL_TRACES_EXPORTER is none");
	CHECK_INT(load(ENV(BASE, "OTEL_TRACES_EXPORTER= NONE ")), 0);
	CHECK(!cfg.enabled);

	CHECK_INT(load(ENV(BASE, "OTEL_SDK_DISABLED=TRUE")), 0);
	CHECK(!cfg.enabled);
	CHECK_STR(cfg.disabled_reason, "traces off: OTEL_SDK_DISABLED is true");
	/* only "true" is true; anything but "false" is reported */
	CHECK_INT(load(ENV(BASE, "OTEL_SDK_DISABLED=1")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_SDK_DISABLED='1' taken as false: want true or false");
	CHECK_INT(load(ENV(BASE, "OTEL_SDK_DISABLED=False")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_warnings, 0);

	/* a disabled config is not checked further */
	CHECK_INT(load(ENV("OTEL_TRACES_EXPORTER=none",
			   "OTEL_EXPORTER_OTLP_ENDPOINT=nonsense")), 0);
	CHECK(!cfg.enabled);
}

static void test_traces_exporter(void)
{
	CHECK_INT(load(ENV(BASE, "OTEL_TRACES_EXPORTER=otlp")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_warnings, 0);
	CHECK_INT(load(ENV(BASE, "OTEL_TRACES_EXPORTER=otlp, console")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_TRACES_EXPORTER: 'console' ignored: podtap exports traces over OTLP only");
	/* nothing usable: as if unset, so the default (otlp) */
	CHECK_INT(load(ENV(BASE, "OTEL_TRACES_EXPORTER=zipkin")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_warnings, 1);
}

static void test_protocol(void)
{
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc")), -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: podtap exports OTLP/HTTP with protobuf only (http/protobuf, usually port 4318)");
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json")), -EINVAL);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_PROTOCOL=HTTP/Protobuf")), 0);
	CHECK_INT(cfg.n_warnings, 0);
	/* the per-signal variable wins */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
			   "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf")), 0);
	/* unknown: reported, ignored */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_PROTOCOL=carrier-pigeon")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_PROTOCOL='carrier-pigeon' ignored: not a known protocol (podtap speaks http/protobuf)");
}

static void test_headers(void)
{
	CHECK_INT(load(ENV(BASE,
			   "OTEL_EXPORTER_OTLP_HEADERS=api-key=secret%20value, x-tenant = acme ,,"
			   "Bad Key=1,novalue,k=%zz,Content-Type=text/plain,"
			   "API-Key=second,auth=Basic dXNlcjpwdw==,empty=,"
			   "inject=a%0D%0AX-Evil: 1,utf8=%C3%A9t%C3%A9,")), 0);
	CHECK_INT(cfg.n_headers, 5);
	CHECK_STR(cfg.headers[0].name, "API-Key"); /* replaced by the last */
	CHECK_STR(cfg.headers[0].value, "second");
	CHECK_STR(cfg.headers[1].name, "x-tenant");
	CHECK_STR(cfg.headers[1].value, "acme");
	CHECK_STR(cfg.headers[2].name, "auth");
	CHECK_STR(cfg.headers[2].value, "Basic dXNlcjpwdw==");
	CHECK_STR(cfg.headers[3].name, "empty");
	CHECK_STR(cfg.headers[3].value, "");
	CHECK_STR(cfg.headers[4].name, "utf8");
	CHECK_STR(cfg.headers[4].value, "\xc3\xa9t\xc3\xa9");
	CHECK_INT(cfg.n_warnings, 5);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_HEADERS: entry 4 ignored: 'Bad Key' is not a header name");
	CHECK_STR(cfg.warnings[1], "OTEL_EXPORTER_OTLP_HEADERS: entry 5 ignored: not key=value");
	CHECK_STR(cfg.warnings[2], "OTEL_EXPORTER_OTLP_HEADERS: 'k' ignored: the value has a bad %-escape or a control character");
	CHECK_STR(cfg.warnings[3], "OTEL_EXPORTER_OTLP_HEADERS: 'Content-Type' ignored: podtap sets it");
	CHECK_STR(cfg.warnings[4], "OTEL_EXPORTER_OTLP_HEADERS: 'inject' ignored: the value has a bad %-escape or a control character");
	/* the secret never shows in a warning */
	for (unsigned int i = 0; i < cfg.n_warnings; i++)
		CHECK(!strstr(cfg.warnings[i], "secret"));

	/* TRACES_HEADERS replaces the general list, whole */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_HEADERS=a=1,b=2",
			   "OTEL_EXPORTER_OTLP_TRACES_HEADERS=c=3")), 0);
	CHECK_INT(cfg.n_headers, 1);
	CHECK_STR(cfg.headers[0].name, "c");
	CHECK_STR(cfg.headers[0].value, "3");
	/* %00 and a cut escape */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_HEADERS=a=x%00y,b=%4")), 0);
	CHECK_INT(cfg.n_headers, 0);
	CHECK_INT(cfg.n_warnings, 2);
}

static void test_headers_limits(void)
{
	static char big[OTEL_HEADER_VALUE_MAX + 64];
	static char many[4096];
	size_t off;

	off = (size_t)snprintf(big, sizeof(big), "OTEL_EXPORTER_OTLP_HEADERS=k=");
	memset(big + off, 'v', OTEL_HEADER_VALUE_MAX);
	big[off + OTEL_HEADER_VALUE_MAX] = '\0';
	CHECK_INT(load(ENV(BASE, big)), 0);
	CHECK_INT(cfg.n_headers, 0);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_HEADERS: 'k' ignored: the value is over 4095 bytes");
	big[off + OTEL_HEADER_VALUE_MAX - 1] = '\0';
	CHECK_INT(load(ENV(BASE, big)), 0);
	CHECK_INT(cfg.n_headers, 1);
	CHECK_INT(strlen(cfg.headers[0].value), OTEL_HEADER_VALUE_MAX - 1);

	off = (size_t)snprintf(many, sizeof(many), "OTEL_EXPORTER_OTLP_HEADERS=");
	for (int i = 0; i < OTEL_HEADERS_MAX + 2; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off,
					"h%d=%d,", i, i);
	CHECK_INT(load(ENV(BASE, many)), 0);
	CHECK_INT(cfg.n_headers, OTEL_HEADERS_MAX);
	CHECK_INT(cfg.n_warnings, 2);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_HEADERS: 'h16' ignored: more than 16 headers");
}

static void test_compression(void)
{
	CHECK_INT(load(ENV(BASE)), 0);
	CHECK(!cfg.gzip);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_COMPRESSION=gzip")), 0);
	CHECK(cfg.gzip);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_COMPRESSION=GZIP")), 0);
	CHECK(cfg.gzip);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
			   "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none")), 0);
	CHECK(!cfg.gzip);
	/* an unknown per-signal value falls back to the general one */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
			   "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=br")), 0);
	CHECK(cfg.gzip);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION='br' ignored: want gzip or none");
}

static void test_timeout(void)
{
	CHECK_INT(load(ENV(BASE)), 0);
	CHECK_INT(cfg.timeout_ms, 10000);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TIMEOUT=2500")), 0);
	CHECK_INT(cfg.timeout_ms, 2500);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TIMEOUT=2500",
			   "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT= 300 ")), 0);
	CHECK_INT(cfg.timeout_ms, 300);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TIMEOUT=0")), 0);
	CHECK_INT(cfg.timeout_ms, 0); /* no limit */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TIMEOUT=-1")), 0);
	CHECK_INT(cfg.timeout_ms, 10000);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_TIMEOUT='-1' ignored: want an integer in 0..2147483647");
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TIMEOUT=10s")), 0);
	CHECK_INT(cfg.timeout_ms, 10000);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TIMEOUT=2147483648")), 0);
	CHECK_INT(cfg.timeout_ms, 10000);
	CHECK_INT(cfg.n_warnings, 1);
	/* an invalid per-signal value: the general one applies */
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=x",
			   "OTEL_EXPORTER_OTLP_TIMEOUT=700")), 0);
	CHECK_INT(cfg.timeout_ms, 700);
}

static void test_batching(void)
{
	CHECK_INT(load(ENV(BASE)), 0);
	CHECK_INT(cfg.batch_size, 8192);
	CHECK_INT(cfg.batch_timeout_ms, 200);
	CHECK_INT(cfg.queue_size, 8192);
	CHECK_INT(cfg.shutdown_timeout_ms, 5000);
	CHECK_INT(cfg.retry_max_elapsed_ms, 300000);

	CHECK_INT(load(ENV(BASE, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512",
			   "OTEL_BSP_SCHEDULE_DELAY=5000",
			   "OTEL_BSP_MAX_QUEUE_SIZE=2048")), 0);
	CHECK_INT(cfg.batch_size, 512);
	CHECK_INT(cfg.batch_timeout_ms, 5000);
	CHECK_INT(cfg.queue_size, 2048);
	CHECK_INT(cfg.n_warnings, 0);

	/* podtap's names win over the OTEL_BSP_ twins */
	CHECK_INT(load(ENV(BASE, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512",
			   "PODTAP_OTLP_BATCH_SIZE=100",
			   "PODTAP_OTLP_BATCH_TIMEOUT=0",
			   "OTEL_BSP_SCHEDULE_DELAY=5000",
			   "PODTAP_OTLP_QUEUE_SIZE=1000",
			   "PODTAP_OTLP_SHUTDOWN_TIMEOUT=1500",
			   "PODTAP_OTLP_RETRY_MAX_ELAPSED=60000")), 0);
	CHECK_INT(cfg.batch_size, 100);
	CHECK_INT(cfg.batch_timeout_ms, 0);
	CHECK_INT(cfg.queue_size, 1000);
	CHECK_INT(cfg.shutdown_timeout_ms, 1500);
	CHECK_INT(cfg.retry_max_elapsed_ms, 60000);

	/* a small queue takes the default batch size down quietly... */
	CHECK_INT(load(ENV(BASE, "PODTAP_OTLP_QUEUE_SIZE=1000")), 0);
	CHECK_INT(cfg.batch_size, 1000);
	CHECK_INT(cfg.n_warnings, 0);
	/* ...and a chosen one with a warning */
	CHECK_INT(load(ENV(BASE, "PODTAP_OTLP_QUEUE_SIZE=1000",
			   "PODTAP_OTLP_BATCH_SIZE=5000")), 0);
	CHECK_INT(cfg.batch_size, 1000);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "batch size 5000 is over the queue size 1000: using 1000");

	/* sizes are positive; an invalid podtap value falls to its twin */
	CHECK_INT(load(ENV(BASE, "PODTAP_OTLP_QUEUE_SIZE=0",
			   "OTEL_BSP_MAX_QUEUE_SIZE=4096")), 0);
	CHECK_INT(cfg.queue_size, 4096);
	CHECK_STR(cfg.warnings[0], "PODTAP_OTLP_QUEUE_SIZE='0' ignored: want an integer in 1..1048576");
	CHECK_INT(load(ENV(BASE, "OTEL_BSP_MAX_QUEUE_SIZE=2000000")), 0);
	CHECK_INT(cfg.queue_size, 8192);
	CHECK_INT(cfg.n_warnings, 1);
}

static void test_resource_attributes(void)
{
	CHECK_INT(load(ENV(BASE, "OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod, "
			   "team=a%2Cb ,k8s.cluster.name = c1,service.name=shop,%3Dk=v%3D,"
			   "team=payments,")), 0);
	CHECK_INT(cfg.n_warnings, 0);
	CHECK_STR(cfg.service_name, "shop");
	CHECK_INT(cfg.n_resource_attrs, 4);
	CHECK_STR(cfg.resource_attrs[0].key, "deployment.environment.name");
	CHECK_STR(cfg.resource_attrs[0].value, "prod");
	CHECK_STR(cfg.resource_attrs[1].key, "team"); /* the last one wins */
	CHECK_STR(cfg.resource_attrs[1].value, "payments");
	CHECK_STR(cfg.resource_attrs[2].key, "k8s.cluster.name");
	CHECK_STR(cfg.resource_attrs[2].value, "c1");
	CHECK_STR(cfg.resource_attrs[3].key, "=k");
	CHECK_STR(cfg.resource_attrs[3].value, "v=");

	CHECK_INT(load(ENV(BASE, "OTEL_RESOURCE_ATTRIBUTES=team=a%2Cb")), 0);
	CHECK_STR(cfg.resource_attrs[0].value, "a,b");

	/* OTEL_SERVICE_NAME takes precedence over service.name */
	CHECK_INT(load(ENV(BASE, "OTEL_SERVICE_NAME=web",
			   "OTEL_RESOURCE_ATTRIBUTES=service.name=shop,a=1")), 0);
	CHECK_STR(cfg.service_name, "web");
	CHECK_INT(cfg.n_resource_attrs, 1);
	CHECK_STR(cfg.resource_attrs[0].key, "a");
	CHECK_INT(load(ENV(BASE)), 0);
	CHECK_STR(cfg.service_name, "");
}

static void test_resource_attributes_errors(void)
{
	/* any error discards the whole value */
	CHECK_INT(load(ENV(BASE, "OTEL_RESOURCE_ATTRIBUTES=a=1,b,service.name=x")), 0);
	CHECK(cfg.enabled);
	CHECK_INT(cfg.n_resource_attrs, 0);
	CHECK_STR(cfg.service_name, "");
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_RESOURCE_ATTRIBUTES ignored: an entry is not key=value");
	CHECK_INT(load(ENV(BASE, "OTEL_RESOURCE_ATTRIBUTES=a=1,b=%G1")), 0);
	CHECK_INT(cfg.n_resource_attrs, 0);
	CHECK_STR(cfg.warnings[0], "OTEL_RESOURCE_ATTRIBUTES ignored: bad %-escape");
	CHECK_INT(load(ENV(BASE, "OTEL_RESOURCE_ATTRIBUTES= =1")), 0);
	CHECK_STR(cfg.warnings[0], "OTEL_RESOURCE_ATTRIBUTES ignored: an entry has an empty key");
}

static void test_resource_attributes_limits(void)
{
	static char buf[8192];
	size_t off;

	off = (size_t)snprintf(buf, sizeof(buf), "OTEL_RESOURCE_ATTRIBUTES=");
	for (int i = 0; i < SPAN_RESOURCE_EXTRA_MAX; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"k%d=%d,", i, i);
	CHECK_INT(load(ENV(BASE, buf)), 0);
	CHECK_INT(cfg.n_resource_attrs, SPAN_RESOURCE_EXTRA_MAX);
	snprintf(buf + off, sizeof(buf) - off, "one=more");
	CHECK_INT(load(ENV(BASE, buf)), 0);
	CHECK_INT(cfg.n_resource_attrs, 0);
	CHECK_STR(cfg.warnings[0], "OTEL_RESOURCE_ATTRIBUTES ignored: too many attributes");

	off = (size_t)snprintf(buf, sizeof(buf), "OTEL_RESOURCE_ATTRIBUTES=k=");
	memset(buf + off, 'v', SPAN_RESOURCE_VALUE_MAX);
	buf[off + SPAN_RESOURCE_VALUE_MAX] = '\0';
	CHECK_INT(load(ENV(BASE, buf)), 0);
	CHECK_INT(cfg.n_resource_attrs, 0);
	CHECK_STR(cfg.warnings[0], "OTEL_RESOURCE_ATTRIBUTES ignored: a key or value is too long");

	memset(buf, 0, sizeof(buf));
	off = (size_t)snprintf(buf, sizeof(buf), "OTEL_SERVICE_NAME=");
	memset(buf + off, 's', OTEL_SERVICE_NAME_MAX);
	CHECK_INT(load(ENV(BASE, buf)), 0);
	CHECK_STR(cfg.service_name, "");
	CHECK_STR(cfg.warnings[0], "OTEL_SERVICE_NAME ignored: longer than 253 bytes");
}

static void test_warnings_bounded(void)
{
	CHECK_INT(load(ENV(BASE, "OTEL_EXPORTER_OTLP_HEADERS="
			   "a b=1,c d=2,e f=3,g h=4,i j=5,k l=6,m n=7,o p=8,"
			   "q r=9,s t=10,u v=11,w x=12,y z=13,aa a=14,bb b=15,"
			   "cc c=16,dd d=17,ee e=18")), 0);
	CHECK_INT(cfg.n_warnings, OTEL_WARNINGS_MAX);
	CHECK_STR(cfg.warnings[OTEL_WARNINGS_MAX - 2],
		  "OTEL_EXPORTER_OTLP_HEADERS: entry 15 ignored: 'bb b' is not a header name");
	CHECK_STR(cfg.warnings[OTEL_WARNINGS_MAX - 1],
		  "more OpenTelemetry settings were ignored");
}

/* ---- metrics ---------------------------------------------------------- */

static int load_metrics(char *const *envp)
{
	return otel_metrics_config_from_env(&cfg, envp, err, sizeof(err));
}

/* The URL metrics go to for envp, the disabled reason, or the error. */
static const char *metrics_url_for(char *const *envp)
{
	if (load_metrics(envp))
		return err;
	return cfg.enabled ? cfg.url : cfg.disabled_reason;
}

#define METRICS_OFF "OTLP metrics push off: set OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, or OTEL_METRICS_EXPORTER=otlp beside OTEL_EXPORTER_OTLP_ENDPOINT"

static void test_metrics_endpoint(void)
{
	/* Asked for by name only: the traces' endpoint alone is not enough. */
	CHECK_STR(metrics_url_for(ENV(NULL)), METRICS_OFF);
	CHECK_STR(metrics_url_for(ENV(BASE)), METRICS_OFF);
	CHECK_STR(metrics_url_for(ENV(BASE, "OTEL_METRICS_EXPORTER=prometheus")),
		  METRICS_OFF);
	CHECK_STR(metrics_url_for(ENV(BASE, "OTEL_METRICS_EXPORTER=otlp")),
		  "http://collector:4318/v1/metrics");
	CHECK_STR(metrics_url_for(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/base/",
				      "OTEL_METRICS_EXPORTER=prometheus, OTLP")),
		  "http://c:4318/base/v1/metrics");
	CHECK_INT(cfg.n_warnings, 0); /* prometheus is /metrics: no warning */
	/* The signal's own endpoint turns it on, as is, and wins. */
	CHECK_STR(metrics_url_for(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9/v1/metrics")),
		  "http://m:9/v1/metrics");
	CHECK_STR(metrics_url_for(ENV(BASE, "OTEL_METRICS_EXPORTER=otlp",
				      "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9")),
		  "http://m:9/");
	/* Traces keep theirs. */
	CHECK_STR(url_for(ENV(BASE, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9")),
		  "http://collector:4318/v1/traces");
	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=m:9")),
		  -EINVAL);
	CHECK_STR(err, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT='m:9': want a URL starting with http:// or https://");
}

static void test_metrics_disabled(void)
{
	CHECK_STR(metrics_url_for(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				      "OTEL_METRICS_EXPORTER=none")),
		  "metrics off: OTEL_METRICS_EXPORTER is none");
	CHECK_STR(metrics_url_for(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				      "OTEL_SDK_DISABLED=true")),
		  "metrics off: OTEL_SDK_DISABLED is true");
	/* OTEL_TRACES_EXPORTER=none leaves metrics alone, and back. */
	CHECK_STR(metrics_url_for(ENV(BASE, "OTEL_TRACES_EXPORTER=none",
				      "OTEL_METRICS_EXPORTER=otlp")),
		  "http://collector:4318/v1/metrics");
	CHECK_STR(url_for(ENV(BASE, "OTEL_METRICS_EXPORTER=none")),
		  "http://collector:4318/v1/traces");
	CHECK_STR(metrics_url_for(ENV(BASE, "OTEL_METRICS_EXPORTER=console,otlp")),
		  "http://collector:4318/v1/metrics");
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_METRICS_EXPORTER: 'console' ignored: podtap exports metrics over OTLP and serves them on /metrics");
}

static void test_metric_reader(void)
{
	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9")), 0);
	CHECK_INT(cfg.export_interval_ms, 60000);
	CHECK_INT(cfg.export_timeout_ms, 30000);
	CHECK_INT(cfg.retry_max_elapsed_ms, 30000);
	CHECK_INT(cfg.timeout_ms, 10000); /* the request's own, within it */
	CHECK_INT(cfg.shutdown_timeout_ms, 5000);

	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				   "OTEL_METRIC_EXPORT_INTERVAL=1000",
				   "OTEL_METRIC_EXPORT_TIMEOUT=5000")), 0);
	/* An export cannot outlive its interval, nor a request its export. */
	CHECK_INT(cfg.export_interval_ms, 1000);
	CHECK_INT(cfg.export_timeout_ms, 1000);
	CHECK_INT(cfg.retry_max_elapsed_ms, 1000);
	CHECK_INT(cfg.timeout_ms, 1000);

	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				   "OTEL_METRIC_EXPORT_INTERVAL=0",
				   "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT=2000",
				   "OTEL_EXPORTER_OTLP_TIMEOUT=7000")), 0);
	CHECK_INT(cfg.export_interval_ms, 60000); /* out of range: default */
	CHECK_INT(cfg.timeout_ms, 2000);          /* the signal's own wins */
	CHECK(cfg.n_warnings >= 1);

	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				   "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta")), 0);
	CHECK_INT(cfg.n_warnings, 1);
	CHECK_STR(cfg.warnings[0], "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE='delta' ignored: podtap sends cumulative sums and histograms");
	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				   "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=Cumulative")), 0);
	CHECK_INT(cfg.n_warnings, 0);
}

static void test_metrics_headers_compression(void)
{
	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				   "OTEL_EXPORTER_OTLP_HEADERS=a=1",
				   "OTEL_EXPORTER_OTLP_METRICS_HEADERS=b=2",
				   "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
				   "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none")), 0);
	CHECK_INT(cfg.n_headers, 1);
	CHECK_STR(cfg.headers[0].name, "b");
	CHECK_STR(cfg.headers[0].value, "2");
	CHECK(cfg.gzip); /* traces' own setting is not metrics' */
	CHECK_INT(load_metrics(ENV("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://m:9",
				   "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc")), -EINVAL);
	CHECK(strstr(err, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") != NULL);
}

int main(void)
{
	RUN(test_base_endpoint);
	RUN(test_traces_endpoint);
	RUN(test_bad_endpoints);
	RUN(test_disabled);
	RUN(test_traces_exporter);
	RUN(test_protocol);
	RUN(test_headers);
	RUN(test_headers_limits);
	RUN(test_compression);
	RUN(test_timeout);
	RUN(test_batching);
	RUN(test_resource_attributes);
	RUN(test_resource_attributes_errors);
	RUN(test_resource_attributes_limits);
	RUN(test_warnings_bounded);
	RUN(test_metrics_endpoint);
	RUN(test_metrics_disabled);
	RUN(test_metric_reader);
	RUN(test_metrics_headers_compression);
	return check_summary("otel_env");
}
