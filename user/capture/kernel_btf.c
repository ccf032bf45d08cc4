// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "capture/kernel_btf.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
#define BTF_MAGIC 0xeb9f
#define NAME_MAX_LEN 127

/* The fixed start of a BTF blob (include/uapi/linux/btf.h). */
struct btf_header_prefix {
	uint16_t magic;
	uint8_t version;
	uint8_t flags;
	uint32_t hdr_len;
	uint32_t type_off, type_len;
	uint32_t str_off, str_len;
};

bool kernel_btf_has_name(const char *name)
{
	/* The strings are NUL-separated: look for "\0name\0", carrying the
	 * last bytes of each piece over to the next. */
	char want[NAME_MAX_LEN + 3], buf[65536 + sizeof(want)];
	size_t wlen = strlen(name) + 2, keep = 0;
	struct btf_header_prefix h;
	uint64_t left;
	bool found = false;
	int fd;

	if (wlen > sizeof(want) - 1)
		return false;
	want[0] = '\0';
	memcpy(want + 1, name, wlen - 2);
	want[wlen - 1] = '\0';
	fd = open(VMLINUX_BTF, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &h, sizeof(h), 0) != sizeof(h) || h.magic != BTF_MAGIC ||
	    lseek(fd, (off_t)h.hdr_len + h.str_off, SEEK_SET) < 0)
		goto out;
	left = h.str_len;
	/* The section starts with the empty string, the NUL before the
	 * first name. */
	while (left && !found) {
		size_t want_n = left < 65536 ? left : 65536;
		ssize_t n = read(fd, buf + keep, want_n);

		if (n <= 0)
			break;
		left -= n;
		n += keep;
		found = memmem(buf, n, want, wlen) != NULL;
		keep = (size_t)n < wlen - 1 ? (size_t)n : wlen - 1;
		memmove(buf, buf + n - keep, keep);
	}
out:
	close(fd);
	return found;
}
