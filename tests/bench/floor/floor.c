// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench_floor: loads floor.bpf.c, attaches it, prints "attached" and
 * holds it until SIGTERM or SIGINT (tests/bench/non_http.sh).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "floor.skel.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	stopping = 1;
}

int main(void)
{
	struct floor *skel = floor__open_and_load();
	int err;

	if (!skel) {
		fprintf(stderr, "bench_floor: cannot load: %s\n", strerror(errno));
		return 1;
	}
	err = floor__attach(skel);
	if (err) {
		fprintf(stderr, "bench_floor: cannot attach: %s\n", strerror(-err));
		floor__destroy(skel);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!stopping)
		pause();
	floor__destroy(skel);
	return 0;
}
