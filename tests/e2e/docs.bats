#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The documentation against the tree, without building or starting
# anything: every repository path README.md and docs/*.md name exists, every
# relative link and anchor in them resolves, README.md stays the short page
# a user reads first (with the two commands CI and users run), every page of
# docs/ is linked from it, and the folders of user/ include one another in
# the order docs/ARCHITECTURE.md gives (tests/e2e/lib/import_order.sh).
# Needs no root.

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# The pages checked, relative to the repository.
pages() {
	(cd "$REPO" && ls README.md docs/*.md)
}

@test "README.md is under 200 lines" {
	local n
	n=$(wc -l <"$REPO/README.md")
	echo "README.md: $n lines"
	[ "$n" -lt 200 ]
}

@test "README.md's quick start runs make run and make test, and CI runs make test" {
	grep -qE '^make run( |$)' "$REPO/README.md"
	grep -qE '^make test( |$)' "$REPO/README.md"
	grep -qE '^[^#]*\bmake test\b' "$REPO/.ci/run"
}

@test "every page in docs/ is linked from README.md" {
	local page missing=0
	for page in "$REPO"/docs/*.md; do
		page=docs/${page##*/}
		grep -qF "]($page" "$REPO/README.md" ||
			{ echo "$page: not linked from README.md"; missing=1; }
	done
	[ "$missing" = 0 ]
}

@test "every repository path named in README.md and docs/*.md exists" {
	mapfile -t files < <(pages)
	run "$PY" "$REPO/tests/e2e/lib/docs_check.py" paths "$REPO" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every relative link in README.md and docs/*.md resolves, anchors included" {
	mapfile -t files < <(pages)
	run "$PY" "$REPO/tests/e2e/lib/docs_check.py" links "$REPO" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the folders of user/ include one another in the import order" {
	run "$REPO/tests/e2e/lib/import_order.sh" "$REPO"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the import-order check names an include that goes the wrong way" {
	local t=$BATS_TEST_TMPDIR/tree
	mkdir -p "$t/user/lib" "$t/user/http" "$t/user/daemon"
	printf '#include "lib/log.h"\n#include "http/route.h"\n' >"$t/user/lib/log.c"
	printf '#include "lib/log.h"\n#include "bpf/contract.h"\n' >"$t/user/http/route.h"
	printf '#include "route.h"\n#include "http/route.h"\n' >"$t/user/daemon/main.c"
	run "$REPO/tests/e2e/lib/import_order.sh" "$t"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *'user/lib/log.c:2: #include "http/route.h": lib may not include http'* ]]
	[[ "$output" == *'user/daemon/main.c:1: #include "route.h": name it with its folder ("http/route.h")'* ]]
	[[ "$output" != *user/http/route.h* ]]
	[[ "$output" != *'main.c:2'* ]]
}

@test "the link check names a missing file and a missing anchor" {
	local t=$BATS_TEST_TMPDIR/site
	mkdir -p "$t/docs"
	# shellcheck disable=SC2016 # a literal `b`: a heading with code in it
	printf '# Top\n\n## A `b` c\n\n[ok](#a-b-c) [ok](../README.md#top)\n' >"$t/docs/x.md"
	printf '# Top\n\n[no](docs/y.md) [no](docs/x.md#nowhere) [ok](docs/x.md#top)\n' \
		>"$t/README.md"
	run "$PY" "$REPO/tests/e2e/lib/docs_check.py" links "$t" README.md docs/x.md
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "README.md:3: docs/y.md: docs/y.md does not exist" ]]
	[[ "${lines[1]}" == "README.md:3: docs/x.md#nowhere: no heading #nowhere in docs/x.md" ]]
}
