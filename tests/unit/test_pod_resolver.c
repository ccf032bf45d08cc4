// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pod resolver on fixture trees: directories in the shapes kubelets
 * give cgroups (GKE's containerd with the systemd driver, cgroupfs, CRI-O,
 * docker; a cgroup v1 controller hierarchy) and pod log directories, made
 * in a temp dir that stands for the cgroup root. A cgroup's id is its
 * directory's inode number, which the resolver finds by walking the tree
 * (the processes, pid 0 here, are "gone"). Then names from the kubelet's
 * list (kubelet_cache) over the log directory's, refresh requests, and
 * expiry: what is freed and when, and a pod made again under its old name.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "k8s/pod_resolver.h"
#include "pod_fixture.h"

#define SEC 1000000000ULL
#define TTL (300 * SEC)

static void setup(void)
{
	fixture_make();
}

static void teardown(void)
{
	fixture_remove();
}

#define UID1 "0d8f1c2a-4b3e-4f5a-9c6d-7e8f9a0b1c2d"
#define UID1_ "0d8f1c2a_4b3e_4f5a_9c6d_7e8f9a0b1c2d"
#define UID2 "11111111-2222-4333-8444-555555555555"
#define UID2_ "11111111_2222_4333_8444_555555555555"
#define UID3 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define UID3_ "aaaaaaaa_bbbb_4ccc_8ddd_eeeeeeeeeeee"
#define UID4 "99999999-8888-4777-8666-555555555555"
#define STATIC "a3f5c7e9b1d2046f8e0a2c4b6d8f0e1a"
#define CID1 "4f1d7e2b9a8c6d5e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"
#define CID2 "84e0e502d968b4599ebdbe83e9777f720973638828c621ccf8167299a842f20d"
#define CID3 "25a1b5365334ba20dffddf2606519305630f3be0e63fdc06210a746122f49b97"
#define CID4 "d80dc0a202c84e8fa4dcb3023143dff30cb5d99dae8c4731d84dab05aab52efb"
#define CID5 "5f3731b52ad0fb2f820b91495eb9961aebcbbc79d5881e5a26a382e694b9ccc0"
#define UID5 "55555555-5555-4555-8555-555555555555"
#define UID5_ "55555555_5555_4555_8555_555555555555"
#define UID6 "66666666-6666-4666-8666-666666666666"
#define UID6_ "66666666_6666_4666_8666_666666666666"

/* GKE: cgroup v2, containerd, systemd driver */
#define GKE_POD "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1_ ".slice"
#define GKE GKE_POD "/cri-containerd-" CID1 ".scope"
/* CRI-O, systemd driver, guaranteed */
#define CRIO "kubepods.slice/kubepods-pod" UID2_ ".slice/crio-" CID2 ".scope"
/* docker, systemd driver, best effort */
#define DOCKER "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID3_ ".slice/docker-" CID3 ".scope"
/* cgroupfs driver, containerd */
#define CGROUPFS "kubepods/burstable/pod" UID4 "/" CID4
/* a static pod, cgroupfs */
#define STATIC_POD "kubepods/burstable/pod" STATIC "/" CID5
#define SERVICE "system.slice/containerd.service"

static const struct workload *look(struct pod_resolver *r, const char *rel,
				   const char *comm, uint64_t now,
				   const char **uid)
{
	return pod_resolver_lookup(r, cgid(rel), 0, comm, now, uid);
}

#define CHECK_W(w, ns_, pod_, container_, service_)                          \
	do {                                                                 \
		CHECK_STR((w)->namespace, ns_);                              \
		CHECK_STR((w)->pod, pod_);                                   \
		CHECK_STR((w)->container, container_);                       \
		CHECK_STR((w)->service, service_);                           \
	} while (0)

#define CHECK_OWNERS(w, dep_, sts_, ds_)                                     \
	do {                                                                 \
		CHECK_STR((w)->deployment, dep_);                            \
		CHECK_STR((w)->statefulset, sts_);                           \
		CHECK_STR((w)->daemonset, ds_);                              \
	} while (0)

static void make_tree(void)
{
	mkdirs(GKE);
	mkdirs(CRIO);
	mkdirs(DOCKER);
	mkdirs(CGROUPFS);
	mkdirs(STATIC_POD);
	mkdirs(SERVICE);
	log_dir("shop", "web-7c9d8f6b5-x2x9q", UID1, "web");
	log_dir("data", "postgres-0", UID2, "postgres");
	log_dir("kube-system", "fluentbit-gke-8xk2p", UID3, "fluentbit");
	log_dir("default", "debug-shell", UID4, "shell");
	log_dir("kube-system", "kube-proxy-node-a", STATIC, "kube-proxy");
}

