// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "otel/otel_env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/array_size.h"
#include "lib/hex.h"

/* The variables of one signal: its own ones win over the general
 * OTEL_EXPORTER_OTLP_* twins. */
struct signal_vars {
	const char *what;        /* "traces", in messages */
	const char *exporter;    /* OTEL_<SIGNAL>S_EXPORTER */
	const char *endpoint;
	const char *headers;
	const char *compression;
	const char *timeout;
	const char *protocol;
	const char *path;        /* appended to the general endpoint */
	/* On with the general endpoint alone (traces), or only when the
	 * exporter list names otlp (metrics: /metrics is the default). */
	bool on_by_default;
	/* An exporter name that is podtap's /metrics, taken silently. */
	const char *served;
};

static const struct signal_vars traces_vars = {
	"traces",
	"OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"/v1/traces",
	true,
	NULL,
};

static const struct signal_vars metrics_vars = {
	"metrics",
	"OTEL_METRICS_EXPORTER",
	"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_METRICS_HEADERS",
	"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
	"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
	"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
	"/v1/metrics",
	false,
	"prometheus",
};

/* A piece of a variable's value: not NUL-terminated. */
struct slice {
	const char *p;
	size_t n;
};

/* The value of `name`, or NULL when it is unset or empty: the specification
 * wants the two treated alike. The first occurrence wins, as with getenv. */
static const char *env_get(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (!strncmp(*envp, name, len) && (*envp)[len] == '=')
			return (*envp)[len + 1] ? *envp + len + 1 : NULL;
	return NULL;
}

/* The first of names[] that is set, its name in *which. */
static const char *env_first(char *const *envp, const char *const *names,
			     size_t n, const char **which)
{
	const char *v;

	for (size_t i = 0; i < n; i++) {
		v = env_get(envp, names[i]);
		if (v) {
			*which = names[i];
			return v;
		}
	}
	return NULL;
}

