// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/cgroup_path.h"
#include "check.h"

#define UID "0d8f1c2a-4b3e-4f5a-9c6d-7e8f9a0b1c2d"
#define UID_ "0d8f1c2a_4b3e_4f5a_9c6d_7e8f9a0b1c2d" /* systemd spelling */
#define CID "4f1d7e2b9a8c6d5e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"

static struct cgroup_pod_ref ref;

/* Parses `path` into the global `ref`; on failure `ref` holds a marker so
 * a test can see that nothing was written. */
static bool parse(const char *path)
{
	memset(&ref, 'X', sizeof(ref));
	ref.pod_uid[POD_UID_LEN - 1] = '\0';
	ref.container_id[CONTAINER_ID_MAX - 1] = '\0';
	ref.runtime[sizeof(ref.runtime) - 1] = '\0';
	return cgroup_path_parse(path, &ref);
}

#define CHECK_REF(path, uid, cid, rt)                                        \
	do {                                                                 \
		CHECK(parse(path));                                          \
		CHECK_STR(ref.pod_uid, uid);                                 \
		CHECK_STR(ref.container_id, cid);                            \
		CHECK_STR(ref.runtime, rt);                                  \
	} while (0)

#define CHECK_NOT_POD(path)                                                  \
	do {                                                                 \
		CHECK(!parse(path));                                         \
		CHECK_INT(ref.pod_uid[0], 'X');                              \
	} while (0)

static void test_systemd_driver(void)
{
	CHECK_REF("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod" UID_ ".slice/"
		  "cri-containerd-" CID ".scope",
		  UID, CID, "containerd");
	CHECK_REF("/kubepods.slice/kubepods-besteffort.slice/"
		  "kubepods-besteffort-pod" UID_ ".slice/crio-" CID ".scope",
		  UID, CID, "cri-o");
	/* guaranteed pods sit right under kubepods.slice */
	CHECK_REF("/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" CID
		  ".scope",
		  UID, CID, "docker");
	/* the pod's own cgroup */
	CHECK_REF("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod" UID_ ".slice",
		  UID, "", "");
	CHECK_REF("/kubepods.slice/kubepods-pod" UID_ ".slice/", UID, "", "");
	/* CRI-O's conmon lives in the pod, it is not a container */
	CHECK_REF("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod" UID_ ".slice/crio-conmon-" CID
		  ".scope",
		  UID, "", "cri-o");
	/* upper-case UIDs are lowered; container ids are kept as written */
	CHECK_REF("/kubepods.slice/kubepods-pod"
		  "0D8F1C2A_4B3E_4F5A_9C6D_7E8F9A0B1C2D.slice/docker-ABC123.scope",
		  UID, "ABC123", "docker");
}

static void test_cgroupfs_driver(void)
{
	CHECK_REF("/kubepods/burstable/pod" UID "/" CID, UID, CID, "");
	CHECK_REF("/kubepods/besteffort/pod" UID "/" CID, UID, CID, "");
	CHECK_REF("/kubepods/pod" UID "/" CID, UID, CID, "");
	CHECK_REF("/kubepods/pod" UID, UID, "", "");
	CHECK_REF("/kubepods/burstable/pod" UID "/", UID, "", "");
	/* CRI-O with cgroupfs: no ".scope" */
	CHECK_REF("/kubepods/burstable/pod" UID "/crio-" CID, UID, CID,
		  "cri-o");
	CHECK_REF("/kubepods/pod" UID "/crio-conmon-" CID, UID, "", "cri-o");
	/* cgroup v1 paths can come without the leading slash */
	CHECK_REF("kubepods/pod" UID "/" CID, UID, CID, "");
	CHECK_REF("//kubepods//pod" UID "//abc", UID, "abc", "");
}

