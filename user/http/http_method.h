/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The request method as metrics and spans name it (http.request.method). */
#ifndef PODTAP_HTTP_METHOD_H
#define PODTAP_HTTP_METHOD_H

/* The OpenTelemetry method set, as a static string, else "_OTHER": a
 * method off the list is not a label value of its own, so junk in the
 * request line cannot make series. */
const char *http_method_label(const char *method);

#endif /* PODTAP_HTTP_METHOD_H */
