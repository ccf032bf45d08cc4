// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "k8s/kubelet.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/thread.h"
#include "lib/version.h"

/* Refreshes asked for by lookups of unknown pods: at most this often. */
#define MIN_INTERVAL_NS NSEC_PER_SEC
/* A kubelet on the node answers in milliseconds; these only bound a
 * broken one. The list of a full node is a few MiB. */
#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 20000L
/* A projected service-account token is about 1 KiB. */
#define TOKEN_MAX 16384
/* How long the thread waits on a transfer before looking at `stopping`
 * again when nothing wakes it. */
#define POLL_MS 1000

/* No state logged yet / the last request worked. */
#define STATE_NONE (-2)
#define STATE_OK (-1)

struct kubelet {
	char url[1024]; /* <base>/pods */
	char token_file[512];
	char ca_file[512];
	bool insecure;
	uint64_t refresh_ns;
	struct kubelet_cache *cache;

	/* the fetch thread's */
	pthread_t thread;
	bool thread_started;
	bool curl_ready;
	CURLM *multi;
	CURL *easy;
	char curl_err[CURL_ERROR_SIZE];
	char *body;
	size_t body_len, body_cap;
	bool too_large;
	int state;       /* STATE_* or the enum kubelet_error last logged */
	long state_code; /* its HTTP status */

	_Atomic bool stopping;
	_Atomic bool refresh_wanted;

	/* stats */
	_Atomic uint64_t requests;
	_Atomic uint64_t errors[KUBELET_ERR__COUNT];
};

const char *kubelet_error_name(enum kubelet_error e)
{
	static const char *const names[KUBELET_ERR__COUNT] = {
		[KUBELET_ERR_CONNECT] = "connect",
		[KUBELET_ERR_TIMEOUT] = "timeout",
		[KUBELET_ERR_TLS] = "tls",
		[KUBELET_ERR_UNAUTHORIZED] = "unauthorized",
		[KUBELET_ERR_FORBIDDEN] = "forbidden",
		[KUBELET_ERR_HTTP_STATUS] = "http_status",
		[KUBELET_ERR_TOO_LARGE] = "too_large",
		[KUBELET_ERR_PARSE] = "parse",
		[KUBELET_ERR_TOKEN] = "token",
		[KUBELET_ERR_OTHER] = "other",
	};

	return (unsigned int)e < KUBELET_ERR__COUNT ? names[e] : "unknown";
}

/* ---- logging state changes ------------------------------------------- */

static const char fallback[] =
	"pod names come from the pod log directory until it answers";

/* Logs a failure when it differs from the last state logged: a kubelet
 * that stays down is reported once, not at every refresh. */