static void test_prefixes_and_subcgroups(void)
{
	/* kubelet with its own cgroup root (kind, some installers) */
	CHECK_REF("/kubelet.slice/kubelet-kubepods.slice/"
		  "kubelet-kubepods-besteffort.slice/"
		  "kubelet-kubepods-besteffort-pod" UID_ ".slice/"
		  "cri-containerd-" CID ".scope",
		  UID, CID, "containerd");
	CHECK_REF("/kubelet.slice/kubelet-kubepods.slice/"
		  "kubelet-kubepods-pod" UID_ ".slice",
		  UID, "", "");
	CHECK_REF("/kubelet/kubepods/burstable/pod" UID "/" CID, UID, CID, "");
	/* a node inside a container */
	CHECK_REF("/system.slice/docker-" CID ".scope/kubepods.slice/"
		  "kubepods-pod" UID_ ".slice/cri-containerd-abc.scope",
		  UID, "abc", "containerd");
	/* sub-cgroups below the container still belong to it */
	CHECK_REF("/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod" UID_ ".slice/"
		  "cri-containerd-" CID ".scope/init",
		  UID, CID, "containerd");
	CHECK_REF("/kubepods/pod" UID "/" CID "/a/b/c", UID, CID, "");
	/* the first kubepods component that reads as a pod wins */
	CHECK_REF("/kubepods/nope/kubepods/pod" UID "/abc", UID, "abc", "");
	CHECK_REF("/kubepods/pod" UID "/abc/kubepods/pod"
		  "11111111-2222-3333-4444-555555555555/def",
		  UID, "abc", "");
}

static void test_not_containers(void)
{
	char id[130], path[256];

	/* a child that is not a container id leaves us at the pod */
	CHECK_REF("/kubepods/pod" UID "/notanid", UID, "", "");
	CHECK_REF("/kubepods.slice/kubepods-pod" UID_ ".slice/"
		  "cri-containerd-xyz.scope",
		  UID, "", "");
	CHECK_REF("/kubepods.slice/kubepods-pod" UID_ ".slice/"
		  "cri-containerd-.scope",
		  UID, "", "");
	CHECK_REF("/kubepods.slice/kubepods-pod" UID_ ".slice/abc.scope", UID,
		  "", "");
	CHECK_REF("/kubepods.slice/kubepods-pod" UID_ ".slice/"
		  "crio-conmon-xyz.scope",
		  UID, "", "");
	/* 128 hex chars fit, 129 do not */
	memset(id, 'a', 129);
	id[128] = '\0';
	snprintf(path, sizeof(path), "/kubepods/pod" UID "/%s", id);
	CHECK_REF(path, UID, id, "");
	id[128] = 'a';
	id[129] = '\0';
	snprintf(path, sizeof(path), "/kubepods/pod" UID "/%s", id);
	CHECK_REF(path, UID, "", "");
}

static void test_not_pods(void)
{
	CHECK_NOT_POD("");
	CHECK_NOT_POD("/");
	CHECK_NOT_POD("/system.slice/containerd.service");
	CHECK_NOT_POD("/user.slice/user-1000.slice/session-2.scope");
	CHECK_NOT_POD("/kubepods.slice");
	CHECK_NOT_POD("/kubepods.slice/");
	CHECK_NOT_POD("/kubepods.slice/kubepods-burstable.slice");
	CHECK_NOT_POD("/kubepods");
	CHECK_NOT_POD("/kubepods/besteffort");
	CHECK_NOT_POD("/kubepods/guaranteed/pod" UID);
	CHECK_NOT_POD("/notkubepods/pod" UID "/abc");
	CHECK_NOT_POD("/kubepods.slice.d/kubepods-pod" UID_ ".slice");
	CHECK_NOT_POD("/kubepods/kubepods-pod" UID_ ".slice");
	/* malformed UIDs */
	CHECK_NOT_POD("/kubepods/pod0d8f1c2a-4b3e-4f5a-9c6d-7e8f9a0b1c2");
	CHECK_NOT_POD("/kubepods/pod0d8f1c2a-4b3e-4f5a-9c6d-7e8f9a0b1c2dd");
	CHECK_NOT_POD("/kubepods/pod0d8f1c2g-4b3e-4f5a-9c6d-7e8f9a0b1c2d");
	CHECK_NOT_POD("/kubepods/pod0d8f1c2a4-b3e-4f5a-9c6d-7e8f9a0b1c2d");
	CHECK_NOT_POD("/kubepods/pod0d8f1c2a+4b3e+4f5a+9c6d+7e8f9a0b1c2d");
	CHECK_NOT_POD("/kubepods/" UID);
	CHECK_NOT_POD("/kubepods/burstable/Pod" UID);
	/* static pods' UIDs are 32-hex manifest hashes: anything else is not */
	CHECK_NOT_POD("/kubepods/pod0d8f1c2a4b3e4f5a9c6d7e8f9a0b1c2");
	CHECK_NOT_POD("/kubepods/pod0d8f1c2a4b3e4f5a9c6d7e8f9a0b1c2dz");
	/* systemd levels must name their parent */
	CHECK_NOT_POD("/kubepods.slice/kubepods-besteffort.slice/"
		      "kubepods-burstable-pod" UID_ ".slice/crio-abc.scope");
	CHECK_NOT_POD("/kubepods.slice/kubepods-burstable-pod" UID_ ".slice");
	CHECK_NOT_POD("/kubepods.slice/kubepods-pod" UID_);
	CHECK_NOT_POD("/kubepods.slice/kubepods-pod" UID_ ".scope");
	CHECK_NOT_POD("/kubepods.slice/kubepods-.slice/kubepods--pod" UID_
		      ".slice");
	CHECK_NOT_POD("/kubepods.slice/kubepods.slice");
}

