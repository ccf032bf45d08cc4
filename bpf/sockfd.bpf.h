/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The socket behind an fd of the current task. Walks task->files with
 * CO-RE, so regular file, pipe and tty I/O is filtered out before any copy,
 * and finds the socket's struct file: the identity of a connection, shared
 * by every fd (dup, fork, SCM_RIGHTS) that names it. */
#ifndef PODTAP_SOCKFD_BPF_H
#define PODTAP_SOCKFD_BPF_H

#define PODTAP_S_IFMT 00170000
#define PODTAP_S_IFSOCK 0140000

/*
 * The current task's file for fd, or NULL. This runs on every read and
 * write of every process on the node, sockets or not: the task's BTF
 * pointer lets task->files->fdt be walked by plain loads (the verifier
 * makes them faulting-safe) instead of a helper call per pointer; only the
 * slot of the fd array, indexed, needs one.
 */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	struct fdtable *fdt;
	struct file *file = NULL;

	if (fd < 0 || !files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]))
		return NULL;
	return file;
}

/*
 * The same walk without a helper call, on kernels with the kfunc
 * bpf_rdonly_cast (6.2 and later; the daemon loads the program that uses
 * it only there): the fd array's slot and the file are read by plain,
 * faulting-safe loads through pointers cast to a BTF type. The slot is
 * read as a list_head's `next`: any type whose first member is a pointer
 * would do, and list_head's layout never changes.
 */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

static __always_inline struct file *fd_file_cast(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct files_struct *files = task->files;
	struct list_head *slot;
	struct fdtable *fdt;

	if (fd < 0 || !files)
		return NULL;
	fdt = files->fdt;
	if (!fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	slot = bpf_rdonly_cast((void *)fdt->fd + (__u64)fd * sizeof(void *),
			       bpf_core_type_id_kernel(struct list_head));
	return (struct file *)slot->next;
}

/*
 * A file's fields: with cast (the program for kernels with
 * bpf_rdonly_cast) by plain loads through pointers cast to their BTF
 * types, else by a helper call per field. The fd walk reads f_op on every
 * read and write; a connection's start and end read its inode, f_op and
 * addresses, about a dozen fields, and gunicorn's sync workers (and the
 * client that calls them) make and close a connection per request.
 */
static __always_inline struct file *file_btf(struct file *file)
{
	return bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
}

static __always_inline __u64 file_ino(struct file *file, bool cast)
{
	if (cast)
		return file_btf(file)->f_inode->i_ino;
	return BPF_CORE_READ(file, f_inode, i_ino);
}

static __always_inline __u64 file_fops(struct file *file, bool cast)
{
	if (cast)
		return (__u64)file_btf(file)->f_op;
	return (__u64)BPF_CORE_READ(file, f_op);
}

/*
 * socket_file_ops, the f_op of every socket's file, as first seen on a
 * socket. It is static in the kernel, in no BTF, and in kallsyms only with
 * CONFIG_KALLSYMS_ALL, so it is learned: the first file whose inode says
 * S_IFSOCK gives it. From then on one load tells a socket from any other
 * file, where the inode's mode took two.
 */
__u64 socket_fops = 0;

/* The socket's struct file behind fd, or NULL when fd is no socket; cast:
 * walk by fd_file_cast (a constant: each program uses one walk). */
static __always_inline struct file *fd_socket_walk(int fd, bool cast)
{
	struct file *file = cast ? fd_file_cast(fd) : fd_file(fd);
	__u64 fops;
	umode_t mode;

	if (!file)
		return NULL;
	fops = file_fops(file, cast);
	if (socket_fops)
		return fops == socket_fops ? file : NULL;
	mode = cast ? file_btf(file)->f_inode->i_mode
		    : BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & PODTAP_S_IFMT) != PODTAP_S_IFSOCK)
		return NULL;
	socket_fops = fops;
	return file;
}

static __always_inline struct file *fd_socket(int fd)
{
	return fd_socket_walk(fd, false);
}

/* Before 6.13 a file counted its references in f_count; since then in
 * f_ref, as the count less one (include/linux/file_ref.h). */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* After a close, was that the socket's last reference? Only then does the
 * connection end: closing one of several fds (a forking server's parent,
 * an inetd-style dup) leaves the socket open. The file is still there at
 * the syscall's exit: its release is queued to run on the way back to user
 * mode. f_ref holds the count less one, and a negative value (FILE_REF_DEAD
 * or _NOREF) once the last is gone. */
static __always_inline bool file_released(struct file *file)
{
	if (bpf_core_field_exists(struct file___f_count, f_count))
		return BPF_CORE_READ((struct file___f_count *)file,
				     f_count.counter) <= 0;
	return (long)BPF_CORE_READ(file, f_ref.refcnt.counter) < 0;
}

#define PODTAP_AF_INET 2
#define PODTAP_AF_INET6 10

/* The struct sock of a socket's file, as a number (0 if unknown). */
static __always_inline __u64 file_sk_id(struct file *file, bool cast)
{
	struct socket *sock;

	if (!file)
		return 0;
	if (cast) {
		sock = bpf_rdonly_cast(file_btf(file)->private_data,
				       bpf_core_type_id_kernel(struct socket));
		return (__u64)sock->sk;
	}
	sock = BPF_CORE_READ(file, private_data);
	return (__u64)BPF_CORE_READ(sock, sk);
}

/* Local and remote address of a socket's file (zeroes if unknown). */
static __always_inline void file_sock_addrs(struct file *file,
					    struct podtap_sock_addrs *a,
					    bool cast)
{
	struct sock_common *c;
	struct socket *sock;
	struct sock *sk;

	if (!file)
		return;
	if (cast) {
		sock = bpf_rdonly_cast(file_btf(file)->private_data,
				       bpf_core_type_id_kernel(struct socket));
		sk = sock->sk;
		if (!sk)
			return;
		c = &sk->__sk_common;
		a->family = c->skc_family;
		a->local_port = c->skc_num;
		a->remote_port = bpf_ntohs(c->skc_dport);
		if (a->family == PODTAP_AF_INET) {
			*(__u32 *)a->local_addr = c->skc_rcv_saddr;
			*(__u32 *)a->remote_addr = c->skc_daddr;
		} else if (a->family == PODTAP_AF_INET6) {
			for (int i = 0; i < 4; i++) {
				((__u32 *)a->local_addr)[i] =
					c->skc_v6_rcv_saddr.in6_u.u6_addr32[i];
				((__u32 *)a->remote_addr)[i] =
					c->skc_v6_daddr.in6_u.u6_addr32[i];
			}
		}
		return;
	}
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