static void fail(struct kubelet *k, enum kubelet_error e, long code,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail(struct kubelet *k, enum kubelet_error e, long code,
		 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	atomic_fetch_add(&k->errors[e], 1);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (k->state == (int)e && k->state_code == code) {
		log_debug("kubelet %s: %s", k->url, msg);
		return;
	}
	log_warn("kubelet %s: %s; %s", k->url, msg, fallback);
	k->state = (int)e;
	k->state_code = code;
}

static void succeed(struct kubelet *k, size_t npods, size_t skipped)
{
	if (k->state != STATE_OK)
		log_info("kubelet %s: %zu pods%s", k->url, npods,
			 k->state == STATE_NONE ? "" : " (answers again)");
	else
		log_debug("kubelet %s: %zu pods", k->url, npods);
	if (skipped)
		log_debug("kubelet %s: %zu items without uid, namespace or "
			  "name skipped", k->url, skipped);
	k->state = STATE_OK;
	k->state_code = 0;
}

/* ---- one request ------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct kubelet *k = ctx;
	size_t len = size * n;

	if (k->body_len + len > KUBELET_PODLIST_MAX) {
		k->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (k->body_len + len + 1 > k->body_cap) {
		size_t cap = k->body_cap ? k->body_cap : 65536;
		char *b;

		while (cap < k->body_len + len + 1)
			cap *= 2;
		b = realloc(k->body, cap);
		if (!b)
			return 0;
		k->body = b;
		k->body_cap = cap;
	}
	memcpy(k->body + k->body_len, data, len);
	k->body_len += len;
	return len;
}

/* The token, trailing newline and blanks cut. Returns 0, or -errno. */
static int read_token(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;
	int err = 0;

	if (!f)
		return -errno;
	n = fread(out, 1, size, f);
	if (ferror(f))
		err = -EIO;
	else if (n == size)
		err = -EFBIG;
	fclose(f);
	if (err)
		return err;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
			 out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	return n ? 0 : -ENODATA;
}

/* Runs the transfer set up on k->easy to its end, or until stop. */
static CURLcode transfer(struct kubelet *k)
{
	CURLcode res = CURLE_ABORTED_BY_CALLBACK;
	int running = 1, left;
	CURLMsg *msg;

	if (curl_multi_add_handle(k->multi, k->easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	while (running && !atomic_load(&k->stopping)) {
		if (curl_multi_perform(k->multi, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(k->multi, NULL, 0, POLL_MS, NULL);
	}
	while ((msg = curl_multi_info_read(k->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == k->easy)
			res = msg->data.result;
	curl_multi_remove_handle(k->multi, k->easy);
	return res;
}

static enum kubelet_error transfer_error(const struct kubelet *k, CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return KUBELET_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return KUBELET_ERR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return KUBELET_ERR_TLS;
	case CURLE_WRITE_ERROR:
		return k->too_large ? KUBELET_ERR_TOO_LARGE : KUBELET_ERR_OTHER;
	default:
		return KUBELET_ERR_OTHER;
	}
}

static void on_answer(struct kubelet *k, long code)
{
	struct kubelet_pod_list list;
	size_t npods, skipped;
	char err[256];

	switch (code) {
	case 200:
		break;
	case 401:
		fail(k, KUBELET_ERR_UNAUTHORIZED, code,
		     "401 Unauthorized: the token from %s was refused",
		     k->token_file[0] ? k->token_file : "(none sent)");
		return;
	case 403:
		fail(k, KUBELET_ERR_FORBIDDEN, code,
		     "403 Forbidden: the service account needs get on "
		     "nodes/proxy (RBAC)");
		return;
	default:
		fail(k, KUBELET_ERR_HTTP_STATUS, code, "HTTP status %ld", code);
		return;
	}
	if (kubelet_pods_parse(k->body ? k->body : "", k->body_len, &list, err,
			       sizeof(err))) {
		fail(k, KUBELET_ERR_PARSE, 0, "bad PodList: %s", err);
		return;
	}
	npods = list.npods;
	skipped = list.skipped;
	if (kubelet_cache_replace(k->cache, &list)) {
		kubelet_pod_list_free(&list);
		fail(k, KUBELET_ERR_OTHER, 0, "out of memory");
		return;
	}
	succeed(k, npods, skipped);
}

static void fetch(struct kubelet *k)
{
	static const char bearer[] = "Authorization: Bearer ";
	char header[sizeof(bearer) + TOKEN_MAX];
	struct curl_slist *headers = NULL, *h;
	long code = 0;
	CURLcode res;
	int err;

	k->body_len = 0;
	k->too_large = false;
	k->curl_err[0] = '\0';
	h = curl_slist_append(NULL, "Accept: application/json");
	if (h && k->token_file[0]) {
		strcpy(header, bearer);
		err = read_token(k->token_file, header + strlen(bearer),
				 TOKEN_MAX);
		if (err) {
			curl_slist_free_all(h);
			fail(k, KUBELET_ERR_TOKEN, 0,
			     "cannot read a token from %s: %s", k->token_file,
			     err == -EFBIG ? "too large" : err == -ENODATA
				     ? "empty" : strerror(-err));
			return;
		}
		headers = curl_slist_append(h, header);
		if (!headers)
			curl_slist_free_all(h);
	} else {
		headers = h;
	}
	if (!headers) {
		fail(k, KUBELET_ERR_OTHER, 0, "out of memory");
		return;
	}
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, headers);
	res = transfer(k);
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (atomic_load(&k->stopping))
		return;
	if (res != CURLE_OK) {
		fail(k, transfer_error(k, res), 0, "%s",
		     k->curl_err[0] ? k->curl_err : curl_easy_strerror(res));
		return;
	}
	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &code);
	on_answer(k, code);
}

/* ---- the thread ------------------------------------------------------- */

static void *fetch_main(void *arg)
{
	struct kubelet *k = arg;
	uint64_t last = 0, next = 0, due, now;

	while (!atomic_load(&k->stopping)) {
		now = monotonic_ns();
		due = next;
		if (atomic_load(&k->refresh_wanted) && last + MIN_INTERVAL_NS < due)
			due = last + MIN_INTERVAL_NS;
		if (now >= due) {
			atomic_store(&k->refresh_wanted, false);
			last = now;
			fetch(k);
			/* Counted once its outcome is in (the list replaced, or
			 * the error counted): a reader of both sees them agree. */
			if (!atomic_load(&k->stopping))
				atomic_fetch_add(&k->requests, 1);
			next = last + k->refresh_ns;
			continue;
		}
		/* Ended early by kubelet_cache's refresh requests and stop. */
		due = (due - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
		curl_multi_poll(k->multi, NULL, 0,
				due > INT_MAX ? INT_MAX : (int)due, NULL);
	}
	return NULL;
}

/* kubelet_refresh_fn: from the event loop, never blocks. */
static void want_refresh(void *ctx)
{
	struct kubelet *k = ctx;

	if (!atomic_exchange(&k->refresh_wanted, true))
		curl_multi_wakeup(k->multi);
}

static int curl_setup(struct kubelet *k)
{
	CURL *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -EIO;
	k->curl_ready = true;
	k->multi = curl_multi_init();
	k->easy = c = curl_easy_init();
	if (!k->multi || !c)
		return -ENOMEM;
	/* NOSIGNAL: no alarm() for DNS timeouts in a threaded program. An
	 * empty ACCEPT_ENCODING offers what this libcurl can decode. */
	if (curl_easy_setopt(c, CURLOPT_URL, k->url) ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "podtap/" PODTAP_VERSION) ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS) ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS) ||
	    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "") ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, k) ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, k->curl_err))
		return -EINVAL;
	if (k->ca_file[0] && curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file))
		return -EINVAL;
	if (k->insecure &&
	    (curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) ||
	     curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L)))
		return -EINVAL;
	return 0;
}