/* The pod's own cgroup is the prefix pod_path_len long. */
#define CHECK_POD_PATH(path, pod_path)                                       \
	do {                                                                 \
		CHECK(parse(path));                                          \
		CHECK_INT(ref.pod_path_len, strlen(pod_path));               \
		CHECK(!strncmp(path, pod_path, strlen(pod_path)));           \
	} while (0)

static void test_pod_path(void)
{
	CHECK_POD_PATH("/kubepods.slice/kubepods-burstable.slice/"
		       "kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID
		       ".scope",
		       "/kubepods.slice/kubepods-burstable.slice/"
		       "kubepods-burstable-pod" UID_ ".slice");
	CHECK_POD_PATH("/kubepods.slice/kubepods-pod" UID_ ".slice",
		       "/kubepods.slice/kubepods-pod" UID_ ".slice");
	CHECK_POD_PATH("/kubepods.slice/kubepods-pod" UID_ ".slice/",
		       "/kubepods.slice/kubepods-pod" UID_ ".slice");
	CHECK_POD_PATH("//kubepods//pod" UID "//abc", "//kubepods//pod" UID);
	CHECK_POD_PATH("/kubepods/pod" UID "/abc/kubepods/pod"
		       "11111111-2222-3333-4444-555555555555/def",
		       "/kubepods/pod" UID);
	CHECK_POD_PATH("/system.slice/docker-" CID ".scope/kubepods/besteffort/"
		       "pod" UID "/" CID "/init",
		       "/system.slice/docker-" CID ".scope/kubepods/besteffort/"
		       "pod" UID);
}

/*
 * /proc/PID/cgroup as real nodes write it; each line is
 * "hierarchy-id:controllers:path" and every hierarchy that names a pod
 * must give the same pod and container. With cgroup v1 each controller
 * has its own line ("cpu,cpuacct", "memory", "name=systemd"); cgroup v2
 * has the one "0::" line; hybrid nodes have both.
 */
