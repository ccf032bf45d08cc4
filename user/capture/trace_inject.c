// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "capture/trace_inject.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/capture.h"
#include "lib/array_size.h"
#include "lib/log.h"

#include "podtap_inject.skel.h"

struct trace_inject {
	struct podtap_inject *skel;
	struct bpf_link *sockops;
	bool msg_attached;
	int ctx_fd;   /* podtap_trace_ctx, shared with the capture */
	int ncpus;
};

static const char *const result_names[PODTAP_INJECT__COUNT] = {
	[PODTAP_INJECT_CHILD] = "child",
	[PODTAP_INJECT_ROOT] = "root",
	[PODTAP_INJECT_HAS_CONTEXT] = "has_context",
	[PODTAP_INJECT_NO_CONTEXT] = "no_context",
	[PODTAP_INJECT_MULTIPLEXED] = "multiplexed",
	[PODTAP_INJECT_UNFRAMED] = "unframed",
	[PODTAP_INJECT_NOT_HTTP] = "not_http",
	[PODTAP_INJECT_FAILED] = "failed",
	[PODTAP_INJECT_SOCKS_FULL] = "sockets_full",
};

const char *trace_inject_result_name(int result)
{
	return result >= 0 && result < PODTAP_INJECT__COUNT
		       ? result_names[result]
		       : "unknown";
}

static void why(int err)
{
	if (err == -EPERM || err == -EACCES)
		log_error("trace context injection needs CAP_NET_ADMIN (sock_ops "
			  "and sk_msg programs, attached to the cgroup v2 root); "
			  "grant it (Kubernetes: securityContext.capabilities.add: "
			  "[NET_ADMIN]) or turn --inject-trace-context off");
	else if (err == -EINVAL || err == -524 /* ENOTSUPP */ || err == -EOPNOTSUPP)
		log_error("this kernel cannot run podtap's injection programs "
			  "(they need Linux 5.17 or later: bpf_loop, sk_msg "
			  "socket storage); rerun with --verbose for the "
			  "verifier's log, or turn --inject-trace-context off");
}

static int attach(struct trace_inject *ti, const char *cgroup_root)
{
	int cg, err;

	cg = open(cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		err = -errno;
		log_error("cannot open the cgroup v2 root %s: %s", cgroup_root,
			  strerror(errno));
		return err;
	}
	ti->sockops = bpf_program__attach_cgroup(
		ti->skel->progs.podtap_inject_sockops, cg);
	err = ti->sockops ? 0 : -errno;
	close(cg);
	if (err) {
		log_error("cannot attach sock_ops to %s: %s", cgroup_root,
			  strerror(-err));
		return err;
	}
	if (bpf_prog_attach(bpf_program__fd(ti->skel->progs.podtap_inject_msg),
			    bpf_map__fd(ti->skel->maps.podtap_injsocks),
			    BPF_SK_MSG_VERDICT, 0)) {
		err = -errno;
		log_error("cannot attach sk_msg to its socket map: %s",
			  strerror(-err));
		return err;
	}
	ti->msg_attached = true;
	return 0;
}