static void test_shapes(void)
{
	struct pod_resolver *r;
	const struct workload *w, *host;
	const char *uid;

	setup();
	make_tree();
	r = pod_resolver_new(logs, root, NULL);
	CHECK(r != NULL);
	if (!r)
		goto out;
	w = look(r, GKE, "gunicorn", SEC, &uid);
	CHECK(w->in_pod);
	CHECK_W(w, "shop", "web-7c9d8f6b5-x2x9q", "web", "web");
	CHECK_OWNERS(w, "", "", "");
	CHECK_STR(uid, UID1);
	w = look(r, CRIO, "postgres", SEC, &uid);
	CHECK_W(w, "data", "postgres-0", "postgres", "postgres");
	CHECK_STR(uid, UID2);
	w = look(r, DOCKER, "fluent-bit", SEC, &uid);
	CHECK_W(w, "kube-system", "fluentbit-gke-8xk2p", "fluentbit",
		"fluentbit");
	CHECK_STR(uid, UID3);
	w = look(r, CGROUPFS, "sh", SEC, &uid);
	CHECK_W(w, "default", "debug-shell", "shell", "shell");
	CHECK_STR(uid, UID4);
	w = look(r, STATIC_POD, "kube-proxy", SEC, &uid);
	CHECK_W(w, "kube-system", "kube-proxy-node-a", "kube-proxy",
		"kube-proxy");
	CHECK_STR(uid, STATIC);
	/* the pod's own cgroup: its one container */
	w = look(r, GKE_POD, "pause", SEC, &uid);
	CHECK_W(w, "shop", "web-7c9d8f6b5-x2x9q", "web", "web");
	/* not a pod: a host workload named by its comm */
	w = look(r, SERVICE, "containerd", SEC, &uid);
	CHECK(!w->in_pod);
	CHECK_W(w, "", "", "", "containerd");
	CHECK_STR(uid, "");
	/* another process of that cgroup has its own name, and the first
	 * keeps its workload (the cgroup remembers only the last comm) */
	host = w;
	w = look(r, SERVICE, "runc", SEC, &uid);
	CHECK_W(w, "", "", "", "runc");
	CHECK(look(r, SERVICE, "containerd", SEC, &uid) == host);
	/* a cgroup id that is nowhere */
	w = pod_resolver_lookup(r, 1, 0, "ghost", SEC, &uid);
	CHECK(!w->in_pod);
	CHECK_STR(w->service, "ghost");
	pod_resolver_free(r);
out:
	teardown();
}

/* A cgroup v1 hierarchy has the same shapes under each controller. */
static void test_cgroup_v1_tree(void)
{
	struct pod_resolver *r;
	const struct workload *w;
	const char *uid;
	char v1root[512];

	setup();
	mkdirs("cpu,cpuacct/kubepods/besteffort/pod" UID4 "/" CID4);
	mkdirs("cpu,cpuacct/kubepods.slice/kubepods-besteffort.slice/"
	       "kubepods-besteffort-pod" UID3_ ".slice/docker-" CID3 ".scope");
	log_dir("default", "debug-shell", UID4, "shell");
	log_dir("kube-system", "fluentbit-gke-8xk2p", UID3, "fluentbit");
	snprintf(v1root, sizeof(v1root), "%s/cpu,cpuacct", root);
	r = pod_resolver_new(logs, v1root, NULL);
	CHECK(r != NULL);
	if (r) {
		w = look(r, "cpu,cpuacct/kubepods/besteffort/pod" UID4 "/" CID4,
			 "sh", SEC, &uid);
		CHECK_W(w, "default", "debug-shell", "shell", "shell");
		CHECK_STR(uid, UID4);
		w = look(r, "cpu,cpuacct/kubepods.slice/kubepods-besteffort.slice/"
			 "kubepods-besteffort-pod" UID3_ ".slice/docker-" CID3 ".scope",
			 "fluent-bit", SEC, &uid);
		CHECK_W(w, "kube-system", "fluentbit-gke-8xk2p", "fluentbit",
			"fluentbit");
		pod_resolver_free(r);
	}
	teardown();
}

/* Names are sanitised when a workload is interned (sanitize.h): names
 * that differ only in bytes sanitising replaces are one workload. */
