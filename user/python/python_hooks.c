// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python/python_hooks.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture/pins.h"
#include "k8s/proc_cgroup.h"
#include "lib/array_size.h"
#include "lib/clock.h"
#include "lib/hashmap.h"
#include "lib/log.h"
#include "python/elf_symbols.h"
#include "python/link_reaper.h"
#include "podtap_py.skel.h"

/* An exec'd process is looked at this long after execve, when its loader
 * has mapped libpython and the rest. */
#define EXEC_SETTLE_NS (50 * NSEC_PER_MSEC)
#define PROCS_MAX PODTAP_MAX_PY_PROCS /* the kernel table it mirrors */
#define PROC_FILES_MAX 8
#define FILE_LINKS_MAX 12
/* How often files no process holds are looked at for letting go. */
#define LINGER_SCAN_NS NSEC_PER_SEC

enum file_role {
	ROLE_TLS = 1,    /* may define SSL_read and friends */
	ROLE_INTERP = 2, /* the interpreter: executable or libpython */
	ROLE_GREENLET = 4, /* greenlet's C extension */
};

/*
 * One hooked file, shared by every process that maps it. Held by none, it
 * keeps its links for the linger time (idle_since_ns), then hands them to
 * the reaper (detach_ticket) and is freed once they are gone. Until then
 * it stays in the table: a process mapping the file meanwhile waits for
 * the old links to go before new ones are attached, since two links on
 * one function would run its program twice.
 */
struct hook_file {
	struct hnode node;
	dev_t dev;
	ino_t ino;
	unsigned int refs;   /* processes holding it */
	uint64_t idle_since_ns; /* refs fell to 0 then (0: held) */
	uint64_t detach_ticket; /* its links are being destroyed */
	unsigned int tried;  /* enum file_role bits already looked at */
	bool python;         /* defines the CPython interpreter */
	bool tls;            /* SSL uprobes attached */
	bool gc;             /* collector hooks attached */
	unsigned int nlinks;
	struct bpf_link *links[FILE_LINKS_MAX];
};

enum proc_state {
	PROC_PENDING, /* exec'd; not looked at yet */
	PROC_TRACKED, /* a Python process, hooked */
};

struct py_proc {
	struct hnode node;
	uint32_t pid;
	enum proc_state state;
	uint64_t due_ns; /* when to look (PENDING) or rescan (TRACKED); 0: no */
	uint64_t cgroup_id;
	char comm[PODTAP_COMM_LEN];
	struct runtime_info info;
	unsigned int nfiles;
	struct hook_file *files[PROC_FILES_MAX];
};

struct python_hooks {
	struct podtap_py *skel;
	struct bpf_link *proc_links[2]; /* exec, fork */
	struct hmap procs;
	struct hmap files;
	int py_procs_fd;
	char cgroup_root[512];
	python_process_fn on_process;
	void *ctx;
	struct link_reaper *reaper;
	uint64_t linger_ns;
	uint64_t next_linger_scan_ns;
	bool greenlets;
	struct python_hooks_stats stats;
};

const char *hook_failure_name(enum hook_failure f)
{
	switch (f) {
	case HOOK_FAIL_NO_SYMBOL: return "no_symbol";
	case HOOK_FAIL_UNKNOWN_VERSION: return "unknown_version";
	case HOOK_FAIL_PERMISSION: return "permission";
	case HOOK_FAIL_PROCESS_GONE: return "process_gone";
	case HOOK_FAIL_NOT_ELF: return "not_elf";
	case HOOK_FAIL_ATTACH: return "attach_error";
	case HOOK_FAIL_TOO_MANY: return "too_many_processes";
	default: return "unknown";
	}
}

static void count_failure(struct python_hooks *ph, enum hook_failure f)
{
	atomic_fetch_add(&ph->stats.failures[f], 1);
}

static enum hook_failure failure_of(int err)
{
	switch (-err) {
	case EACCES:
	case EPERM: return HOOK_FAIL_PERMISSION;
	case ENOENT:
	case ESRCH: return HOOK_FAIL_PROCESS_GONE;
	case ENOEXEC: return HOOK_FAIL_NOT_ELF;
	default: return HOOK_FAIL_ATTACH;
	}
}

/* --- files ------------------------------------------------------------ */

