/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef PODTAP_LIB_ARRAY_SIZE_H
#define PODTAP_LIB_ARRAY_SIZE_H

/* Elements of an array (not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* PODTAP_LIB_ARRAY_SIZE_H */
