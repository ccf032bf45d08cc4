# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Checks of the documentation against the tree, for tests/e2e/docs.bats.

  docs_check.py paths REPO FILE...  every repository path a page names
                                    (user/..., bpf/..., tests/..., helm/...,
                                    docs/...) exists; <placeholders> and
                                    globs must match something
  docs_check.py links REPO FILE...  every relative markdown link resolves
                                    to a file or directory, and its #anchor
                                    to a heading of the page it names

Prints one line per problem ("FILE:LINE: ...") and exits 1 if there is
any, else prints what it checked.
"""
import glob
import os
import re
import sys

ROOTS = ("user", "bpf", "tests", "helm", "docs")
# A path starts a token (not inside a longer path or URL) at one of ROOTS.
PATH = re.compile(r"(?<![\w./~$@:-])((?:%s)/[\w./<>*{}+-]*)" % "|".join(ROOTS))
LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def prose_lines(lines):
    """(number, line) outside fenced code blocks."""
    fenced = False
    for n, line in enumerate(lines, 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield n, line


def slug(heading):
    """The anchor GitHub gives a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    seen, out = {}, set()
    for _, line in prose_lines(read(path)):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        s = slug(m.group(1))
        if s in seen:
            seen[s] += 1
            s = f"{s}-{seen[s]}"
        else:
            seen[s] = 0
        out.add(s)
    return out


def check_paths(repo, files):
    bad, n = [], 0
    for f in files:
        for num, line in enumerate(read(os.path.join(repo, f)), 1):
            for m in PATH.finditer(line):
                p = m.group(1).rstrip(".,:;")
                if "..." in p:
                    continue  # "user/...": a kind of path, not one
                n += 1
                pattern = re.sub(r"<[^>]*>", "*", p)
                pattern = re.sub(r"\{[^}]*\}", "*", pattern)
                full = os.path.join(repo, pattern)
                if any(c in pattern for c in "*?["):
                    ok = bool(glob.glob(full))
                else:
                    ok = os.path.exists(full)
                if not ok:
                    bad.append(f"{f}:{num}: {p}: no such path in the tree")
    return bad, f"{n} paths named in {len(files)} files exist"


def check_links(repo, files):
    bad, n = [], 0
    cache = {}
    for f in files:
        here = os.path.dirname(os.path.join(repo, f))
        for num, line in prose_lines(read(os.path.join(repo, f))):
            for m in LINK.finditer(CODE_SPAN.sub("", line)):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # http:, https:, mailto:
                n += 1
                path, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(here, path)) if path \
                    else os.path.join(repo, f)
                if not os.path.exists(dest):
                    bad.append(f"{f}:{num}: {target}: {path} does not exist")
                    continue
                if not anchor:
                    continue
                if not dest.endswith(".md") or os.path.isdir(dest):
                    bad.append(f"{f}:{num}: {target}: an anchor into a "
                               "file that is no markdown page")
                    continue
                if dest not in cache:
                    cache[dest] = anchors(dest)
                if anchor not in cache[dest]:
                    bad.append(f"{f}:{num}: {target}: no heading "
                               f"#{anchor} in {os.path.relpath(dest, repo)}")
    return bad, f"{n} relative links in {len(files)} files resolve"


def main():
    what, repo, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad, summary = {"paths": check_paths, "links": check_links}[what](
        repo, files)
    print("\n".join(bad) if bad else summary)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