static void test_hostile_names(void)
{
	struct pod_resolver *r;
	const struct workload *w, *w2;
	const char *uid;

	setup();
	mkdirs(GKE);
	mkdirs(SERVICE);
	log_dir("shop", "web\x1b[2J\xff", UID1, "caf\xe9\xe2\x80\xae");
	r = pod_resolver_new(logs, root, NULL);
	CHECK(r != NULL);
	if (!r)
		goto out;
	w = look(r, GKE, "gunicorn", SEC, &uid);
	CHECK(w->in_pod);
	CHECK_W(w, "shop", "web\\u001b[2J\xef\xbf\xbd",
		"caf\xef\xbf\xbd\\u202e", "caf\xef\xbf\xbd\\u202e");
	w = look(r, SERVICE, "a\xff\n", SEC, &uid);
	w2 = look(r, SERVICE, "a\xfe\n", SEC, &uid);
	CHECK_W(w, "", "", "", "a\xef\xbf\xbd\\u000a");
	CHECK(w == w2);
	pod_resolver_free(r);
out:
	teardown();
}

/* --- expiry ------------------------------------------------------------- */

static const struct workload *released[16];
static int nreleased;

static void on_release(void *ctx, const struct workload *w)
{
	(void)ctx;
	if (nreleased < 16)
		released[nreleased] = w;
	nreleased++;
}

static void test_expiry(void)
{
	struct pod_resolver *r;
	const struct workload *web, *host, *pg, *w;
	const char *uid;
	uint64_t gke;

	setup();
	make_tree();
	nreleased = 0;
	r = pod_resolver_new(logs, root, NULL);
	CHECK(r != NULL);
	if (!r)
		goto out;
	web = look(r, GKE, "gunicorn", 10 * SEC, NULL);
	pg = look(r, CRIO, "postgres", 10 * SEC, NULL);
	host = look(r, SERVICE, "containerd", 20 * SEC, NULL);
	/* Live pods stay, however long unused; host workloads go once
	 * unused for the TTL, unless a live process holds them. */
	CHECK_INT(pod_resolver_expire(r, 10 * SEC + TTL - 1, TTL, on_release,
				      NULL), 0);
	CHECK_INT(pod_resolver_expire(r, 20 * SEC + TTL - 1, TTL, on_release,
				      NULL), 0);
	pod_resolver_hold(r, host);
	CHECK_INT(pod_resolver_expire(r, 20 * SEC + TTL, TTL, on_release,
				      NULL), 0);
	pod_resolver_unhold(r, host);
	CHECK_INT(pod_resolver_expire(r, 20 * SEC + TTL, TTL, on_release,
				      NULL), 1);
	CHECK_INT(nreleased, 1);
	CHECK(released[0] == host);
	/* Used again, the host workload is a new one. */
	w = look(r, SERVICE, "containerd", 501 * SEC, NULL);
	CHECK_W(w, "", "", "", "containerd");

	/* The GKE pod is deleted: its series go TTL after its last use. */
	w = look(r, GKE, "gunicorn", 500 * SEC, NULL);
	CHECK(w == web);
	gke = cgid(GKE);
	rmdirs(GKE, 2);
	nreleased = 0;
	CHECK_INT(pod_resolver_expire(r, 500 * SEC + TTL - 1, TTL, on_release,
				      NULL), 0);
	CHECK_INT(pod_resolver_expire(r, 500 * SEC + TTL, TTL, on_release,
				      NULL), 1);
	CHECK_INT(nreleased, 1);
	CHECK(released[0] == web);
	/* Seen again (a process left in a cgroup that is gone), it is
	 * resolved afresh: the tree no longer has it, so it is host. */
	w = pod_resolver_lookup(r, gke, 0, "gunicorn", 900 * SEC, &uid);
	CHECK(!w->in_pod);
	CHECK_W(w, "", "", "", "gunicorn");
	CHECK_STR(uid, "");
	/* postgres still runs */
	w = look(r, CRIO, "postgres", 900 * SEC, &uid);
	CHECK(w == pg);
	CHECK_STR(uid, UID2);
	pod_resolver_free(r);
out:
	teardown();
}

/* A StatefulSet's pod deleted and made again: same names, new UID. */
#define AGAIN1 "kubepods.slice/kubepods-pod" UID5_ ".slice/crio-" CID5 ".scope"
#define AGAIN2 "kubepods.slice/kubepods-pod" UID6_ ".slice/crio-" CID1 ".scope"

