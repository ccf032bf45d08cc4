// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "capture/pins.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/array_size.h"
#include "lib/log.h"

/* The directories podtap creates below the pin path are at most its
 * missing components plus maps/ and progs/. */
#define PINS_DIRS_MAX 64
/* Every BPF object podtap loads is named podtap*, and so are its maps and
 * programs; libbpf adds its own maps (__bpf_usdt_*) to an object with USDT
 * programs (the Python hooks'). A pin of such a name in maps/ or progs/ is
 * a podtap's. */
static const char *const own_prefixes[] = { "podtap", "__bpf_usdt_" };

static bool own_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(own_prefixes); i++)
		if (!strncmp(name, own_prefixes[i], strlen(own_prefixes[i])))
			return true;
	return false;
}

struct pins {
	char dir[PATH_MAX];
	int lock_fd;
	bool locked;
	char *created[PINS_DIRS_MAX]; /* outermost first */
	unsigned int ncreated;
	char **pinned;
	unsigned int npinned, cap;
};

static int join(char *out, size_t size, const char *a, const char *b)
{
	int n = snprintf(out, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* mkdir that records what it made, and says why the kernel refused:
 * bpffs reserves names with a '.' (kernel/bpf/inode.c: bpf_lookup). */
static int make_dir(struct pins *p, const char *path)
{
	const char *name = strrchr(path, '/');

	if (!mkdir(path, 0700)) {
		if (p->ncreated == PINS_DIRS_MAX) {
			rmdir(path);
			return -ENAMETOOLONG;
		}
		p->created[p->ncreated] = strdup(path);
		if (!p->created[p->ncreated]) {
			rmdir(path);
			return -ENOMEM;
		}
		p->ncreated++;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	if (errno == EPERM && name && strchr(name, '.'))
		log_error("cannot create pin directory %s: bpffs refuses names "
			  "with a '.' in them; choose a --pin-path whose parts "
			  "below the bpffs mount have none", path);
	else
		log_error("cannot create pin directory %s: %s", path,
			  strerror(errno));
	return -errno;
}

/* Creates each missing component of p->dir, outermost first. */
static int make_dirs(struct pins *p)
{
	char path[PATH_MAX];
	int err;

	for (char *s = strchr(p->dir + 1, '/');; s = strchr(s + 1, '/')) {
		size_t len = s ? (size_t)(s - p->dir) : strlen(p->dir);

		memcpy(path, p->dir, len);
		path[len] = '\0';
		err = make_dir(p, path);
		if (err || !s)
			return err;
	}
}

/* Unlinks the podtap pins that a podtap which died left in dir/sub. */
static unsigned int remove_stale(const char *dir, const char *sub)
{
	char path[PATH_MAX], file[PATH_MAX];
	unsigned int n = 0;
	struct dirent *de;
	DIR *d;

	if (join(path, sizeof(path), dir, sub))
		return 0;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!own_name(de->d_name) ||
		    join(file, sizeof(file), path, de->d_name))
			continue;
		if (!unlink(file))
			n++;
	}
	closedir(d);
	return n;
}

int pins_open(struct pins **out, const char *path)
{
	struct pins *p;
	unsigned int stale;
	int err;

	*out = NULL;
	if (path[0] != '/' || strlen(path) >= sizeof(p->dir)) {
		log_error("--pin-path must be an absolute path shorter than %zu "
			  "bytes, got '%s'", sizeof(p->dir), path);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->lock_fd = -1;
	strcpy(p->dir, path);
	for (size_t n = strlen(p->dir); n > 1 && p->dir[n - 1] == '/'; n--)
		p->dir[n - 1] = '\0';

	err = make_dirs(p);
	if (err)
		goto fail;
	p->lock_fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->lock_fd < 0) {
		err = -errno;
		log_error("cannot open pin directory %s: %s", p->dir,
			  strerror(-err));
		goto fail;
	}
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB)) {
		err = -EBUSY;
		log_error("another podtap is running with pin path %s; stop it "
			  "or choose another --pin-path", p->dir);
		goto fail;
	}
	p->locked = true;
	stale = remove_stale(p->dir, "maps") + remove_stale(p->dir, "progs");
	if (stale)
		log_warn("removed %u pins under %s left by a podtap that did "
			 "not stop cleanly", stale, p->dir);
	*out = p;
	return 0;
fail:
	pins_close(p);
	return err;
}

static bool pinned(const struct pins *p, const char *path)
{
	for (unsigned int i = 0; i < p->npinned; i++)
		if (!strcmp(p->pinned[i], path))
			return true;
	return false;
}

/* Pins fd as dir/sub/name; bpffs takes no '.' in a name, so the dots of
 * internal maps' names (podtap.rodata) become '_' as bpftool users know
 * them from libbpf. */
static int pin_one(struct pins *p, const char *sub, const char *name, int fd)
{
	char dir[PATH_MAX], path[PATH_MAX], *dup;
	int err;

	if (fd < 0)
		return 0; /* not created: a program not loaded */
	if (join(dir, sizeof(dir), p->dir, sub) ||
	    join(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	for (char *c = path + strlen(dir) + 1; *c; c++)
		if (*c == '.')
			*c = '_';
	if (pinned(p, path))
		return 0;
	err = make_dir(p, dir);
	if (err)
		return err;
	if (p->npinned == p->cap) {
		unsigned int cap = p->cap ? 2 * p->cap : 32;
		char **grown = realloc(p->pinned, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		p->pinned = grown;
		p->cap = cap;
	}
	dup = strdup(path);
	if (!dup)
		return -ENOMEM;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		log_error("cannot pin %s: %s", path, strerror(-err));
		free(dup);
		return err;
	}
	p->pinned[p->npinned++] = dup;
	return 0;
}

int pins_add_object(struct pins *p, struct bpf_object *obj)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		err = pin_one(p, "maps", bpf_map__name(map), bpf_map__fd(map));
		if (err)
			return err;
	}
	bpf_object__for_each_program(prog, obj) {
		err = pin_one(p, "progs", bpf_program__name(prog),
			      bpf_program__fd(prog));
		if (err)
			return err;
	}
	return 0;
}

void pins_close(struct pins *p)
{
	char sub[PATH_MAX];

	if (!p)
		return;
	for (unsigned int i = p->npinned; i-- > 0;) {
		unlink(p->pinned[i]);
		free(p->pinned[i]);
	}
	free(p->pinned);
	/* maps/ and progs/ are podtap's own, even when a podtap that died
	 * made them: removed once empty (a file someone else put there
	 * keeps them). */
	if (p->locked) {
		if (!join(sub, sizeof(sub), p->dir, "maps"))
			rmdir(sub);
		if (!join(sub, sizeof(sub), p->dir, "progs"))
			rmdir(sub);
	}
	for (unsigned int i = p->ncreated; i-- > 0;) {
		rmdir(p->created[i]);
		free(p->created[i]);
	}
	if (p->lock_fd >= 0)
		close(p->lock_fd);
	free(p);
}