struct file_id {
	dev_t dev;
	ino_t ino;
};

static uint64_t file_hash(const struct file_id *id)
{
	return hash_u64((uint64_t)id->dev * 0x9e3779b97f4a7c15ULL ^ id->ino);
}

static bool file_eq(const struct hnode *n, const void *key)
{
	const struct hook_file *f = hmap_entry(n, struct hook_file, node);
	const struct file_id *id = key;

	return f->dev == id->dev && f->ino == id->ino;
}

static void file_detach_from(struct python_hooks *ph, struct hook_file *f,
			     unsigned int first)
{
	while (f->nlinks > first) {
		bpf_link__destroy(f->links[--f->nlinks]);
		atomic_fetch_sub(&ph->stats.links, 1);
	}
}

static void file_free(struct python_hooks *ph, struct hook_file *f)
{
	hmap_remove(&ph->files, &f->node);
	free(f);
}

static void file_unref(struct python_hooks *ph, struct hook_file *f)
{
	if (--f->refs)
		return;
	if (!f->nlinks) {
		file_free(ph, f);
		return;
	}
	f->idle_since_ns = monotonic_ns();
}

/* The links of a file held by none go to the reaper. */
static void file_let_go(struct python_hooks *ph, struct hook_file *f)
{
	atomic_fetch_sub(&ph->stats.files, 1);
	f->detach_ticket = link_reaper_put(ph->reaper, f->links, f->nlinks);
	f->nlinks = 0;
	if (!f->detach_ticket)
		file_free(ph, f);
}

/* Lets go of files held by none for the linger time, and frees those whose
 * links are gone. */
static void files_linger(struct python_hooks *ph, uint64_t now_ns)
{
	hmap_for_each(it, &ph->files) {
		struct hook_file *f = hmap_entry(it.node, struct hook_file, node);

		if (f->detach_ticket) {
			if (link_reaper_done(ph->reaper, f->detach_ticket))
				file_free(ph, f);
		} else if (!f->refs && now_ns - f->idle_since_ns >= ph->linger_ns) {
			file_let_go(ph, f);
		}
	}
}

/* Keeps a link just made (NULL: errno says why) with its file. */
static int keep_link(struct python_hooks *ph, struct hook_file *f,
		     struct bpf_link *link)
{
	int err = -errno;

	if (!link)
		return err;
	if (f->nlinks >= FILE_LINKS_MAX) {
		bpf_link__destroy(link);
		return -E2BIG;
	}
	f->links[f->nlinks++] = link;
	atomic_fetch_add(&ph->stats.links, 1);
	return 0;
}

static int attach_uprobe(struct python_hooks *ph, struct hook_file *f,
			 struct bpf_program *prog, const char *path,
			 const char *func, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func,
		    .retprobe = retprobe);

	return keep_link(ph, f,
			 bpf_program__attach_uprobe_opts(prog, -1, path, 0,
							 &opts));
}

static int attach_usdt(struct python_hooks *ph, struct hook_file *f,
		       struct bpf_program *prog, const char *path,
		       const char *name)
{
	return keep_link(ph, f,
			 bpf_program__attach_usdt(prog, -1, path, "python",
						  name, NULL));
}

/* SSL_read/SSL_write and their _ex variants, plus SSL_do_handshake so the
 * handshake's ciphertext never reaches the parser. One return probe for
 * all: the in-flight call says what it was. */
