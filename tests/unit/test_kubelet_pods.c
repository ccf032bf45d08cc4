// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kubelet PodList parser: a realistic list (tests/fixtures/
 * kubelet-pods.json: Deployment, StatefulSet, DaemonSet, Job, bare,
 * static, pending and hand-made-ReplicaSet pods, init and sidecar
 * containers) read exactly; odd and missing fields; malformed, deep,
 * huge and mutated input. Run from the repository root. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "k8s/kubelet_pods.h"

#define FIXTURE "tests/fixtures/kubelet-pods.json"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f) {
		fprintf(stderr, "  cannot open %s (run from the repository root)\n",
			path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static const struct kubelet_pod *pod_named(const struct kubelet_pod_list *l,
					   const char *name)
{
	for (size_t i = 0; i < l->npods; i++)
		if (!strcmp(l->pods[i].name, name))
			return &l->pods[i];
	return NULL;
}

/* "kind:name:id:runtime" of container i, or "" past the end. */
static const char *container(const struct kubelet_pod *p, size_t i)
{
	static const char *const kinds[] = { "c", "init", "eph" };
	static char buf[512];

	if (i >= p->ncontainers)
		return "";
	snprintf(buf, sizeof(buf), "%s:%s:%s:%s", kinds[p->containers[i].kind],
		 p->containers[i].name, p->containers[i].id,
		 p->containers[i].runtime);
	return buf;
}

#define CHECK_OWNER(p, kind, name, dep, sts, ds)                             \
	do {                                                                 \
		CHECK_STR((p)->owner_kind, kind);                            \
		CHECK_STR((p)->owner_name, name);                            \
		CHECK_STR((p)->deployment, dep);                             \
		CHECK_STR((p)->statefulset, sts);                            \
		CHECK_STR((p)->daemonset, ds);                               \
	} while (0)

#define LABEL(p, k) (kubelet_pod_label((p), (k)) ? kubelet_pod_label((p), (k)) : "(none)")

/* ids in the fixture: sha256 of a name, as made up for it */
#define ID_WEB_SQL "25a1b5365334ba20dffddf2606519305630f3be0e63fdc06210a746122f49b97"
#define ID_WEB "84e0e502d968b4599ebdbe83e9777f720973638828c621ccf8167299a842f20d"
#define ID_MIGRATE "d5a312b7b5832f62ebb4542c04f4cbc17362d745a8c7163b6cceb8afd5da9c03"
#define ID_LOGS "f78eec8f7be8e02ac8bb73a2bfe9cb9c9f43da4a1e75245a131aecb7f913bc5d"
#define ID_PG "d80dc0a202c84e8fa4dcb3023143dff30cb5d99dae8c4731d84dab05aab52efb"
#define ID_FB "5f3731b52ad0fb2f820b91495eb9961aebcbbc79d5881e5a26a382e694b9ccc0"
#define ID_FB_GKE "970f5cc950e98721368fb24ad63aa749081bdbafca17eba41a8f588d6b63f683"
#define ID_DBG "22879e7c4d1c3a6b431e68c9a4e9831710e0b9ec6250dc205f0e8bc40aec6d44"
#define ID_KP "5147a6de6c26ca2472e0b20e803a1ba7fe6643775294aa714b6263bf176c37d1"
#define ID_REP "ca27e538f3b183aad14e8076310781edf50ef2b2e2cf546dbe8751ed6bf4daad"
#define ID_LEGACY "c49fea7425fa7f8699897a97c159c6690267d9003bb78c53fafa8fc15c325d84"

static void test_fixture(void)
{
	struct kubelet_pod_list l;
	const struct kubelet_pod *p;
	char err[256] = "";
	size_t len = 0;
	char *json = read_file(FIXTURE, &len);

	CHECK(json != NULL);
	if (!json)
		return;
	CHECK_INT(kubelet_pods_parse(json, len, &l, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_INT(l.npods, 8);
	CHECK_INT(l.skipped, 0);

	/* A Deployment's pod, through its ReplicaSet; two containers, a
	 * finished init container and a sidecar (restartPolicy: Always). */
	p = pod_named(&l, "web-7c9d8f6b5-x2x9q");
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->uid, "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
		CHECK_STR(p->namespace, "shop");
		CHECK_OWNER(p, "ReplicaSet", "web-7c9d8f6b5", "web", "", "");
		CHECK_INT(p->nlabels, 3);
		CHECK_STR(LABEL(p, "app"), "web");
		CHECK_STR(LABEL(p, "pod-template-hash"), "7c9d8f6b5");
		CHECK_STR(LABEL(p, "app.kubernetes.io/part-of"), "shop");
		CHECK_STR(LABEL(p, "run"), "(none)");
		CHECK_INT(p->ncontainers, 4);
		/* spec order; ids from statuses listed in another order */
		CHECK_STR(container(p, 0), "c:web:" ID_WEB ":containerd");
		CHECK_STR(container(p, 1),
			  "c:cloud-sql-proxy:" ID_WEB_SQL ":containerd");
		CHECK_STR(container(p, 2), "init:migrate:" ID_MIGRATE ":containerd");
		CHECK_STR(container(p, 3), "init:log-shipper:" ID_LOGS ":containerd");
	}
	p = pod_named(&l, "postgres-0");
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->uid, "b7e4d1a9-2c3f-4e5d-9a8b-7c6d5e4f3a2b");
		CHECK_STR(p->namespace, "data");
		CHECK_OWNER(p, "StatefulSet", "postgres", "", "postgres", "");
		CHECK_INT(p->nlabels, 4);
		CHECK_STR(LABEL(p, "statefulset.kubernetes.io/pod-name"),
			  "postgres-0");
		CHECK_STR(LABEL(p, "apps.kubernetes.io/pod-index"), "0");
		CHECK_INT(p->ncontainers, 1);
		CHECK_STR(container(p, 0), "c:postgres:" ID_PG ":containerd");
	}
	p = pod_named(&l, "fluentbit-gke-8xk2p");
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->namespace, "kube-system");
		CHECK_STR(p->uid, "c0ffee00-1234-4abc-8def-0123456789ab");
		CHECK_OWNER(p, "DaemonSet", "fluentbit-gke", "", "",
			    "fluentbit-gke");
		CHECK_STR(LABEL(p, "pod-template-generation"), "3");
		CHECK_INT(p->ncontainers, 2);
		CHECK_STR(container(p, 0), "c:fluentbit:" ID_FB ":containerd");
		CHECK_STR(container(p, 1), "c:fluentbit-gke:" ID_FB_GKE ":containerd");
	}
	p = pod_named(&l, "debug-shell");
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->namespace, "default");
		CHECK_OWNER(p, "", "", "", "", "");
		CHECK_INT(p->nlabels, 1);
		CHECK_STR(container(p, 0), "c:shell:" ID_DBG ":containerd");
	}
	/* A static pod: its UID is the manifest's hash, its owner the Node. */
	p = pod_named(&l, "kube-proxy-gke-prod-pool-1-4c1e2d3f-x7k2");
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->uid, "a3f5c7e9b1d2046f8e0a2c4b6d8f0e1a");
		CHECK_OWNER(p, "Node", "gke-prod-pool-1-4c1e2d3f-x7k2", "", "",
			    "");
		CHECK_STR(container(p, 0), "c:kube-proxy:" ID_KP ":containerd");
	}
	p = pod_named(&l, "report-28463520-7xk2p");
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->namespace, "batch");
		CHECK_OWNER(p, "Job", "report-28463520", "", "", "");
		CHECK_STR(LABEL(p, "batch.kubernetes.io/job-name"),
			  "report-28463520");
		CHECK_STR(container(p, 0), "c:report:" ID_REP ":containerd");
	}
	/* Pending: no container id yet; dashes in the Deployment's name. */
	p = pod_named(&l, "my-app-v2-5d4f9c8b7f-abcde");
	CHECK(p != NULL);
	if (p) {
		CHECK_OWNER(p, "ReplicaSet", "my-app-v2-5d4f9c8b7f", "my-app-v2",
			    "", "");
		CHECK_INT(p->ncontainers, 1);
		CHECK_STR(container(p, 0), "c:app::");
	}
	/* A ReplicaSet made by hand: its pods have no pod-template-hash. */
	p = pod_named(&l, "legacy-rs-q8w7e");
	CHECK(p != NULL);
	if (p) {
		CHECK_OWNER(p, "ReplicaSet", "legacy-rs", "", "", "");
		CHECK_STR(container(p, 0), "c:legacy:" ID_LEGACY ":containerd");
	}
	kubelet_pod_list_free(&l);
	free(json);
}

