// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "capture/preflight.h"

#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define TRACEFS_DIR "/sys/kernel/tracing"
#define BPFFS_DIR "/sys/fs/bpf"

static bool has_cap(const struct __user_cap_data_struct *data, int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/*
 * The capabilities podtap uses, and nothing more is asked for (the Helm
 * chart's default container has exactly these; helm/podtap/README.md shows
 * what fails without each):
 *   CAP_BPF          load programs, create and pin maps (required)
 *   CAP_PERFMON      attach to tracepoints, bpf_probe_read_user of socket
 *                    buffers (required)
 *   CAP_SYS_PTRACE   other processes' /proc/PID/exe and /proc/PID/root
 *   CAP_DAC_READ_SEARCH  /proc/PID/environ and files under /proc/PID/root
 *                    of processes running as other users
 *   CAP_SYS_ADMIN    uprobes (the Python hooks): the kernel creates uprobe
 *                    perf events only for it (perf_uprobe_event_init; it
 *                    once took CAP_PERFMON, and no longer does since a
 *                    uprobe can rewrite another process's code)
 * CAP_SYS_ADMIN also stands in for the first two (kernels before 5.8 have
 * only it). The last three only enrich or widen what is seen: without
 * them podtap warns and runs.
 */
int preflight_privileges(bool python_hooks)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };
	bool admin, bpf, perfmon;

	if (syscall(SYS_capget, &hdr, data)) {
		log_error("cannot read own capabilities: %s", strerror(errno));
		return -1;
	}
	admin = has_cap(data, CAP_SYS_ADMIN);
	bpf = has_cap(data, CAP_BPF) || admin;
	perfmon = has_cap(data, CAP_PERFMON) || admin;
	if (!bpf || !perfmon) {
		log_error("podtap needs root, or at least CAP_BPF (to load its BPF "
			  "programs and maps) and CAP_PERFMON (to attach them to "
			  "tracepoints and read socket buffers); missing:%s%s. Run "
			  "it with sudo, or grant the capabilities (Kubernetes: "
			  "securityContext.capabilities.add: [BPF, PERFMON, "
			  "SYS_PTRACE, DAC_READ_SEARCH, SYS_ADMIN])",
			  bpf ? "" : " CAP_BPF", perfmon ? "" : " CAP_PERFMON");
		return -1;
	}
	if (!has_cap(data, CAP_SYS_PTRACE))
		log_warn("no CAP_SYS_PTRACE: /proc/PID/exe and /proc/PID/root "
			 "of other processes cannot be read, so spans carry no "
			 "process.executable.name or process.runtime.*; grant "
			 "CAP_SYS_PTRACE for them");
	if (!has_cap(data, CAP_DAC_READ_SEARCH) &&
	    !has_cap(data, CAP_DAC_OVERRIDE))
		log_warn("no CAP_DAC_READ_SEARCH: /proc/PID/environ and files "
			 "under /proc/PID/root of processes running as other "
			 "users cannot be read (their OTEL_SERVICE_NAME is not "
			 "used); grant CAP_DAC_READ_SEARCH for them");
	if (python_hooks && !admin)
		log_warn("no CAP_SYS_ADMIN: the kernel creates uprobes only for "
			 "it, so Python processes are not hooked (no HTTPS "
			 "they serve or call, no python_* metrics; counted in "
			 "podtap_uprobe_attach_failures_total{reason=\"permission\"}); "
			 "grant CAP_SYS_ADMIN, or pass --no-python-hooks");
	return 0;
}

int preflight_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return 0;
	log_error("kernel BTF is missing (/sys/kernel/btf/vmlinux: %s); podtap "
		  "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
		  strerror(errno));
	return -1;
}

static bool is_fs(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == magic;
}

/* True when something is mounted on dir: it is on another device than its
 * parent directory (a bind mount of the same device is missed; the kernel's
 * own mount points under /sys are never those). */