static void hook_tls(struct python_hooks *ph, struct hook_file *f,
		     const char *path, const char *base)
{
	static const char *const funcs[] = { "SSL_read", "SSL_write",
					     "SSL_read_ex", "SSL_write_ex",
					     "SSL_do_handshake" };
	struct podtap_py *s = ph->skel;
	struct bpf_program *entry[] = {
		s->progs.podtap_ssl_read, s->progs.podtap_ssl_write,
		s->progs.podtap_ssl_read_ex, s->progs.podtap_ssl_write_ex,
		s->progs.podtap_ssl_handshake,
	};
	bool found[5];
	unsigned int first = f->nlinks;
	int err = elf_defines(path, funcs, 5, found);

	if (err) {
		count_failure(ph, failure_of(err));
		return;
	}
	if (!found[0] || !found[1]) {
		/* An _ssl module or libpython linking a shared libssl is
		 * expected to lack them; a libssl without them is stripped. */
		if (!strncmp(base, "libssl", 6)) {
			count_failure(ph, HOOK_FAIL_NO_SYMBOL);
			log_warn("%s defines no SSL_read/SSL_write: HTTPS of "
				 "processes using it is not seen", path);
		}
		return;
	}
	for (int i = 0; i < 5 && !err; i++) {
		if (!found[i])
			continue;
		err = attach_uprobe(ph, f, entry[i], path, funcs[i], false);
		if (!err)
			err = attach_uprobe(ph, f, s->progs.podtap_ssl_return,
					    path, funcs[i], true);
	}
	if (err) {
		file_detach_from(ph, f, first);
		count_failure(ph, failure_of(err));
		log_warn("cannot attach SSL uprobes to %s: %s", path,
			 strerror(-err));
		return;
	}
	f->tls = true;
	log_info("HTTPS: SSL uprobes attached to %s", path);
}

/* greenlet 2 and 3 (C++): every switch into a greenlet restores its
 * interpreter state through PythonState::operator>>, and a new greenlet's
 * is prepared by set_initial_state; both exported, both given the
 * greenlet's own PythonState (bpf/podtap_py.bpf.c). */
static void hook_greenlet(struct python_hooks *ph, struct hook_file *f,
			  const char *path)
{
	static const char *const syms[] = {
		"_ZN8greenlet11PythonStatersEP3_ts",
		"_ZN8greenlet11PythonState17set_initial_stateEPK3_ts",
	};
	unsigned int first = f->nlinks;
	bool found[2];
	int err = elf_defines(path, syms, 2, found);

	if (err) {
		count_failure(ph, failure_of(err));
		return;
	}
	if (!found[0] || !found[1]) {
		count_failure(ph, HOOK_FAIL_NO_SYMBOL);
		log_warn("%s exports no greenlet::PythonState switch functions "
			 "(greenlet older than 2.0?): client calls of its "
			 "greenlets are parented by thread only", path);
		return;
	}
	for (int i = 0; i < 2 && !err; i++)
		err = attach_uprobe(ph, f, ph->skel->progs.podtap_greenlet_switch,
				    path, syms[i], false);
	if (err) {
		file_detach_from(ph, f, first);
		count_failure(ph, failure_of(err));
		log_warn("cannot hook greenlet switches in %s: %s", path,
			 strerror(-err));
		return;
	}
	log_info("greenlets: switches hooked in %s", path);
}

/* The collector's uprobe fallback reads `generation` as the second
 * argument of gc_collect_main, which is its place in 3.11 and 3.12. */
static bool gc_symbol_known(const char *version)
{
	return !strncmp(version, "3.11", 4) || !strncmp(version, "3.12", 4);
}

static void hook_gc(struct python_hooks *ph, struct hook_file *f,
		    const char *path, const struct runtime_info *info)
{
	static const char *const syms[] = { "Py_Initialize",
					    "gc_collect_main" };
	static const char *const probes[] = { "gc__start", "gc__done" };
	struct podtap_py *s = ph->skel;
	unsigned int first = f->nlinks;
	bool found[2], usdt;
	int err = elf_defines(path, syms, 2, found);

	if (err) {
		count_failure(ph, failure_of(err));
		return;
	}
	f->python = found[0];
	if (!f->python)
		return;
	usdt = elf_has_usdt(path, "python", probes, 2);
	if (usdt) {
		err = attach_usdt(ph, f, s->progs.podtap_gc_start_usdt, path,
				  "gc__start");
		if (!err)
			err = attach_usdt(ph, f, s->progs.podtap_gc_done_usdt,
					  path, "gc__done");
	} else if (!found[1]) {
		count_failure(ph, HOOK_FAIL_NO_SYMBOL);
		log_warn("%s has neither CPython's USDT probes nor a "
			 "gc_collect_main symbol (stripped?): its processes "
			 "report python_info only", path);
		return;
	} else if (!gc_symbol_known(info->version)) {
		count_failure(ph, HOOK_FAIL_UNKNOWN_VERSION);
		log_warn("%s (Python %s) has no USDT probes, and its "
			 "gc_collect_main is not one podtap knows: its "
			 "processes report python_info only", path,
			 info->version);
		return;
	} else {
		err = attach_uprobe(ph, f, s->progs.podtap_gc_collect, path,
				    "gc_collect_main", false);
		if (!err)
			err = attach_uprobe(ph, f,
					    s->progs.podtap_gc_collect_return,
					    path, "gc_collect_main", true);
	}
	if (err) {
		file_detach_from(ph, f, first);
		count_failure(ph, failure_of(err));
		log_warn("cannot hook the collector of %s: %s", path,
			 strerror(-err));
		return;
	}
	f->gc = true;
	log_info("Python GC: %s hooked through %s", path,
		 usdt ? "its USDT probes" : "a uprobe on gc_collect_main");
}

