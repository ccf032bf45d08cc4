// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "python/elf_symbols.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

static Elf *elf_open(const char *path, int *fd)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(*fd);
		*fd = -1;
		errno = ENOEXEC;
		return NULL;
	}
	return elf;
}

static void scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
			const char *const *names, size_t n, bool *found)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t count = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; data && i < count; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		for (size_t k = 0; k < n; k++)
			if (!found[k] && !strcmp(name, names[k]))
				found[k] = true;
	}
}

int elf_defines(const char *path, const char *const *names, size_t n,
		bool *found)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	memset(found, 0, n * sizeof(*found));
	elf = elf_open(path, &fd);
	if (!elf)
		return -errno;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) &&
		    (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM))
			scan_symtab(elf, scn, &sh, names, n, found);
	}
	elf_end(elf);
	close(fd);
	return 0;
}

/* SDT notes (type 3, owner "stapsdt") are: pc, base, semaphore addresses,
 * then provider, name and argument strings. */
static bool note_matches(const char *desc, size_t size, size_t addr_size,
			 const char *provider, const char *name)
{
	size_t off = 3 * addr_size, plen;

	if (size <= off)
		return false;
	plen = strnlen(desc + off, size - off);
	if (off + plen + 1 >= size || strcmp(desc + off, provider))
		return false;
	off += plen + 1;
	return strnlen(desc + off, size - off) < size - off &&
	       !strcmp(desc + off, name);
}

bool elf_has_usdt(const char *path, const char *provider,
		  const char *const *names, size_t n)
{
	Elf_Scn *scn = NULL;
	size_t addr_size, left = n;
	bool seen[8] = { false };
	Elf *elf;
	int fd;

	if (n > 8)
		return false;
	elf = elf_open(path, &fd);
	if (!elf)
		return false;
	addr_size = gelf_getclass(elf) == ELFCLASS32 ? 4 : 8;
	while (left && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		Elf_Data *data;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		while (data && left &&
		       (off = gelf_getnote(data, off, &nh, &name_off, &desc_off))) {
			const char *owner = (const char *)data->d_buf + name_off;

			if (nh.n_type != 3 || nh.n_namesz != sizeof("stapsdt") ||
			    memcmp(owner, "stapsdt", sizeof("stapsdt")))
				continue;
			for (size_t i = 0; i < n; i++)
				if (!seen[i] &&
				    note_matches((const char *)data->d_buf + desc_off,
						 nh.n_descsz, addr_size, provider,
						 names[i])) {
					seen[i] = true;
					left--;
				}
		}
	}
	elf_end(elf);
	close(fd);
	return !left;
}