static int parse(const char *json, struct kubelet_pod_list *l, char *err)
{
	err[0] = '\0';
	return kubelet_pods_parse(json, strlen(json), l, err, 256);
}

#define META(uid, ns, name) \
	"{\"metadata\":{\"uid\":\"" uid "\",\"namespace\":\"" ns "\",\"name\":\"" name "\""

static void test_odd_fields(void)
{
	struct kubelet_pod_list l;
	char err[256];
	char ns64[65];
	char json[4096];

	memset(ns64, 'n', 64);
	ns64[64] = '\0';
	snprintf(json, sizeof(json),
		 "{\"kind\":\"PodList\",\"items\":["
		 /* skipped: no metadata, no uid, empty name, uid not a
		  * string, namespace of 64 characters, not an object */
		 "{\"spec\":{}},"
		 "{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"}},"
		 META("u1", "a", "") "}},"
		 "{\"metadata\":{\"uid\":7,\"namespace\":\"a\",\"name\":\"b\"}},"
		 META("u2", "%s", "b") "}},"
		 "42,"
		 /* kept: upper-case UID lowered, odd labels and owners */
		 META("0D8F1C2A-4B3E-4F5A-9C6D-7E8F9A0B1C2D", "ns", "p1") ","
		 "\"labels\":{\"a\":\"1\",\"n\":5,\"pod-template-hash\":\"abc\"},"
		 "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"x-abc\"},"
		 "{\"kind\":\"ReplicaSet\",\"name\":\"web-abc\",\"controller\":true}]},"
		 "\"status\":{\"containerStatuses\":["
		 "{\"name\":\"only-status\",\"containerID\":\"cri-o://ABCdef12\"},"
		 "{\"name\":\"bad-id\",\"containerID\":\"containerd://xyz\"},"
		 "{\"name\":\"no-scheme\",\"containerID\":\"abcdef\"},"
		 "{\"containerID\":\"docker://abc\"}]}},"
		 /* the hash label does not end the ReplicaSet's name */
		 META("u3", "ns", "p2") ","
		 "\"labels\":{\"pod-template-hash\":\"zzz\"},"
		 "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-abc\",\"controller\":true}]},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"c\"},{}],"
		 "\"ephemeralContainers\":[{\"name\":\"debugger\"}]},"
		 "\"status\":{\"ephemeralContainerStatuses\":[{\"name\":\"debugger\","
		 "\"containerID\":\"docker://0123abcd\"}]}},"
		 /* the whole name is the hash: no Deployment; controller false */
		 META("u4", "ns", "p3") ","
		 "\"labels\":{\"pod-template-hash\":\"abc\"},"
		 "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"s\",\"controller\":false},"
		 "{\"kind\":\"ReplicaSet\",\"name\":\"-abc\",\"controller\":true}]}}"
		 "]}",
		 ns64);
	CHECK_INT(parse(json, &l, err), 0);
	CHECK_STR(err, "");
	CHECK_INT(l.npods, 3);
	CHECK_INT(l.skipped, 6);
	if (l.npods == 3) {
		const struct kubelet_pod *p = &l.pods[0];

		CHECK_STR(p->uid, "0d8f1c2a-4b3e-4f5a-9c6d-7e8f9a0b1c2d");
		CHECK_INT(p->nlabels, 2);
		CHECK_STR(LABEL(p, "a"), "1");
		CHECK_STR(LABEL(p, "n"), "(none)");
		CHECK_OWNER(p, "ReplicaSet", "web-abc", "web", "", "");
		CHECK_INT(p->ncontainers, 3);
		CHECK_STR(container(p, 0), "c:only-status:ABCdef12:cri-o");
		CHECK_STR(container(p, 1), "c:bad-id::");
		CHECK_STR(container(p, 2), "c:no-scheme::");
		p = &l.pods[1];
		CHECK_OWNER(p, "ReplicaSet", "web-abc", "", "", "");
		CHECK_INT(p->ncontainers, 2);
		CHECK_STR(container(p, 0), "c:c::");
		CHECK_STR(container(p, 1), "eph:debugger:0123abcd:docker");
		p = &l.pods[2];
		CHECK_OWNER(p, "ReplicaSet", "-abc", "", "", "");
		CHECK_INT(p->ncontainers, 0);
	}
	kubelet_pod_list_free(&l);
}