static const struct {
	const char *what;
	const char *text;
	const char *uid, *cid, *runtime;
	int pod_lines; /* lines that name the pod */
} proc_files[] = {
	{ "GKE COS, cgroup v2, containerd, systemd driver",
	  "0::/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod" UID_ ".slice/cri-containerd-" CID ".scope\n",
	  UID, CID, "containerd", 1 },
	{ "GKE COS before 1.26, cgroup v1, containerd, cgroupfs driver",
	  "12:memory:/kubepods/burstable/pod" UID "/" CID "\n"
	  "11:cpu,cpuacct:/kubepods/burstable/pod" UID "/" CID "\n"
	  "10:pids:/kubepods/burstable/pod" UID "/" CID "\n"
	  "9:freezer:/kubepods/burstable/pod" UID "/" CID "\n"
	  "1:name=systemd:/kubepods/burstable/pod" UID "/" CID "\n"
	  "0::/system.slice/containerd.service\n",
	  UID, CID, "", 5 },
	{ "cgroup v1, docker, systemd driver, under cpu,cpuacct",
	  "11:cpu,cpuacct:/kubepods.slice/kubepods-besteffort.slice/"
	  "kubepods-besteffort-pod" UID_ ".slice/docker-" CID ".scope\n"
	  "4:memory:/kubepods.slice/kubepods-besteffort.slice/"
	  "kubepods-besteffort-pod" UID_ ".slice/docker-" CID ".scope\n"
	  "1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/"
	  "kubepods-besteffort-pod" UID_ ".slice/docker-" CID ".scope\n",
	  UID, CID, "docker", 3 },
	{ "cgroup v1, docker, cgroupfs driver (dockershim)",
	  "8:cpu,cpuacct:/kubepods/pod" UID "/" CID "\n"
	  "3:devices:/kubepods/pod" UID "/" CID "\n",
	  UID, CID, "", 2 },
	{ "hybrid, CRI-O, systemd driver: v1 controllers and the v2 line",
	  "13:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod" UID_ ".slice/crio-" CID ".scope\n"
	  "1:name=systemd:/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod" UID_ ".slice/crio-" CID ".scope\n"
	  "0::/kubepods.slice/kubepods-burstable.slice/"
	  "kubepods-burstable-pod" UID_ ".slice/crio-" CID ".scope\n",
	  UID, CID, "cri-o", 3 },
	{ "cgroup v2, CRI-O, cgroupfs driver, guaranteed pod",
	  "0::/kubepods/pod" UID "/crio-" CID "\n", UID, CID, "cri-o", 1 },
	{ "cgroup v2, kind node (nested: its own cgroup namespace root)",
	  "0::/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod"
	  UID_ ".slice/cri-containerd-" CID ".scope\n",
	  UID, CID, "containerd", 1 },
	{ "a systemd service on a v1 node",
	  "11:cpu,cpuacct:/system.slice/kubelet.service\n"
	  "1:name=systemd:/system.slice/kubelet.service\n",
	  "", "", "", 0 },
};

static void test_proc_files(void)
{
	for (size_t i = 0; i < sizeof(proc_files) / sizeof(proc_files[0]);
	     i++) {
		char text[2048], *line, *save;
		int pods = 0;

		snprintf(text, sizeof(text), "%s", proc_files[i].text);
		for (line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *path = strchr(line, ':');

			path = path ? strchr(path + 1, ':') : NULL;
			CHECK(path != NULL);
			if (!path || !parse(path + 1))
				continue;
			pods++;
			CHECK_STR(ref.pod_uid, proc_files[i].uid);
			CHECK_STR(ref.container_id, proc_files[i].cid);
			CHECK_STR(ref.runtime, proc_files[i].runtime);
		}
		if (pods != proc_files[i].pod_lines) {
			fprintf(stderr, "  %s: %d lines name the pod, want %d\n",
				proc_files[i].what, pods,
				proc_files[i].pod_lines);
			check_case_failed = 1;
		}
	}
}