/* The file at `path` (as seen by the process), looked at for `roles` not
 * looked at before. NULL when it cannot be opened. */
static struct hook_file *file_get(struct python_hooks *ph, const char *path,
				  const char *base, unsigned int roles,
				  const struct runtime_info *info)
{
	struct stat st;
	struct file_id id;
	struct hook_file *f;
	struct hnode *n;
	uint64_t h;
	unsigned int todo;

	if (stat(path, &st)) {
		count_failure(ph, failure_of(-errno));
		return NULL;
	}
	id.dev = st.st_dev;
	id.ino = st.st_ino;
	h = file_hash(&id);
	n = hmap_find(&ph->files, h, &id, file_eq);
	f = n ? hmap_entry(n, struct hook_file, node) : NULL;
	if (f && f->detach_ticket) {
		/* Rare: a process of it came as it was let go. */
		link_reaper_wait(ph->reaper, f->detach_ticket);
		file_free(ph, f);
		f = NULL;
	}
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return NULL;
		f->dev = id.dev;
		f->ino = id.ino;
		hmap_insert(&ph->files, &f->node, h);
	}
	todo = roles & ~f->tried;
	f->tried |= todo;
	if (todo) {
		bool had_links = f->nlinks;

		if (todo & ROLE_INTERP)
			hook_gc(ph, f, path, info);
		if (todo & ROLE_TLS)
			hook_tls(ph, f, path, base);
		if (todo & ROLE_GREENLET)
			hook_greenlet(ph, f, path);
		if (!had_links && f->nlinks)
			atomic_fetch_add(&ph->stats.files, 1);
	}
	return f;
}

/* --- processes -------------------------------------------------------- */

static uint64_t proc_hash(uint32_t pid)
{
	return hash_u64(pid);
}

static bool proc_eq(const struct hnode *n, const void *key)
{
	return hmap_entry(n, struct py_proc, node)->pid == *(const uint32_t *)key;
}

static struct py_proc *proc_find(struct python_hooks *ph, uint32_t pid)
{
	struct hnode *n = hmap_find(&ph->procs, proc_hash(pid), &pid, proc_eq);

	return n ? hmap_entry(n, struct py_proc, node) : NULL;
}

static struct py_proc *proc_new(struct python_hooks *ph, uint32_t pid)
{
	struct py_proc *p;

