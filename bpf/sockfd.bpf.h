/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Is this fd of the current task a socket? Walks task->files with CO-RE, so
 * regular file, pipe and tty I/O is filtered out before any copy. */
#ifndef PODTAP_SOCKFD_BPF_H
#define PODTAP_SOCKFD_BPF_H

#define PODTAP_S_IFMT 00170000
#define PODTAP_S_IFSOCK 0140000

static __always_inline bool fd_is_socket(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	unsigned int max_fds;
	umode_t mode;

	if (fd < 0 || !fdt)
		return false;
	max_fds = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max_fds)
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return false;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	return (mode & PODTAP_S_IFMT) == PODTAP_S_IFSOCK;
}

#endif /* PODTAP_SOCKFD_BPF_H */