__attribute__((format(printf, 2, 3)))
static void warn(struct otel_config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (cfg->n_warnings == OTEL_WARNINGS_MAX)
		return;
	if (cfg->n_warnings == OTEL_WARNINGS_MAX - 1) {
		snprintf(cfg->warnings[cfg->n_warnings++], OTEL_MSG_MAX,
			 "more OpenTelemetry settings were ignored");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(cfg->warnings[cfg->n_warnings++], OTEL_MSG_MAX, fmt, ap);
	va_end(ap);
}

/* The W3C Baggage list format allows optional white space (SP, HTAB)
 * around members, keys and values. */
static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static struct slice trim(struct slice s)
{
	while (s.n && is_ows(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ows(s.p[s.n - 1]))
		s.n--;
	return s;
}

static struct slice slice_of(const char *s)
{
	return trim((struct slice){ s, strlen(s) });
}

/* Enum values are matched ignoring case. */
static bool slice_ieq(struct slice s, const char *word)
{
	return s.n == strlen(word) && !strncasecmp(s.p, word, s.n);
}

/*
 * Cuts the next member off a comma-separated list: *rest moves past it.
 * Returns false when the list is used up.
 */
static bool next_member(struct slice *rest, struct slice *member)
{
	const char *comma;

	if (!rest->p)
		return false;
	comma = memchr(rest->p, ',', rest->n);
	member->p = rest->p;
	member->n = comma ? (size_t)(comma - rest->p) : rest->n;
	if (comma) {
		rest->n -= member->n + 1;
		rest->p = comma + 1;
	} else {
		rest->p = NULL;
	}
	*member = trim(*member);
	return true;
}

/*
 * RFC 3986 percent-decoding of s into out, NUL-terminated. Returns the
 * decoded length; -EINVAL for a '%' not followed by two hex digits, or for
 * "%00", which a C string cannot carry; -E2BIG when out is too small.
 */
static int pct_decode(struct slice s, char *out, size_t out_size)
{
	size_t o = 0;
	int hi, lo;
	char c;

	for (size_t i = 0; i < s.n; i++) {
		c = s.p[i];
		if (c == '%') {
			if (i + 2 >= s.n)
				return -EINVAL;
			hi = hex_value((unsigned char)s.p[i + 1]);
			lo = hex_value((unsigned char)s.p[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= out_size)
			return -E2BIG;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/* ---- numbers ---------------------------------------------------------- */

/* A decimal integer in [min, max]; surrounding blanks are tolerated. */
static bool parse_u32(const char *v, uint32_t min, uint32_t max,
		      uint32_t *out)
{
	struct slice s = slice_of(v);
	uint64_t n = 0;

	if (!s.n)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(s.p[i] - '0');
		if (n > max)
			return false;
	}
	if (n < min)
		return false;
	*out = (uint32_t)n;
	return true;
}

/*
 * The first of names[] holding a number in [min, max], else def. A value
 * out of range or not a number is reported and skipped, as if unset.
 * Returns whether a variable supplied the value.
 */
static bool env_u32(struct otel_config *cfg, char *const *envp,
		    const char *const *names, size_t n, uint32_t min,
		    uint32_t max, uint32_t def, uint32_t *out)
{
	const char *v;

	for (size_t i = 0; i < n; i++) {
		v = env_get(envp, names[i]);
		if (!v)
			continue;
		if (parse_u32(v, min, max, out))
			return true;
		warn(cfg, "%s='%s' ignored: want an integer in %u..%u",
		     names[i], v, min, max);
	}
	*out = def;
	return false;
}

#define ENV_U32(cfg, envp, names, min, max, def, out) \
	env_u32(cfg, envp, names, ARRAY_SIZE(names), min, max, def, out)

/* The BSP must be given a batch size <= its queue size; as the JavaScript
 * SDK does, podtap takes the queue size then. Only a batch size the user
 * chose is worth a warning. */
static void fit_batch(struct otel_config *cfg, bool batch_chosen)
{
	if (cfg->batch_size <= cfg->queue_size)
		return;
	if (batch_chosen)
		warn(cfg, "batch size %u is over the queue size %u: using %u",
		     cfg->batch_size, cfg->queue_size, cfg->queue_size);
	cfg->batch_size = cfg->queue_size;
}

static void parse_timeout(struct otel_config *cfg,
			  const struct signal_vars *sig, char *const *envp)
{
	const char *const timeout[] = { sig->timeout,
					"OTEL_EXPORTER_OTLP_TIMEOUT" };

	ENV_U32(cfg, envp, timeout, 0, OTEL_INT_MAX, OTEL_DEFAULT_TIMEOUT_MS,
		&cfg->timeout_ms);
}

/* The batch span processor's settings, traces only. */
static void parse_batching(struct otel_config *cfg, char *const *envp)
{
	static const char *const batch[] = { "PODTAP_OTLP_BATCH_SIZE",
					     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" };
	static const char *const delay[] = { "PODTAP_OTLP_BATCH_TIMEOUT",
					     "OTEL_BSP_SCHEDULE_DELAY" };
	static const char *const queue[] = { "PODTAP_OTLP_QUEUE_SIZE",
					     "OTEL_BSP_MAX_QUEUE_SIZE" };
	static const char *const shutdown[] = { "PODTAP_OTLP_SHUTDOWN_TIMEOUT" };
	static const char *const elapsed[] = { "PODTAP_OTLP_RETRY_MAX_ELAPSED" };
	bool batch_set;

	ENV_U32(cfg, envp, queue, OTEL_QUEUE_SIZE_MIN, OTEL_QUEUE_SIZE_MAX,
		OTEL_DEFAULT_QUEUE_SIZE, &cfg->queue_size);
	batch_set = ENV_U32(cfg, envp, batch, OTEL_BATCH_SIZE_MIN,
			    OTEL_BATCH_SIZE_MAX, OTEL_DEFAULT_BATCH_SIZE,
			    &cfg->batch_size);
	ENV_U32(cfg, envp, delay, OTEL_BATCH_TIMEOUT_MIN_MS,
		OTEL_BATCH_TIMEOUT_MAX_MS, OTEL_DEFAULT_BATCH_TIMEOUT_MS,
		&cfg->batch_timeout_ms);
	ENV_U32(cfg, envp, shutdown, 0, OTEL_INT_MAX,
		OTEL_DEFAULT_SHUTDOWN_TIMEOUT_MS, &cfg->shutdown_timeout_ms);
	ENV_U32(cfg, envp, elapsed, 0, OTEL_INT_MAX,
		OTEL_DEFAULT_RETRY_MAX_ELAPSED_MS, &cfg->retry_max_elapsed_ms);

	fit_batch(cfg, batch_set);
}

void otel_config_override_batching(struct otel_config *cfg,
				   const uint32_t *queue_size,
				   const uint32_t *batch_size,
				   const uint32_t *batch_timeout_ms)
{
	if (queue_size)
		cfg->queue_size = *queue_size;
	if (batch_size)
		cfg->batch_size = *batch_size;
	if (batch_timeout_ms)
		cfg->batch_timeout_ms = *batch_timeout_ms;
	fit_batch(cfg, batch_size != NULL);
}

/* ---- enums ------------------------------------------------------------ */

static void parse_compression(struct otel_config *cfg,
			      const struct signal_vars *sig, char *const *envp)
{
	const char *const names[] = {
		sig->compression,
		"OTEL_EXPORTER_OTLP_COMPRESSION",
	};
	const char *v;
	struct slice s;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		v = env_get(envp, names[i]);
		if (!v)
			continue;
		s = slice_of(v);
		if (slice_ieq(s, "gzip") || slice_ieq(s, "none")) {
			cfg->gzip = slice_ieq(s, "gzip");
			return;
		}
		warn(cfg, "%s='%s' ignored: want gzip or none", names[i], v);
	}
}

static int parse_protocol(struct otel_config *cfg,
			  const struct signal_vars *sig, char *const *envp,
			  char *err, size_t err_size)
{
	const char *const names[] = {
		sig->protocol,
		"OTEL_EXPORTER_OTLP_PROTOCOL",
	};
	const char *v;
	struct slice s;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		v = env_get(envp, names[i]);
		if (!v)
			continue;
		s = slice_of(v);
		if (slice_ieq(s, "http/protobuf"))
			return 0;
		/* Known protocols podtap cannot speak: sending OTLP/HTTP
		 * anyway would hit a port that expects something else. */
		if (slice_ieq(s, "grpc") || slice_ieq(s, "http/json")) {
			snprintf(err, err_size,
				 "%s=%s is not supported: podtap exports OTLP/HTTP with protobuf only (http/protobuf, usually port 4318)",
				 names[i], v);
			return -EINVAL;
		}
		warn(cfg, "%s='%s' ignored: not a known protocol (podtap speaks http/protobuf)",
		     names[i], v);
	}
	return 0;
}

/*
 * OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER: comma-separated lists.
 * Returns whether "none" is in it, and in *otlp whether "otlp" is.
 * Exporters podtap does not have are reported and left out; the one
 * /metrics already is (sig->served) is taken silently.
 */
static bool exporter_none(struct otel_config *cfg,
			  const struct signal_vars *sig, char *const *envp,
			  bool *otlp)
{
	const char *v = env_get(envp, sig->exporter);
	struct slice rest, m;

	*otlp = false;
	if (!v)
		return false;
	rest = (struct slice){ v, strlen(v) };
	while (next_member(&rest, &m)) {
		if (slice_ieq(m, "none"))
			return true;
		if (slice_ieq(m, "otlp"))
			*otlp = true;
		else if (m.n && !(sig->served && slice_ieq(m, sig->served)))
			warn(cfg, "%s: '%.*s' ignored: podtap exports %s over OTLP%s",
			     sig->exporter, (int)m.n, m.p, sig->what,
			     sig->served ? " and serves them on /metrics"
					 : " only");
	}
	return false;
}

/* Booleans are true only for "true", in any case; anything but "false" is
 * worth a warning. */
static bool sdk_disabled(struct otel_config *cfg, char *const *envp)
{
	const char *v = env_get(envp, "OTEL_SDK_DISABLED");

	if (!v)
		return false;
	if (!strcasecmp(v, "true"))
		return true;
	if (strcasecmp(v, "false"))
		warn(cfg, "OTEL_SDK_DISABLED='%s' taken as false: want true or false",
		     v);
	return false;
}

/* ---- endpoint --------------------------------------------------------- */

/*
 * Checks that url is http(s)://host[...] with nothing a request line could
 * not carry, and finds where its path starts (*path) and ends (*path_end:
 * the query or fragment, if any, starts there).
 */
static int url_split(const char *name, const char *url, size_t *path,
		     size_t *path_end, char *err, size_t err_size)
{
	size_t host;

	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			snprintf(err, err_size,
				 "%s='%s': a URL cannot contain blanks or control characters",
				 name, url);
			return -EINVAL;
		}
	}
	if (!strncasecmp(url, "http://", 7)) {
		host = 7;
	} else if (!strncasecmp(url, "https://", 8)) {
		host = 8;
	} else {
		snprintf(err, err_size,
			 "%s='%s': want a URL starting with http:// or https://",
			 name, url);
		return -EINVAL;
	}
	*path = host + strcspn(url + host, "/?#");
	if (*path == host) {
		snprintf(err, err_size, "%s='%s': the URL has no host", name,
			 url);
		return -EINVAL;
	}
	*path_end = *path + strcspn(url + *path, "?#");
	return 0;
}

/*
 * protocol/exporter.md, "Endpoint URLs for OTLP/HTTP": the per-signal URL
 * is used as is, but for a root path "/" where it has none; the general
 * one is a base URL that "v1/traces" (or "v1/metrics") is appended to,
 * after a slash unless its path ends with one. A query, if any, stays at
 * the end.
 */
static int resolve_endpoint(struct otel_config *cfg,
			    const struct signal_vars *sig, const char *name,
			    const char *value, bool per_signal, char *err,
			    size_t err_size)
{
	struct slice s = slice_of(value);
	char url[OTEL_URL_MAX];
	size_t path, path_end;
	const char *add;
	int n;

	if (s.n >= sizeof(url)) {
		snprintf(err, err_size, "%s: the URL is longer than %zu bytes",
			 name, sizeof(url) - 1);
		return -EINVAL;
	}
	memcpy(url, s.p, s.n);
	url[s.n] = '\0';
	if (url_split(name, url, &path, &path_end, err, err_size))
		return -EINVAL;
	if (per_signal)
		add = path == path_end ? "/" : "";
	else if (path_end > path && url[path_end - 1] == '/')
		add = sig->path + 1; /* its path has the slash */
	else
		add = sig->path;
	n = snprintf(cfg->url, sizeof(cfg->url), "%.*s%s%s",
		     (int)path_end, url, add, url + path_end);
	if (n < 0 || (size_t)n >= sizeof(cfg->url)) {
		snprintf(err, err_size, "%s: the URL is longer than %zu bytes",
			 name, sizeof(cfg->url) - 1);
		return -EINVAL;
	}
	return 0;
}

/* ---- headers ---------------------------------------------------------- */

/* RFC 9110 tchar: what a header name is made of. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(struct slice s)
{
	for (size_t i = 0; i < s.n; i++)
		if (!is_tchar(s.p[i]))
			return false;
	return s.n > 0;
}

/* Set by the exporter from the request it sends. */
static bool header_reserved(const char *name)
{
	static const char *const reserved[] = {
		"content-type", "content-encoding", "content-length",
		"transfer-encoding",
	};

	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
		if (!strcasecmp(name, reserved[i]))
			return true;
	return false;
}

/* Decoded header values go on the wire as they are: no CR, LF or other
 * control character but HTAB. */
static bool header_value_ok(const char *v, int len)
{
	for (int i = 0; i < len; i++)
		if (((unsigned char)v[i] < ' ' && v[i] != '\t') || v[i] == 0x7f)
			return false;
	return true;
}

/*
 * Adds member `idx` (1-based) of var's list. Values are often secrets, so
 * what is reported names the key or the member's position, never a value.
 */
static void add_header(struct otel_config *cfg, const char *var,
		       unsigned int idx, struct slice m)
{
	const char *eq = memchr(m.p, '=', m.n);
	struct slice key, val;
	struct otel_header *h;
	int len;

	if (!eq) {
		warn(cfg, "%s: entry %u ignored: not key=value", var, idx);
		return;
	}
	key = trim((struct slice){ m.p, (size_t)(eq - m.p) });
	val = trim((struct slice){ eq + 1, m.n - (size_t)(eq + 1 - m.p) });
	if (!is_token(key) || key.n >= OTEL_HEADER_NAME_MAX) {
		warn(cfg, "%s: entry %u ignored: '%.*s' is not a header name",
		     var, idx, (int)key.n, key.p);
		return;
	}
	if (cfg->n_headers == OTEL_HEADERS_MAX) {
		warn(cfg, "%s: '%.*s' ignored: more than %d headers", var,
		     (int)key.n, key.p, OTEL_HEADERS_MAX);
		return;
	}
	h = &cfg->headers[cfg->n_headers];
	memcpy(h->name, key.p, key.n);
	h->name[key.n] = '\0';
	len = pct_decode(val, h->value, sizeof(h->value));
	if (len == -E2BIG) {
		warn(cfg, "%s: '%s' ignored: the value is over %d bytes", var,
		     h->name, OTEL_HEADER_VALUE_MAX - 1);
		return;
	}
	if (len < 0 || !header_value_ok(h->value, len)) {
		warn(cfg, "%s: '%s' ignored: the value has a bad %%-escape or a control character",
		     var, h->name);
		return;
	}
	if (header_reserved(h->name)) {
		warn(cfg, "%s: '%s' ignored: podtap sets it", var, h->name);
		return;
	}
	/* A repeated key replaces the earlier one, as a map would. */
	for (unsigned int i = 0; i < cfg->n_headers; i++) {
		if (!strcasecmp(cfg->headers[i].name, h->name)) {
			cfg->headers[i] = *h;
			return;
		}
	}
	cfg->n_headers++;
}

/*
 * The W3C Baggage list format ("k=v,k2=v2", blanks around members, keys
 * and values ignored, values percent-encoded), without properties. The
 * TRACES_ variable, when set, replaces the general one. An entry that is
 * not valid is reported and left out; the others are kept.
 */
static void parse_headers(struct otel_config *cfg,
			  const struct signal_vars *sig, char *const *envp)
{
	const char *const names[] = { sig->headers,
				      "OTEL_EXPORTER_OTLP_HEADERS" };
	const char *var, *v = env_first(envp, names, ARRAY_SIZE(names), &var);
	struct slice rest, m;
	unsigned int idx = 0;

	if (!v)
		return;
	rest = (struct slice){ v, strlen(v) };
	while (next_member(&rest, &m)) {
		idx++;
		if (m.n) /* "a=1,,b=2" or a trailing comma: nothing there */
			add_header(cfg, var, idx, m);
	}
}

/* ---- resource --------------------------------------------------------- */

struct attr_list {
	unsigned int n;
	struct span_resource_attr a[SPAN_RESOURCE_EXTRA_MAX];
	bool have_service;
	char service_name[OTEL_SERVICE_NAME_MAX];
};

/* Decodes one "key=value" member into l; returns NULL or what is wrong. */
static const char *attr_add(struct attr_list *l, struct slice m)
{
	const char *eq = memchr(m.p, '=', m.n);
	struct span_resource_attr a;
	struct slice key, val;
	int klen, vlen;

	if (!eq)
		return "an entry is not key=value";
	key = trim((struct slice){ m.p, (size_t)(eq - m.p) });
	val = trim((struct slice){ eq + 1, m.n - (size_t)(eq + 1 - m.p) });
	klen = pct_decode(key, a.key, sizeof(a.key));
	vlen = pct_decode(val, a.value, sizeof(a.value));
	if (klen == -EINVAL || vlen == -EINVAL)
		return "bad %-escape";
	if (klen < 0 || vlen < 0)
		return "a key or value is too long";
	if (!klen)
		return "an entry has an empty key";
	if (!strcmp(a.key, "service.name")) {
		if ((size_t)vlen >= sizeof(l->service_name))
			return "service.name is too long";
		memcpy(l->service_name, a.value, (size_t)vlen + 1);
		l->have_service = true;
		return NULL;
	}
	for (unsigned int i = 0; i < l->n; i++) {
		if (!strcmp(l->a[i].key, a.key)) {
			l->a[i] = a;
			return NULL;
		}
	}
	if (l->n == SPAN_RESOURCE_EXTRA_MAX)
		return "too many attributes";
	l->a[l->n++] = a;
	return NULL;
}

/*
 * OTEL_RESOURCE_ATTRIBUTES: "k=v,k2=v2", keys and values percent-decoded.
 * resource/sdk.md: on any error the whole value is discarded and the error
 * reported. Empty members (a trailing comma) are let through.
 */
static void parse_resource_attrs(struct otel_config *cfg, char *const *envp)
{
	const char *v = env_get(envp, "OTEL_RESOURCE_ATTRIBUTES");
	struct attr_list l = { 0 };
	struct slice rest, m;
	const char *why;

	if (!v)
		return;
	rest = (struct slice){ v, strlen(v) };
	while (next_member(&rest, &m)) {
		if (!m.n)
			continue;
		why = attr_add(&l, m);
		if (why) {
			warn(cfg, "OTEL_RESOURCE_ATTRIBUTES ignored: %s", why);
			return;
		}
	}
	memcpy(cfg->resource_attrs, l.a, l.n * sizeof(l.a[0]));
	cfg->n_resource_attrs = l.n;
	/* OTEL_SERVICE_NAME, read before, takes precedence. */
	if (l.have_service && !cfg->service_name[0])
		memcpy(cfg->service_name, l.service_name,
		       sizeof(cfg->service_name));
}

static void parse_service_name(struct otel_config *cfg, char *const *envp)
{
	const char *v = env_get(envp, "OTEL_SERVICE_NAME");

	if (!v)
		return;
	if (strlen(v) >= sizeof(cfg->service_name)) {
		warn(cfg, "OTEL_SERVICE_NAME ignored: longer than %zu bytes",
		     sizeof(cfg->service_name) - 1);
		return;
	}
	strcpy(cfg->service_name, v);
}

/* ---- all together ----------------------------------------------------- */

static int disable(struct otel_config *cfg, const char *why)
{
	snprintf(cfg->disabled_reason, sizeof(cfg->disabled_reason), "%s",
		 why);
	return 0;
}

/*
 * OTEL_METRIC_EXPORT_INTERVAL and _TIMEOUT, and the temporality: podtap's
 * histograms are cumulative, which is the default preference.
 */
static void parse_metric_reader(struct otel_config *cfg, char *const *envp)
{
	static const char *const interval[] = { "OTEL_METRIC_EXPORT_INTERVAL" };
	static const char *const timeout[] = { "OTEL_METRIC_EXPORT_TIMEOUT" };
	static const char *const shutdown[] = { "PODTAP_OTLP_SHUTDOWN_TIMEOUT" };
	static const char temporality[] =
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
	const char *v = env_get(envp, temporality);

	ENV_U32(cfg, envp, interval, 1, OTEL_INT_MAX,
		OTEL_DEFAULT_METRIC_INTERVAL_MS, &cfg->export_interval_ms);
	ENV_U32(cfg, envp, timeout, 0, OTEL_INT_MAX,
		OTEL_DEFAULT_METRIC_TIMEOUT_MS, &cfg->export_timeout_ms);
	ENV_U32(cfg, envp, shutdown, 0, OTEL_INT_MAX,
		OTEL_DEFAULT_SHUTDOWN_TIMEOUT_MS, &cfg->shutdown_timeout_ms);
	/* An export that outlives the interval would make the next one late:
	 * the SDKs' readers cut it there too. */
	if (cfg->export_timeout_ms > cfg->export_interval_ms)
		cfg->export_timeout_ms = cfg->export_interval_ms;
	/* The export timeout bounds the whole export: its retries, and each
	 * request within it. */
	cfg->retry_max_elapsed_ms = cfg->export_timeout_ms;
	if (cfg->export_timeout_ms &&
	    (!cfg->timeout_ms || cfg->timeout_ms > cfg->export_timeout_ms))
		cfg->timeout_ms = cfg->export_timeout_ms;
	if (v && strcasecmp(v, "cumulative"))
		warn(cfg, "%s='%s' ignored: podtap sends cumulative sums and histograms",
		     temporality, v);
}

/* What both signals read, by the signal's own rules (struct signal_vars). */
static int config_for(struct otel_config *cfg, const struct signal_vars *sig,
		      char *const *envp, char *err, size_t err_size)
{
	const char *const endpoints[] = { sig->endpoint,
					  "OTEL_EXPORTER_OTLP_ENDPOINT" };
	char why[OTEL_MSG_MAX];
	const char *url, *var;
	bool otlp;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (err_size)
		err[0] = '\0';
	if (sdk_disabled(cfg, envp)) {
		snprintf(why, sizeof(why), "%s off: OTEL_SDK_DISABLED is true",
			 sig->what);
		return disable(cfg, why);
	}
	if (exporter_none(cfg, sig, envp, &otlp)) {
		snprintf(why, sizeof(why), "%s off: %s is none", sig->what,
			 sig->exporter);
		return disable(cfg, why);
	}
	url = env_first(envp, endpoints, ARRAY_SIZE(endpoints), &var);
	if (url && var == endpoints[1] && !sig->on_by_default && !otlp)
		url = NULL;
	if (!url) {
		if (sig->on_by_default)
			snprintf(why, sizeof(why),
				 "%s off: no OTLP endpoint (set OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://collector:4318)",
				 sig->what);
		else
			snprintf(why, sizeof(why),
				 "OTLP %s push off: set %s, or %s=otlp beside OTEL_EXPORTER_OTLP_ENDPOINT",
				 sig->what, sig->endpoint, sig->exporter);
		return disable(cfg, why);
	}
	ret = parse_protocol(cfg, sig, envp, err, err_size);
	if (ret)
		return ret;
	ret = resolve_endpoint(cfg, sig, var, url, var == endpoints[0], err,
			       err_size);
	if (ret)
		return ret;
	parse_headers(cfg, sig, envp);
	parse_compression(cfg, sig, envp);
	parse_timeout(cfg, sig, envp);
	parse_service_name(cfg, envp);
	parse_resource_attrs(cfg, envp);
	cfg->enabled = true;
	return 0;
}

int otel_config_from_env(struct otel_config *cfg, char *const *envp,
			 char *err, size_t err_size)
{
	int ret = config_for(cfg, &traces_vars, envp, err, err_size);

	if (!ret && cfg->enabled)
		parse_batching(cfg, envp);
	return ret;
}

int otel_metrics_config_from_env(struct otel_config *cfg, char *const *envp,
				 char *err, size_t err_size)
{
	int ret = config_for(cfg, &metrics_vars, envp, err, err_size);

	if (!ret && cfg->enabled)
		parse_metric_reader(cfg, envp);
	return ret;
}