	if (ph->procs.count >= PROCS_MAX) {
		count_failure(ph, HOOK_FAIL_TOO_MANY);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	hmap_insert(&ph->procs, &p->node, proc_hash(pid));
	return p;
}

static void notify(struct python_hooks *ph, const struct py_proc *p,
		   bool alive)
{
	struct python_process pp = { .pid = p->pid, .cgroup_id = p->cgroup_id,
				     .comm = p->comm, .info = &p->info };

	if (ph->on_process)
		ph->on_process(ph->ctx, &pp, alive);
}

static void proc_drop(struct python_hooks *ph, struct py_proc *p)
{
	if (p->state == PROC_TRACKED) {
		notify(ph, p, false);
		atomic_fetch_sub(&ph->stats.processes, 1);
	}
	bpf_map_delete_elem(ph->py_procs_fd, &p->pid);
	for (unsigned int i = 0; i < p->nfiles; i++)
		file_unref(ph, p->files[i]);
	hmap_remove(&ph->procs, &p->node);
	free(p);
}

static bool proc_holds(const struct py_proc *p, const struct hook_file *f)
{
	for (unsigned int i = 0; i < p->nfiles; i++)
		if (p->files[i] == f)
			return true;
	return false;
}

static void proc_hold(struct python_hooks *ph, struct py_proc *p,
		      struct hook_file *f)
{
	if (!f || proc_holds(p, f))
		return;
	f->refs++;
	f->idle_since_ns = 0;
	if (p->nfiles < PROC_FILES_MAX)
		p->files[p->nfiles++] = f;
	else
		file_unref(ph, f); /* never happens with real processes; a
				    * file held by none must not leak */
}

static unsigned int roles_of(const struct python_hooks *ph, const char *base)
{
	if (!strncmp(base, "libssl", 6) || !strncmp(base, "_ssl", 4))
		return ROLE_TLS;
	if (!strncmp(base, "_greenlet", 9))
		return ph->greenlets ? ROLE_GREENLET : 0;
	/* A libpython may have OpenSSL linked in. */
	if (!strncmp(base, "libpython", 9))
		return ROLE_INTERP | ROLE_TLS;
	return 0;
}

/* Reads /proc/PID/maps and hooks the files that matter that this process
 * did not hold yet. */
static void proc_scan(struct python_hooks *ph, struct py_proc *p)
{
	char path[4352], line[4352], exe[4096] = "";
	bool has_libpython = false;
	FILE *maps;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/exe", p->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%u/maps", p->pid);
	maps = fopen(path, "re");
	if (!maps)
		return;
	/* Two passes: a libpython, when mapped, is the interpreter, not the
	 * small executable that loads it. */
	for (int pass = 0; pass < 2; pass++) {
		rewind(maps);
		while (fgets(line, sizeof(line), maps)) {
			char perms[8], *file = strchr(line, '/');
			const char *base;
			unsigned int roles;

			if (!file || sscanf(line, "%*s %7s", perms) != 1 ||
			    perms[2] != 'x')
				continue;
			file[strcspn(file, "\n")] = '\0';
			if (strstr(file, " (deleted)"))
				continue;
			base = strrchr(file, '/') + 1;
			roles = roles_of(ph, base);
			if (!strcmp(file, exe))
				roles |= ROLE_TLS | (has_libpython ? 0 : ROLE_INTERP);
			if (!strncmp(base, "libpython", 9))
				has_libpython = true;
			if (pass == 0 || !roles)
				continue;
			snprintf(path, sizeof(path), "/proc/%u/root%s", p->pid,
				 file);
			proc_hold(ph, p, file_get(ph, path, base, roles, &p->info));
		}
	}
	fclose(maps);
}

static bool proc_is_python(const struct py_proc *p)
{
	for (unsigned int i = 0; i < p->nfiles; i++)
		if (p->files[i]->python)
			return true;
	return false;
}

