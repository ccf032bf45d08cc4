// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "http/http_method.h"

#include <string.h>

#include "lib/array_size.h"

const char *http_method_label(const char *method)
{
	static const char *const known[] = { "GET",    "HEAD",    "POST",
					     "PUT",    "DELETE",  "CONNECT",
					     "OPTIONS", "TRACE",  "PATCH" };

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(method, known[i]))
			return known[i];
	return "_OTHER";
}