struct kubelet *kubelet_start(const struct kubelet_opts *o)
{
	struct kubelet *k = calloc(1, sizeof(*k));
	size_t n = strlen(o->url);
	int err = -ENOMEM;

	if (!k)
		goto fail;
	while (n > 0 && o->url[n - 1] == '/')
		n--;
	if (n + strlen("/pods") >= sizeof(k->url) ||
	    strlen(o->token_file) >= sizeof(k->token_file) ||
	    strlen(o->ca_file) >= sizeof(k->ca_file)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(k->url, sizeof(k->url), "%.*s/pods", (int)n, o->url);
	strcpy(k->token_file, o->token_file);
	strcpy(k->ca_file, o->ca_file);
	k->insecure = o->insecure_skip_verify;
	k->refresh_ns = (uint64_t)o->refresh_s * NSEC_PER_SEC;
	k->state = STATE_NONE;
	k->cache = kubelet_cache_new(want_refresh, k);
	if (!k->cache)
		goto fail;
	err = curl_setup(k);
	if (err)
		goto fail;
	err = thread_start(&k->thread, fetch_main, k, "podtap-kubelet");
	if (err)
		goto fail;
	k->thread_started = true;
	log_info("pod metadata from the kubelet at %s every %u s%s", k->url,
		 o->refresh_s,
		 k->insecure ? " (its certificate is not checked)" : "");
	return k;
fail:
	log_error("kubelet source: cannot start: %s", strerror(-err));
	kubelet_stop(k);
	return NULL;
}

void kubelet_stop(struct kubelet *k)
{
	if (!k)
		return;
	if (k->thread_started) {
		atomic_store(&k->stopping, true);
		curl_multi_wakeup(k->multi);
		pthread_join(k->thread, NULL);
	}
	curl_easy_cleanup(k->easy);
	curl_multi_cleanup(k->multi);
	if (k->curl_ready)
		curl_global_cleanup();
	kubelet_cache_free(k->cache);
	free(k->body);
	free(k);
}

struct kubelet_cache *kubelet_cache_of(struct kubelet *k)
{
	return k->cache;
}

void kubelet_get_stats(struct kubelet *k, struct kubelet_stats *out)
{
	out->requests = atomic_load(&k->requests);
	for (int i = 0; i < KUBELET_ERR__COUNT; i++)
		out->errors[i] = atomic_load(&k->errors[i]);
	out->pods = kubelet_cache_pods(k->cache);
}
