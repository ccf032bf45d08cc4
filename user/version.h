/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef PODTAP_VERSION_H
#define PODTAP_VERSION_H
#ifndef PODTAP_VERSION
#define PODTAP_VERSION "0.1.0-dev" /* the Makefile passes git describe */
#endif
#endif