static void test_pod_made_again(void)
{
	struct pod_resolver *r;
	const struct workload *old, *w;
	const char *uid;

	setup();
	make_tree();
	/* Made up front: a file system here may reuse a removed directory's
	 * inode number (cgroup ids never come back). */
	mkdirs(AGAIN1);
	mkdirs(AGAIN2);
	nreleased = 0;
	r = pod_resolver_new(logs, root, NULL);
	CHECK(r != NULL);
	if (!r)
		goto out;
	old = look(r, CRIO, "postgres", 10 * SEC, &uid);
	CHECK_STR(uid, UID2);
	rmdirs(CRIO, 2);
	/* Within the TTL the new pod shares the workload (and the series),
	 * with its own UID; its cgroup keeps the workload alive. */
	log_dir("data", "postgres-0", UID5, "postgres");
	w = look(r, AGAIN1, "postgres", 20 * SEC, &uid);
	CHECK(w == old);
	CHECK_STR(uid, UID5);
	CHECK_INT(pod_resolver_expire(r, 20 * SEC + TTL, TTL, on_release,
				      NULL), 0);
	/* Gone too, and expired: a third pod of the name starts afresh. */
	rmdirs(AGAIN1, 2);
	CHECK_INT(pod_resolver_expire(r, 20 * SEC + TTL, TTL, on_release,
				      NULL), 1);
	CHECK(nreleased == 1 && released[0] == old);
	log_dir("data", "postgres-0", UID6, "postgres");
	w = look(r, AGAIN2, "postgres", 400 * SEC, &uid);
	CHECK_W(w, "data", "postgres-0", "postgres", "postgres");
	CHECK_STR(uid, UID6);
	pod_resolver_free(r);
out:
	teardown();
}

/* --- names from the kubelet --------------------------------------------- */

static int refreshes;

static void count_refresh(void *ctx)
{
	(void)ctx;
	refreshes++;
}

static void set_list(struct kubelet_cache *c, const char *json)
{
	struct kubelet_pod_list l;
	char err[256];

	CHECK_INT(kubelet_pods_parse(json, strlen(json), &l, err, sizeof(err)),
		  0);
	CHECK_INT(kubelet_cache_replace(c, &l), 0);
}

#define POD(uid, ns, name, owner_kind, owner, hash, containers)              \
	"{\"metadata\":{\"uid\":\"" uid "\",\"namespace\":\"" ns "\","       \
	"\"name\":\"" name "\",\"labels\":{\"pod-template-hash\":\"" hash "\"}," \
	"\"ownerReferences\":[{\"kind\":\"" owner_kind "\",\"name\":\"" owner "\"," \
	"\"controller\":true}]},\"status\":{\"containerStatuses\":[" containers "]}}"
#define C(name, id) "{\"name\":\"" name "\",\"containerID\":\"containerd://" id "\"}"