static void test_empty_lists(void)
{
	static const char *const ok[] = {
		"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[]}",
		"{\"kind\":\"PodList\",\"items\":null}",
		"{\"kind\":\"PodList\"}",
		"{\"items\":[]}",
		"  {\"items\":[]}\n\n",
	};
	struct kubelet_pod_list l;
	char err[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_INT(parse(ok[i], &l, err), 0);
		CHECK_INT(l.npods, 0);
		CHECK_INT(l.skipped, 0);
		CHECK_STR(err, "");
		kubelet_pod_list_free(&l);
	}
}

static void test_malformed(void)
{
	static const struct {
		const char *json;
		const char *err;
	} bad[] = {
		{ "", "not JSON: unexpected end of input" },
		{ "{", "not JSON: unexpected end of input" },
		{ "{\"items\":[{\"metadata\":", "not JSON: unexpected end of input" },
		{ "<html>403</html>", "not JSON: " },
		{ "{\"items\":['x']}", "not JSON: " },
		{ "{\"items\":[]} {}", "not JSON: " },
		{ "{\"items\":[],}", "not JSON: " },
		{ "[]", "not a PodList: not a JSON object" },
		{ "\"PodList\"", "not a PodList: not a JSON object" },
		{ "{}", "not a PodList: no \"items\" array" },
		{ "{\"items\":null}", "not a PodList: no \"items\" array" },
		{ "{\"kind\":\"PodList\",\"items\":{}}", "not a PodList: no \"items\" array" },
		{ "{\"kind\":\"Status\",\"status\":\"Failure\",\"code\":403}",
		  "not a PodList: kind \"Status\"" },
	};
	struct kubelet_pod_list l;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&l, 0x5a, sizeof(l));
		CHECK_INT(parse(bad[i].json, &l, err), -1);
		if (strncmp(err, bad[i].err, strlen(bad[i].err))) {
			fprintf(stderr, "  %s: error \"%s\", want \"%s...\"\n",
				bad[i].json, err, bad[i].err);
			check_case_failed = 1;
		}
		CHECK(l.pods == NULL && l.npods == 0);
	}
	/* A NUL after the document is not JSON either. */
	CHECK_INT(kubelet_pods_parse("{\"items\":[]}\0{}", 15, &l, err, 256), -1);
	CHECK_STR(err, "not JSON: data after the document");
	CHECK_INT(kubelet_pods_parse("{\"items\":[]}\0", 13, &l, err, 256), -1);
	CHECK_STR(err, "not JSON: data after the document");
}