int trace_inject_open(struct trace_inject **out, struct capture *cap,
		      const struct trace_inject_opts *opts)
{
	struct trace_inject *ti;
	int err;

	*out = NULL;
	ti = calloc(1, sizeof(*ti));
	if (!ti)
		return -ENOMEM;
	ti->ncpus = libbpf_num_possible_cpus();
	ti->skel = podtap_inject__open();
	if (!ti->skel) {
		err = -errno;
		log_error("cannot open the injection BPF object: %s",
			  strerror(-err));
		goto fail;
	}
	ti->skel->rodata->self_tgid = getpid();
	ti->skel->rodata->wakeup_min_bytes = capture_wakeup_min_bytes(cap);
	ti->skel->rodata->trace_ctx_on = true;
	ti->skel->rodata->sampler_parent_based = opts->trace_ctx.parent_based;
	ti->skel->rodata->root_sample_bound = opts->trace_ctx.root_sample_bound;
	ti->skel->rodata->inject_w3c = opts->w3c;
	ti->skel->rodata->inject_b3 = opts->b3;
	err = capture_share_maps(cap, ti->skel->obj);
	if (err) {
		log_error("cannot share maps with the injection programs: %s",
			  strerror(-err));
		goto fail;
	}
	if (opts->observer && opts->observer->before)
		opts->observer->before(opts->observer->ctx, ti->skel->obj);
	err = podtap_inject__load(ti->skel);
	if (opts->observer && opts->observer->after)
		opts->observer->after(opts->observer->ctx, ti->skel->obj, err);
	if (err) {
		log_error("cannot load the injection BPF programs: %s",
			  strerror(-err));
		why(err);
		goto fail;
	}
	ti->ctx_fd = bpf_map__fd(ti->skel->maps.podtap_trace_ctx);
	err = attach(ti, opts->cgroup_root);
	if (err) {
		why(err);
		goto fail;
	}
	log_info("trace context injection on: %s%s%s into outgoing HTTP/1.x "
		 "requests without one (sock_ops on %s)",
		 opts->w3c ? "traceparent" : "", opts->w3c && opts->b3 ? " and " : "",
		 opts->b3 ? "b3" : "", opts->cgroup_root);
	*out = ti;
	return 0;
fail:
	trace_inject_close(ti);
	return err;
}

void trace_inject_set(struct trace_inject *ti, uint32_t tid, uint64_t unit,
		      const struct trace_ctx *ctx)
{
	struct unit_key k = { .tid = tid, .unit = unit };

	bpf_map_update_elem(ti->ctx_fd, &k, ctx, BPF_ANY);
}

/* The kernel's entry for the unit, if it is the request of span_id. */
static bool lookup(struct trace_inject *ti, const struct unit_key *k,
		   const uint8_t *span_id, struct trace_ctx *out)
{
	return !bpf_map_lookup_elem(ti->ctx_fd, k, out) &&
	       !memcmp(out->span_id, span_id, sizeof(out->span_id));
}

void trace_inject_done(struct trace_inject *ti, uint32_t tid, uint64_t unit,
		       const uint8_t *span_id)
{
	struct unit_key k = { .tid = tid, .unit = unit };
	struct trace_ctx c;

	if (!span_id || lookup(ti, &k, span_id, &c))
		bpf_map_delete_elem(ti->ctx_fd, &k);
}

void trace_inject_retrace(struct trace_inject *ti, uint32_t tid,
			  uint64_t unit, const uint8_t *span_id,
			  const uint8_t *trace_id, bool sampled)
{
	struct unit_key k = { .tid = tid, .unit = unit };
	struct trace_ctx c;

	if (!lookup(ti, &k, span_id, &c))
		return;
	memcpy(c.trace_id, trace_id, sizeof(c.trace_id));
	c.sampled = sampled;
	bpf_map_update_elem(ti->ctx_fd, &k, &c, BPF_EXIST);
}

int trace_inject_read_stats(struct trace_inject *ti, uint64_t *out)
{
	int fd = bpf_map__fd(ti->skel->maps.podtap_injstats);
	uint64_t *vals = calloc(ti->ncpus, sizeof(*vals));

	memset(out, 0, PODTAP_INJECT__COUNT * sizeof(*out));
	if (!vals)
		return -ENOMEM;
	for (uint32_t r = 0; r < PODTAP_INJECT__COUNT; r++) {
		if (bpf_map_lookup_elem(fd, &r, vals))
			continue;
		for (int c = 0; c < ti->ncpus; c++)
			out[r] += vals[c];
	}
	free(vals);
	return 0;
}

void trace_inject_close(struct trace_inject *ti)
{
	if (!ti)
		return;
	/* No new connections first, then none of the old ones sees the
	 * program again; the map's sockets leave it as it is freed. */
	bpf_link__destroy(ti->sockops);
	if (ti->msg_attached)
		bpf_prog_detach2(bpf_program__fd(ti->skel->progs.podtap_inject_msg),
				 bpf_map__fd(ti->skel->maps.podtap_injsocks),
				 BPF_SK_MSG_VERDICT);
	podtap_inject__destroy(ti->skel);
	free(ti);
}
