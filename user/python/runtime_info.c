// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python/runtime_info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "python3.11" or "libpython3.11.so.1.0" -> "3.11"; false otherwise. */
static bool python_minor(const char *base, char *out, size_t size)
{
	const char *v;
	int major, minor, n = 0;

	if (!strncmp(base, "python", 6))
		v = base + 6;
	else if (!strncmp(base, "libpython", 9))
		v = base + 9;
	else
		return false;
	if (sscanf(v, "%d.%d%n", &major, &minor, &n) != 2 || major < 2)
		return false;
	snprintf(out, size, "%d.%d", major, minor);
	return true;
}

/* The mapped libpython of a shared or embedding build, opened through
 * /proc/PID/root so a container's own file is read. */
static int libpython_file(uint32_t pid, char *minor, size_t size)
{
	char path[4352], line[4352];
	FILE *maps;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	maps = fopen(path, "r");
	if (!maps)
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), maps)) {
		char *file = strchr(line, '/');
		const char *base;

		if (!file)
			continue;
		file[strcspn(file, "\n")] = '\0';
		base = strrchr(file, '/') + 1;
		if (strncmp(base, "libpython", 9) ||
		    !python_minor(base, minor, size))
			continue;
		snprintf(path, sizeof(path), "/proc/%u/root%s", pid, file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	fclose(maps);
	return fd;
}

/* The executable, if it is a python. */
static int python_exe(uint32_t pid, char *minor, size_t size)
{
	char path[64], target[4096];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	base = strrchr(target, '/');
	if (!python_minor(base ? base + 1 : target, minor, size))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Finds "\0<minor>.<digits>[suffix]\0" (PY_VERSION, e.g. "3.11.2" or
 * "3.12.0rc1") in the file. */
static bool scan_version(int fd, const char *minor, char *out, size_t size)
{
	enum { CHUNK = 1 << 16, OVERLAP = 32 };
	char *buf = malloc(CHUNK + OVERLAP);
	size_t mlen = strlen(minor), have = 0;
	bool found = false;
	ssize_t n;

	if (!buf)
		return false;
	while (!found && (n = read(fd, buf + have, CHUNK)) > 0) {
		size_t len = have + n;

		for (size_t i = 0; !found && i + mlen + 3 < len; i++) {
			size_t j = i + 1 + mlen;

			if (buf[i] || memcmp(buf + i + 1, minor, mlen) ||
			    buf[j] != '.' || buf[j + 1] < '0' || buf[j + 1] > '9')
				continue;
			size_t end = j + 1;
			while (end < len && end - i < OVERLAP &&
			       (buf[end] == '.' || (buf[end] >= '0' && buf[end] <= '9') ||
				(buf[end] >= 'a' && buf[end] <= 'z') || buf[end] == '+'))
				end++;
			if (end < len && !buf[end] && end - i - 1 < size) {
				memcpy(out, buf + i + 1, end - i - 1);
				out[end - i - 1] = '\0';
				found = true;
			}
		}
		have = len < OVERLAP ? len : OVERLAP;
		memmove(buf, buf + len - have, have);
	}
	free(buf);
	return found;
}

/*
 * What earlier scans found, by file identity: every worker of a gunicorn
 * and every short-lived python shares one interpreter file, which is read
 * (megabytes for a libpython) only the first time. Round-robin, bounded;
 * used from the event loop only.
 */
#define SCANNED_MAX 32

static struct scanned {
	dev_t dev;
	ino_t ino;
	bool found;
	char version[32];
} scanned[SCANNED_MAX];
static unsigned int scanned_next;

/* Looks for the version in `fd` (closed here); true if found. */
static bool version_in(int fd, const char *minor, struct runtime_info *info)
{
	struct scanned *e = NULL;
	struct stat st;
	bool found;

	if (fd < 0)
		return false;
	if (!fstat(fd, &st)) {
		for (unsigned int i = 0; i < SCANNED_MAX; i++)
			if (scanned[i].ino == st.st_ino &&
			    scanned[i].dev == st.st_dev && st.st_ino) {
				close(fd);
				snprintf(info->version, sizeof(info->version),
					 "%s", scanned[i].version);
				return scanned[i].found;
			}
		e = &scanned[scanned_next++ % SCANNED_MAX];
	}
	found = scan_version(fd, minor, info->version, sizeof(info->version));
	close(fd);
	if (e) {
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->found = found;
		snprintf(e->version, sizeof(e->version), "%s",
			 found ? info->version : "");
	}
	return found;
}

bool runtime_info_read(uint32_t pid, struct runtime_info *info)
{
	char exe_minor[16] = "", lib_minor[16] = "";
	int exe = python_exe(pid, exe_minor, sizeof(exe_minor));
	int lib = libpython_file(pid, lib_minor, sizeof(lib_minor));
	bool python = exe >= 0 || lib >= 0;

	memset(info, 0, sizeof(*info));
	/* A shared build keeps PY_VERSION in libpython, not the executable. */
	if (version_in(exe, exe_minor, info)) {
		if (lib >= 0)
			close(lib);
	} else if (!version_in(lib, lib_minor, info)) {
		snprintf(info->version, sizeof(info->version), "%s",
			 exe_minor[0] ? exe_minor : lib_minor);
	}
	if (python)
		snprintf(info->name, sizeof(info->name), "cpython");
	return python;
}