static void test_static_pod(void)
{
	struct cgroup_pod_ref ref;

	/* the kubelet names a static pod by its manifest hash */
	CHECK(cgroup_path_parse("/kubepods/burstable/pod0D8F1c2a4b3e4f5a9c6d7e8f9a0b1c2d/"
				"3f1e9a", &ref));
	CHECK_STR(ref.pod_uid, "0d8f1c2a4b3e4f5a9c6d7e8f9a0b1c2d");
	CHECK_STR(ref.container_id, "3f1e9a");
	CHECK(cgroup_path_parse("/kubepods.slice/kubepods-burstable.slice/"
				"kubepods-burstable-pod0d8f1c2a4b3e4f5a9c6d7e8f9a0b1c2d.slice/"
				"cri-containerd-3f1e9a.scope", &ref));
	CHECK_STR(ref.pod_uid, "0d8f1c2a4b3e4f5a9c6d7e8f9a0b1c2d");
	CHECK_STR(ref.runtime, "containerd");
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Real shapes, mutated by random_path(). */
static const char *const seeds[] = {
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	".slice/cri-containerd-" CID ".scope",
	"/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-abc.scope",
	"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice"
	"/kubelet-kubepods-besteffort-pod" UID_ ".slice/docker-" CID ".scope/x",
	"/kubepods/burstable/pod" UID "/" CID,
	"/kubepods/pod" UID "/crio-abc",
};

static const char *const pieces[] = {
	"/", "//", "kubepods", ".slice", "-", "_", "pod", ("pod" UID),
	"burstable", "-besteffort.slice", "cri-containerd-", "crio-",
	"crio-conmon-", "docker-", ".scope", CID, "ABC", "g",
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One random edit of the NUL-terminated buf[cap]. */
static void mutate(char *buf, size_t cap)
{
	size_t len = strlen(buf), pos = len ? rng() % len : 0;
	const char *piece;

	switch (rng() % 4) {
	case 0: /* any byte but NUL */
		if (len)
			buf[pos] = (char)(1 + rng() % 255);
		break;
	case 1: /* cut */
		buf[pos] = '\0';
		break;
	case 2: /* delete a run */
		memmove(buf + pos, buf + pos + (len - pos) / 2 + 1,
			len - pos - (len - pos) / 2);
		break;
	default: /* insert a piece */
		piece = pieces[rng() % NELEMS(pieces)];
		if (len + strlen(piece) < cap) {
			memmove(buf + pos + strlen(piece), buf + pos,
				len - pos + 1);
			memcpy(buf + pos, piece, strlen(piece));
		}
		break;
	}
}

static void random_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", seeds[rng() % NELEMS(seeds)]);
	for (uint64_t n = rng() % 5; n > 0; n--)
		mutate(buf, cap);
}

static bool uid_ok(const char *uid)
{
	/* a static pod's manifest hash */
	if (strlen(uid) == 32)
		return strspn(uid, "0123456789abcdef") == 32;
	if (strlen(uid) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = uid[i];

		if (dash ? c != '-' : c == '\0' || !strchr("0123456789abcdef", c))
			return false;
	}
	return true;
}

static bool container_ok(const struct cgroup_pod_ref *r)
{
	size_t n = strnlen(r->container_id, CONTAINER_ID_MAX);

	return n < CONTAINER_ID_MAX &&
	       strspn(r->container_id, "0123456789abcdefABCDEF") == n;
}

static bool runtime_ok(const char *rt)
{
	return !strcmp(rt, "") || !strcmp(rt, "containerd") ||
	       !strcmp(rt, "cri-o") || !strcmp(rt, "docker");
}

static void test_fuzz(void)
{
	char path[1024];
	int pods = 0, containers = 0, bad = 0;

	for (int i = 0; i < 300000; i++) {
		random_path(path, sizeof(path));
		if (!parse(path))
			continue;
		pods++;
		containers += ref.container_id[0] != '\0';
		if (!uid_ok(ref.pod_uid) || !container_ok(&ref) ||
		    !runtime_ok(ref.runtime) ||
		    ref.pod_path_len > strlen(path) ||
		    (path[ref.pod_path_len] && path[ref.pod_path_len] != '/')) {
			fprintf(stderr, "  bad parse of \"%s\"\n", path);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
	CHECK(pods > 30000 && containers > 10000); /* the fuzz reaches both */
}

static void test_join(void)
{
	char out[64];

	/* podtap in the host's cgroup namespace: paths are the tree's. */
	CHECK(cgroup_path_join("", "/kubepods.slice/a.scope", out, sizeof(out)));
	CHECK_STR(out, "/kubepods.slice/a.scope");
	/* In a pod's namespace rooted at /k/p1/c1: a peer pod's container. */
	CHECK(cgroup_path_join("/k/p1/c1", "/../../p2/c2", out, sizeof(out)));
	CHECK_STR(out, "/k/p2/c2");
	CHECK(cgroup_path_join("/k/p1/c1", "/", out, sizeof(out)));
	CHECK_STR(out, "/k/p1/c1");
	CHECK(cgroup_path_join("/k", "/../", out, sizeof(out)));
	CHECK_STR(out, "/");
	CHECK(cgroup_path_join("/", "/./a//b/../c", out, sizeof(out)));
	CHECK_STR(out, "/a/c");
	/* Above the root, or too long: refused. */
	CHECK(!cgroup_path_join("/k", "/../..", out, sizeof(out)));
	CHECK(!cgroup_path_join("/k", "/0123456789012345678901234567890123456789"
				      "0123456789012345678901234567890123456789",
				out, sizeof(out)));
	CHECK(!cgroup_path_join("", "/", out, 1));
}

int main(void)
{
	RUN(test_join);
	RUN(test_static_pod);
	RUN(test_pod_path);
	RUN(test_proc_files);
	RUN(test_systemd_driver);
	RUN(test_cgroupfs_driver);
	RUN(test_prefixes_and_subcgroups);
	RUN(test_not_containers);
	RUN(test_not_pods);
	RUN(test_fuzz);
	return check_summary("cgroup_path");
}