static uint64_t cgroup_id_of(struct python_hooks *ph, uint32_t pid)
{
	char rel[4096], path[4700];
	struct stat st;

	if (!ph->cgroup_root[0] ||
	    cgroup_path_of_pid(ph->cgroup_root, pid, rel, sizeof(rel)))
		return 0;
	snprintf(path, sizeof(path), "%s%s", ph->cgroup_root, rel);
	/* A cgroup v2 id is its directory's inode number. */
	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

static void read_comm(uint32_t pid, char *out)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	out[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, PODTAP_COMM_LEN, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* Looks at a process: tracked and hooked if it runs CPython, else
 * forgotten. */
static void proc_examine(struct python_hooks *ph, struct py_proc *p)
{
	uint8_t one = 1;

	p->due_ns = 0;
	if (!runtime_info_read(p->pid, &p->info)) {
		proc_drop(ph, p);
		return;
	}
	if (!p->cgroup_id)
		p->cgroup_id = cgroup_id_of(ph, p->pid);
	if (!p->comm[0])
		read_comm(p->pid, p->comm);
	/* In the kernel's set first, so SSL calls made while the files are
	 * being hooked are already wanted. */
	if (bpf_map_update_elem(ph->py_procs_fd, &p->pid, &one, BPF_ANY)) {
		count_failure(ph, HOOK_FAIL_TOO_MANY);
		proc_drop(ph, p);
		return;
	}
	proc_scan(ph, p);
	if (!proc_is_python(p)) {
		proc_drop(ph, p);
		return;
	}
	p->state = PROC_TRACKED;
	atomic_fetch_add(&ph->stats.processes, 1);
	log_debug("Python process %u (%s, %s %s)", p->pid, p->comm,
		  p->info.name, p->info.version);
	notify(ph, p, true);
}

static void on_exec(struct python_hooks *ph, const struct podtap_event *ev)
{
	struct py_proc *p = proc_find(ph, ev->pid);

	if (p)
		proc_drop(ph, p); /* a new program replaces the old one */
	p = proc_new(ph, ev->pid);
	if (!p)
		return;
	p->state = PROC_PENDING;
	p->due_ns = ev->ts_ns + EXEC_SETTLE_NS;
	p->cgroup_id = ev->cgroup_id;
	memcpy(p->comm, ev->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
}

/* The kernel tracks the child already; it shares its parent's files. */
static void on_fork(struct python_hooks *ph, const struct podtap_event *ev)
{
	const struct podtap_fork *fk = (const void *)ev->payload;
	struct py_proc *parent, *child;

	if (ev->captured < sizeof(*fk) || proc_find(ph, fk->child_pid))
		return;
	parent = proc_find(ph, fk->parent_pid);
	child = proc_new(ph, fk->child_pid);
	if (!child) {
		bpf_map_delete_elem(ph->py_procs_fd, &fk->child_pid);
		return;
	}
	if (!parent || parent->state != PROC_TRACKED) {
		child->state = PROC_PENDING;
		child->due_ns = ev->ts_ns;
		child->cgroup_id = ev->cgroup_id;
		return;
	}
	child->state = PROC_TRACKED;
	child->cgroup_id = ev->cgroup_id;
	memcpy(child->comm, parent->comm, sizeof(child->comm));
	child->info = parent->info;
	for (unsigned int i = 0; i < parent->nfiles; i++)
		proc_hold(ph, child, parent->files[i]);
	atomic_fetch_add(&ph->stats.processes, 1);
	notify(ph, child, true);
}

void python_hooks_handle_event(struct python_hooks *ph,
			       const struct podtap_event *ev)
{
	struct py_proc *p;

	switch (ev->kind) {
	case PODTAP_EV_EXEC:
		on_exec(ph, ev);
		break;
	case PODTAP_EV_FORK:
		on_fork(ph, ev);
		break;
	case PODTAP_EV_LIB_MAPPED:
		p = proc_find(ph, ev->pid);
		if (p && p->state == PROC_TRACKED && !p->due_ns)
			p->due_ns = ev->ts_ns;
		break;
	case PODTAP_EV_PROC_EXIT:
		p = proc_find(ph, ev->pid);
		if (p)
			proc_drop(ph, p);
		break;
	default:
		break;
	}
}

void python_hooks_tick(struct python_hooks *ph, uint64_t now_ns)
{
	if (now_ns >= ph->next_linger_scan_ns) {
		files_linger(ph, now_ns);
		ph->next_linger_scan_ns = now_ns + LINGER_SCAN_NS;
	}
	hmap_for_each(it, &ph->procs) {
		struct py_proc *p = hmap_entry(it.node, struct py_proc, node);

		if (!p->due_ns || p->due_ns > now_ns)
			continue;
		if (p->state == PROC_PENDING) {
			proc_examine(ph, p);
		} else {
			p->due_ns = 0;
			proc_scan(ph, p);
		}
	}
}

/* The Python processes running before we started. */
static void scan_running(struct python_hooks *ph)
{
	uint32_t self = getpid();
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d) {
		log_warn("cannot list /proc: %s; Python processes running "
			 "now are not hooked", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		struct py_proc *p;
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid == self || proc_find(ph, pid))
			continue;
		p = proc_new(ph, pid);
		if (p)
			proc_examine(ph, p);
	}
	closedir(d);
}

/* --- object ----------------------------------------------------------- */

static int attach_process_events(struct python_hooks *ph)
{
	/* Executable mappings (LIB_MAPPED) come from podtap_sys_exit. */
	struct bpf_program *progs[] = { ph->skel->progs.podtap_proc_exec,
					ph->skel->progs.podtap_proc_fork };

	_Static_assert(ARRAY_SIZE(progs) == ARRAY_SIZE(ph->proc_links),
		       "a link per program");
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		ph->proc_links[i] = bpf_program__attach(progs[i]);
		if (!ph->proc_links[i]) {
			int err = -errno;

			log_error("cannot attach %s: %s",
				  bpf_program__name(progs[i]), strerror(-err));
			return err;
		}
	}
	return 0;
}

int python_hooks_open(struct python_hooks **out, struct capture *cap,
		      const struct python_hooks_opts *opts)
{
	struct python_hooks *ph;
	int err;

	*out = NULL;
	ph = calloc(1, sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	ph->on_process = opts->on_process;
	ph->ctx = opts->ctx;
	ph->linger_ns = opts->linger_ns;
	ph->greenlets = opts->greenlets;
	ph->reaper = link_reaper_new(&ph->stats.links);
	if (!ph->reaper) {
		err = -errno;
		log_error("cannot start the link reaper thread: %s",
			  strerror(errno));
		free(ph);
		return err;
	}
	if (hmap_init(&ph->procs) || hmap_init(&ph->files)) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (cgroup2_mount_point(ph->cgroup_root, sizeof(ph->cgroup_root)))
		ph->cgroup_root[0] = '\0';
	ph->skel = podtap_py__open();
	if (!ph->skel) {
		err = -errno;
		log_error("cannot open the Python hooks' BPF object: %s",
			  strerror(-err));
		goto cleanup;
	}
	ph->skel->rodata->self_tgid = getpid();
	ph->skel->rodata->payload_size = opts->payload_size;
	ph->skel->rodata->wakeup_min_bytes = capture_wakeup_min_bytes(cap);
	ph->skel->rodata->trace_ctx_on = opts->trace_ctx.on;
	ph->skel->rodata->sampler_parent_based = opts->trace_ctx.parent_based;
	ph->skel->rodata->root_sample_bound = opts->trace_ctx.root_sample_bound;
	err = capture_share_maps(cap, ph->skel->obj);
	if (err) {
		log_error("cannot share maps with the Python hooks: %s",
			  strerror(-err));
		goto cleanup;
	}
	if (opts->observer && opts->observer->before)
		opts->observer->before(opts->observer->ctx, ph->skel->obj);
	err = podtap_py__load(ph->skel);
	if (opts->observer && opts->observer->after)
		opts->observer->after(opts->observer->ctx, ph->skel->obj, err);
	if (err) {
		log_error("cannot load the Python hooks' BPF programs: %s "
			  "(rerun with --verbose for the verifier's log)",
			  strerror(-err));
		goto cleanup;
	}
	ph->py_procs_fd = bpf_map__fd(ph->skel->maps.podtap_py_procs);
	err = attach_process_events(ph);
	if (err)
		goto cleanup;
	/* Beside the capture's pins; the maps it shares are pinned there. */
	if (opts->pins && pins_add_object(opts->pins, ph->skel->obj))
		log_warn("the Python hooks' programs are not all pinned");
	scan_running(ph);
	log_info("Python hooks: %llu processes, %llu files hooked",
		 (unsigned long long)atomic_load(&ph->stats.processes),
		 (unsigned long long)atomic_load(&ph->stats.files));
	*out = ph;
	return 0;

cleanup:
	python_hooks_close(ph);
	return err;
}

const struct python_hooks_stats *python_hooks_stats(struct python_hooks *ph)
{
	return &ph->stats;
}

void python_hooks_close(struct python_hooks *ph)
{
	if (!ph)
		return;
	hmap_for_each(it, &ph->procs) {
		proc_drop(ph, hmap_entry(it.node, struct py_proc, node));
	}
	/* Every file is held by none now: all go to the reaper, which ends
	 * once they are destroyed. */
	hmap_for_each(it, &ph->files) {
		struct hook_file *f = hmap_entry(it.node, struct hook_file, node);

		if (!f->detach_ticket)
			file_let_go(ph, f);
	}
	link_reaper_free(ph->reaper);
	hmap_for_each(it, &ph->files) {
		file_free(ph, hmap_entry(it.node, struct hook_file, node));
	}
	for (size_t i = 0; i < ARRAY_SIZE(ph->proc_links); i++)
		bpf_link__destroy(ph->proc_links[i]);
	podtap_py__destroy(ph->skel);
	hmap_free(&ph->procs);
	hmap_free(&ph->files);
	free(ph);
}
