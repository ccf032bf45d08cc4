// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * podtap: node agent that captures the HTTP/1.x traffic of every process on
 * the node with eBPF syscall tracepoints and serves per-pod Prometheus
 * metrics and OpenTelemetry spans. main reads the options, sets up logging
 * and signals, and hands over to daemon_run (daemon.c), which holds the
 * whole lifecycle; docs/ARCHITECTURE.md shows how the parts fit.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "lib/log.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	/* libbpf's warnings include the verifier's log on a rejection. */
	if (level == LIBBPF_DEBUG && !log_verbose())
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	ret = config_parse(&cfg, argc, argv);
	if (ret) {
		config_free(&cfg);
		return ret > 0 ? 0 : 2;
	}
	log_set_verbose(cfg.verbose);
	libbpf_set_print(libbpf_log);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = daemon_run(&cfg, &stop);
	config_free(&cfg);
	return ret;
}
