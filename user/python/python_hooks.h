/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finds the Python processes on the node (at start, on exec, on fork) and
 * hooks the files they run: OpenSSL's SSL_read/SSL_write family wherever
 * the process gets it (libssl, an _ssl module, libpython), CPython's
 * collector (USDT gc__start/gc__done, else a uprobe on gc_collect_main),
 * and, for traces, greenlet's switches (its _greenlet module).
 * Files are opened through /proc/PID/root, so a container's own libraries
 * are hooked, and each distinct file (device + inode) is hooked once for
 * every process that maps it; its links go when its last process exits.
 * Runs on the event loop; stats are read from any thread.
 */
#ifndef PODTAP_PYTHON_HOOKS_H
#define PODTAP_PYTHON_HOOKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "capture/capture.h"
#include "python/runtime_info.h"

enum hook_failure {
	HOOK_FAIL_NO_SYMBOL = 0,    /* stripped, or not the library we need */
	HOOK_FAIL_UNKNOWN_VERSION,  /* no USDT, and a collector we do not know */
	HOOK_FAIL_PERMISSION,       /* EACCES/EPERM opening or attaching */
	HOOK_FAIL_PROCESS_GONE,     /* exited while being hooked */
	HOOK_FAIL_NOT_ELF,          /* the mapped file is no ELF object */
	HOOK_FAIL_ATTACH,           /* the kernel refused the uprobe */
	HOOK_FAIL_TOO_MANY,         /* process table full */
	HOOK_FAIL__COUNT,
};

const char *hook_failure_name(enum hook_failure f);

struct python_hooks_stats {
	_Atomic uint64_t failures[HOOK_FAIL__COUNT];
	_Atomic uint64_t processes; /* gauge: Python processes tracked */
	_Atomic uint64_t files;     /* gauge: files with uprobes attached */
	_Atomic uint64_t links;     /* gauge: uprobe/USDT links */
};

/* A Python process found (alive) or gone (!alive). */
struct python_process {
	uint32_t pid;
	uint64_t cgroup_id;
	const char *comm;
	const struct runtime_info *info;
};

typedef void (*python_process_fn)(void *ctx, const struct python_process *p,
				  bool alive);

struct python_hooks_opts {
	uint32_t payload_size;
	/* A file no Python process maps any more keeps its links this
	 * long: the next process of that binary (a cron job's, a probe's)
	 * finds them attached. 0: let go at once. */
	uint64_t linger_ns;
	struct pins *pins;    /* NULL: no pinning */
	bool greenlets;       /* hook greenlet switches (PODTAP_EV_UNIT) */
	struct trace_ctx_config trace_ctx; /* as the capture's */
	python_process_fn on_process;
	void *ctx;
	const struct bpf_load_observer *observer; /* NULL: none */
};

struct pins;
struct python_hooks;

/* Loads the hooks' BPF object sharing the capture's maps, attaches the
 * process tracepoints, and hooks the Python processes already running.
 * Returns 0 or a negative errno after logging why. */
int python_hooks_open(struct python_hooks **out, struct capture *cap,
		      const struct python_hooks_opts *opts);

/* EXEC, FORK, LIB_MAPPED and PROC_EXIT events. */
void python_hooks_handle_event(struct python_hooks *ph,
			       const struct podtap_event *ev);

/* Hooks what is due: processes that exec'd a moment ago (their loader has
 * mapped libpython by then) and those that mapped a new library. */
void python_hooks_tick(struct python_hooks *ph, uint64_t now_ns);

const struct python_hooks_stats *python_hooks_stats(struct python_hooks *ph);

/* Detaches everything; accepts NULL. */
void python_hooks_close(struct python_hooks *ph);

#endif /* PODTAP_PYTHON_HOOKS_H */
