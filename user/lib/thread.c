// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "lib/thread.h"

#include <signal.h>

int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg,
		 const char *name)
{
	sigset_t all, old;
	int err;

	/* The new thread inherits the mask it is created under. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	pthread_setname_np(*thread, name);
	return 0;
}