static void test_deep_and_huge(void)
{
	struct kubelet_pod_list l;
	char err[256];
	size_t n = 100000, big = 1u << 20, len;
	char *deep = malloc(n * 2 + 32), *json, *p;

	/* Nesting is bounded: no stack to exhaust. */
	CHECK(deep != NULL);
	if (!deep)
		return;
	p = deep + sprintf(deep, "{\"items\":");
	memset(p, '[', n);
	memset(p + n, ']', n);
	strcpy(p + 2 * n, "}");
	CHECK_INT(parse(deep, &l, err), -1);
	CHECK(strstr(err, "not JSON: ") == err);
	free(deep);

	/* Past the size limit: refused without being read. */
	json = malloc(KUBELET_PODLIST_MAX + 1);
	CHECK(json != NULL);
	if (json) {
		memset(json, ' ', KUBELET_PODLIST_MAX + 1);
		CHECK_INT(kubelet_pods_parse(json, KUBELET_PODLIST_MAX + 1, &l,
					     err, sizeof(err)), -1);
		CHECK(strstr(err, "more than the") != NULL);
		free(json);
	}

	/* 5000 pods, one with a 1 MiB label value. */
	json = malloc(5000 * 300 + big + 256);
	CHECK(json != NULL);
	if (!json)
		return;
	len = (size_t)sprintf(json, "{\"kind\":\"PodList\",\"items\":[");
	for (int i = 0; i < 5000; i++)
		len += (size_t)sprintf(json + len,
			"%s{\"metadata\":{\"uid\":\"00000000-0000-4000-8000-%012d\","
			"\"namespace\":\"ns%d\",\"name\":\"pod-%d\","
			"\"labels\":{\"i\":\"%d\"}},\"status\":{\"containerStatuses\":"
			"[{\"name\":\"c\",\"containerID\":\"containerd://%064x\"}]}}",
			i ? "," : "", i, i % 7, i, i, i);
	len += (size_t)sprintf(json + len, ",{\"metadata\":{\"uid\":\"big\","
			       "\"namespace\":\"n\",\"name\":\"big\",\"labels\":{\"v\":\"");
	memset(json + len, 'v', big);
	len += big;
	len += (size_t)sprintf(json + len, "\"}}}]}");
	CHECK_INT(kubelet_pods_parse(json, len, &l, err, sizeof(err)), 0);
	CHECK_INT(l.npods, 5001);
	if (l.npods == 5001) {
		CHECK_STR(l.pods[4321].uid, "00000000-0000-4000-8000-000000004321");
		CHECK_STR(l.pods[4321].namespace, "ns2");
		CHECK_STR(l.pods[4321].name, "pod-4321");
		CHECK_STR(LABEL(&l.pods[4321], "i"), "4321");
		CHECK_STR(container(&l.pods[4321], 0),
			  "c:c:00000000000000000000000000000000000000000000000000000000000010e1:containerd");
		CHECK_INT(strlen(LABEL(&l.pods[5000], "v")), big);
	}
	kubelet_pod_list_free(&l);
	free(json);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* The fixture cut short anywhere is an error; mutated, it parses or is
 * refused, and whatever it yields is well formed. */
static void test_truncated_and_mutated(void)
{
	struct kubelet_pod_list l;
	char err[256];
	size_t len = 0, errors = 0, parsed = 0, bad = 0;
	char *json = read_file(FIXTURE, &len), *m;

	CHECK(json != NULL);
	if (!json)
		return;
	for (int i = 0; i < 400; i++) {
		size_t cut = rng() % len;

		/* only whitespace may follow the closing brace */
		if (strspn(json + cut, " \n") == len - cut)
			continue;
		if (kubelet_pods_parse(json, cut, &l, err, sizeof(err)) == 0) {
			fprintf(stderr, "  cut at %zu parsed\n", cut);
			bad++;
			kubelet_pod_list_free(&l);
		}
	}
	CHECK_INT(bad, 0);
	m = malloc(len);
	CHECK(m != NULL);
	for (int i = 0; m && i < 3000; i++) {
		memcpy(m, json, len);
		for (uint64_t k = 1 + rng() % 4; k > 0; k--)
			m[rng() % len] = (char)(rng() % 256);
		if (kubelet_pods_parse(m, len, &l, err, sizeof(err))) {
			errors++;
			continue;
		}
		parsed++;
		for (size_t p = 0; p < l.npods; p++)
			if (!l.pods[p].uid[0] || !l.pods[p].name[0] ||
			    !l.pods[p].namespace[0] || l.pods[p].ncontainers > 8)
				bad++;
		kubelet_pod_list_free(&l);
	}
	CHECK_INT(bad, 0);
	CHECK(parsed > 100 && errors > 100); /* both paths are reached */
	free(m);
	free(json);
}

int main(void)
{
	RUN(test_fixture);
	RUN(test_odd_fields);
	RUN(test_empty_lists);
	RUN(test_malformed);
	RUN(test_deep_and_huge);
	RUN(test_truncated_and_mutated);
	return check_summary("kubelet_pods");
}