static void test_kubelet_names(void)
{
	struct kubelet_cache *c = kubelet_cache_new(count_refresh, NULL);
	struct pod_resolver *r;
	const struct workload *from_dir, *w, *pg;
	const char *uid;

	setup();
	make_tree();
	refreshes = 0;
	nreleased = 0;
	r = pod_resolver_new(logs, root, c);
	CHECK(r != NULL);
	if (!r)
		goto out;
	/* No list yet (kubelet down): the log directory's names, and no
	 * refresh asked (the fetcher retries on its own). */
	from_dir = look(r, GKE, "gunicorn", SEC, NULL);
	CHECK_W(from_dir, "shop", "web-7c9d8f6b5-x2x9q", "web", "web");
	CHECK_OWNERS(from_dir, "", "", "");
	CHECK_INT(refreshes, 0);

	/* A list arrives: the next exchange is named by it. */
	set_list(c, "{\"kind\":\"PodList\",\"items\":["
		 POD(UID1, "shop", "web-7c9d8f6b5-x2x9q", "ReplicaSet",
		     "web-7c9d8f6b5", "7c9d8f6b5", C("web", CID1) "," C("proxy", CID5)) ","
		 POD(UID2, "data", "postgres-0", "StatefulSet", "postgres", "",
		     C("postgres", CID2)) ","
		 POD(UID3, "kube-system", "fluentbit-gke-8xk2p", "DaemonSet",
		     "fluentbit-gke", "", C("fluentbit", CID3)) "]}");
	w = look(r, GKE, "gunicorn", 2 * SEC, &uid);
	CHECK(w != from_dir);
	CHECK_W(w, "shop", "web-7c9d8f6b5-x2x9q", "web", "web");
	CHECK_OWNERS(w, "web", "", "");
	CHECK_STR(uid, UID1);
	pg = look(r, CRIO, "postgres", 2 * SEC, NULL);
	CHECK_OWNERS(pg, "", "postgres", "");
	w = look(r, DOCKER, "fluent-bit", 2 * SEC, NULL);
	CHECK_W(w, "kube-system", "fluentbit-gke-8xk2p", "fluentbit",
		"fluentbit");
	CHECK_OWNERS(w, "", "", "fluentbit-gke");
	CHECK_INT(refreshes, 0);
	/* The log directory's workload is superseded: it goes once unused
	 * for the TTL although the pod lives on; the others stay. */
	CHECK_INT(pod_resolver_expire(r, SEC + TTL, TTL, on_release, NULL), 1);
	CHECK(nreleased == 1 && released[0] == from_dir);

	/* A pod the list does not have asks for one refresh, named by its
	 * log directory meanwhile; asking again does not. */
	w = look(r, CGROUPFS, "sh", 3 * SEC, NULL);
	CHECK_W(w, "default", "debug-shell", "shell", "shell");
	CHECK_INT(refreshes, 1);
	w = look(r, CGROUPFS, "sh", 4 * SEC, NULL);
	CHECK_INT(refreshes, 1);
	/* A new list still without it: resolved again, no new request. */
	set_list(c, "{\"kind\":\"PodList\",\"items\":["
		 POD(UID2, "data", "postgres-0", "StatefulSet", "postgres", "",
		     C("postgres", CID2)) "]}");
	w = look(r, CGROUPFS, "sh", 5 * SEC, NULL);
	CHECK_W(w, "default", "debug-shell", "shell", "shell");
	CHECK_INT(refreshes, 1);
	/* ... and once listed, it is named by the list. */
	set_list(c, "{\"kind\":\"PodList\",\"items\":["
		 POD(UID4, "default", "debug-shell", "ReplicaSet", "dbg-abc",
		     "abc", C("shell", CID4)) "]}");
	w = look(r, CGROUPFS, "sh", 6 * SEC, NULL);
	CHECK_OWNERS(w, "dbg", "", "");
	/* Named by the list, final: a list without it changes nothing. */
	CHECK(look(r, CRIO, "postgres", 7 * SEC, NULL) == pg);

	/* A container the list has no id for (it restarted since): one
	 * refresh, the log directory names the container meanwhile. */
	set_list(c, "{\"kind\":\"PodList\",\"items\":["
		 POD(UID3, "kube-system", "fluentbit-gke-8xk2p", "DaemonSet",
		     "fluentbit-gke", "", C("fluentbit", CID1)) "]}");
	mkdirs("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
	       UID3_ ".slice/docker-" CID4 ".scope");
	refreshes = 0;
	w = look(r, "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
		 UID3_ ".slice/docker-" CID4 ".scope", "fluent-bit", 8 * SEC, NULL);
	CHECK_W(w, "kube-system", "fluentbit-gke-8xk2p", "fluentbit",
		"fluentbit");
	CHECK_OWNERS(w, "", "", "fluentbit-gke");
	CHECK_INT(refreshes, 1);
	/* The pod's own cgroup in a pod of several containers: none of them,
	 * and no refresh would tell. */
	set_list(c, "{\"kind\":\"PodList\",\"items\":["
		 POD(UID1, "shop", "web-7c9d8f6b5-x2x9q", "ReplicaSet",
		     "web-7c9d8f6b5", "7c9d8f6b5", C("web", CID1) "," C("proxy", CID5)) "]}");
	refreshes = 0;
	w = look(r, GKE_POD, "pause", 9 * SEC, NULL);
	CHECK_INT(refreshes, 0);
	CHECK_OWNERS(w, "web", "", "");
	/* the log directory has one container: that one */
	CHECK_STR(w->container, "web");
	pod_resolver_free(r);
out:
	kubelet_cache_free(c);
	teardown();
}

int main(void)
{
	RUN(test_shapes);
	RUN(test_cgroup_v1_tree);
	RUN(test_hostile_names);
	RUN(test_expiry);
	RUN(test_pod_made_again);
	RUN(test_kubelet_names);
	return check_summary("pod_resolver");
}