static bool is_mount_point(const char *dir)
{
	char parent[PATH_MAX];
	struct stat a, b;

	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", dir) >=
		    sizeof(parent) ||
	    stat(dir, &a) || stat(parent, &b))
		return true; /* cannot tell: do not mount */
	return a.st_dev != b.st_dev;
}

/* What podtap mounted, to undo if it fails to start. */
static const char *mounted[2];
static unsigned int nmounted;

/*
 * Mounts fstype at dir, the kernel's standard mount point for it, only
 * when nothing at all is mounted there: podtap never hides a directory.
 * Returns 0 when mounted, else -1 with errno set (ENOTEMPTY: something
 * else is mounted there).
 */
static int mount_standard(const char *dir, const char *fstype,
			  const char *source)
{
	if (is_mount_point(dir)) {
		errno = ENOTEMPTY;
		return -1;
	}
	if (mount(source, dir, fstype, 0, NULL))
		return -1;
	mounted[nmounted++] = dir;
	log_info("mounted %s at %s (nothing was mounted there)", fstype, dir);
	return 0;
}

void preflight_undo_mounts(void)
{
	while (nmounted > 0) {
		const char *dir = mounted[--nmounted];

		if (umount2(dir, MNT_DETACH))
			log_warn("cannot unmount %s: %s", dir, strerror(errno));
		else
			log_info("unmounted %s, which podtap had mounted", dir);
	}
}

static const char *mount_failure(int err)
{
	switch (err) {
	case ENOTEMPTY: return "another file system is mounted there";
	case EPERM: return "mounting needs CAP_SYS_ADMIN";
	default: return strerror(err);
	}
}

int preflight_tracefs(void)
{
	if (is_fs(TRACEFS_DIR, TRACEFS_MAGIC))
		return 0;
	/* Debugfs exposes the same files under tracing/ on older setups. */
	if (access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0)
		return 0;
	if (mount_standard(TRACEFS_DIR, "tracefs", "nodev") == 0)
		return 0;
	log_error("tracefs is not mounted at %s and podtap cannot mount it "
		  "(%s); mount it with 'mount -t tracefs nodev %s' (in "
		  "Kubernetes, mount the host's %s into the pod)",
		  TRACEFS_DIR, mount_failure(errno), TRACEFS_DIR, TRACEFS_DIR);
	return -1;
}

/* The deepest directory of path that exists (path itself, or "/"). */
static void existing_ancestor(const char *path, char *out, size_t size)
{
	struct stat st;
	char *slash;

	snprintf(out, size, "%s", path);
	while (stat(out, &st) && (slash = strrchr(out, '/'))) {
		if (slash == out) {
			out[1] = '\0';
			return;
		}
		*slash = '\0';
	}
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

int preflight_bpffs(const char *pin_path)
{
	char dir[PATH_MAX];

	if (pin_path[0] != '/') {
		log_error("--pin-path must be an absolute path, got '%s'",
			  pin_path);
		return -1;
	}
	existing_ancestor(pin_path, dir, sizeof(dir));
	if (is_fs(dir, BPF_FS_MAGIC))
		return 0;
	/* On a new machine nothing is mounted at the standard place yet. */
	if (under(pin_path, BPFFS_DIR) && !strcmp(dir, BPFFS_DIR)) {
		if (mount_standard(BPFFS_DIR, "bpf", "bpf") == 0)
			return 0;
		log_error("%s is not a bpf file system and podtap cannot mount "
			  "one there (%s); mount it with 'mount -t bpf bpf %s' "
			  "(in Kubernetes, mount the host's %s into the pod), "
			  "or pass --no-pin", BPFFS_DIR, mount_failure(errno),
			  BPFFS_DIR, BPFFS_DIR);
		return -1;
	}
	log_error("--pin-path %s: %s is not on a bpf file system, and podtap "
		  "mounts one only at %s; mount one with 'mount -t bpf bpf "
		  "DIR' and pin below it, pin under %s, or pass --no-pin",
		  pin_path, dir, BPFFS_DIR, BPFFS_DIR);
	return -1;
}
