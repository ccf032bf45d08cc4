/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Is this fd of the current task a socket? Walks task->files with CO-RE, so
 * regular file, pipe and tty I/O is filtered out before any copy. */
#ifndef PODTAP_SOCKFD_BPF_H
#define PODTAP_SOCKFD_BPF_H

#define PODTAP_S_IFMT 00170000
#define PODTAP_S_IFSOCK 0140000

/* The current task's file for fd, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	unsigned int max_fds;

	if (fd < 0 || !fdt)
		return NULL;
	max_fds = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max_fds)
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

static __always_inline bool fd_is_socket(int fd)
{
	struct file *file = fd_file(fd);
	umode_t mode;

	if (!file)
		return false;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	return (mode & PODTAP_S_IFMT) == PODTAP_S_IFSOCK;
}

#define PODTAP_AF_INET 2
#define PODTAP_AF_INET6 10

/* Local and remote address of the socket behind fd (zeroes if unknown). */
static __always_inline void fd_sock_addrs(int fd, struct podtap_sock_addrs *a)
{
	struct file *file = fd_file(fd);
	struct socket *sock;
	struct sock *sk;

	if (!file)
		return;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	a->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	a->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	a->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* bpf_core_read with explicit sizes: the destinations are byte
	 * arrays, which BPF_CORE_READ_INTO would size as one byte. */
	if (a->family == PODTAP_AF_INET) {
		bpf_core_read(a->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(a->remote_addr, 4, &sk->__sk_common.skc_daddr);
	} else if (a->family == PODTAP_AF_INET6) {
		bpf_core_read(a->local_addr, 16,
			      &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(a->remote_addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

#endif /* PODTAP_SOCKFD_BPF_H */
