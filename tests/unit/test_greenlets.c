// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests of the table of which greenlet each thread runs: per process,
 * bounded (the oldest thread goes), emptied as processes exit. */
#include <stdint.h>

#include "check.h"
#include "python/greenlets.h"

static void test_greenlets(void)
{
	struct greenlets *g = greenlets_new(2);

	CHECK_INT(greenlets_current(g, 1, 10), 0);
	greenlets_switch(g, 1, 10, 0xa0);
	greenlets_switch(g, 1, 11, 0xb0);
	CHECK_INT(greenlets_current(g, 1, 10), 0xa0);
	CHECK_INT(greenlets_current(g, 2, 10), 0); /* another process's tid */
	greenlets_switch(g, 1, 10, 0xa1);
	CHECK_INT(greenlets_current(g, 1, 10), 0xa1);
	greenlets_switch(g, 3, 30, 0xc0); /* full: thread 11 is the oldest */
	CHECK_INT(greenlets_count(g), 2);
	CHECK_INT(greenlets_current(g, 1, 11), 0);
	greenlets_process_exit(g, 1);
	CHECK_INT(greenlets_count(g), 1);
	CHECK_INT(greenlets_current(g, 3, 30), 0xc0);
	greenlets_free(g);
	greenlets_free(NULL);
}

int main(void)
{
	RUN(test_greenlets);
	return check_summary("greenlets");
}
