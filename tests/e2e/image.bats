#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The Dockerfile, checked without a Docker engine (there is none here):
#   - the final stage copies exactly one thing, the build stage's
#     build/podtap, and is Debian slim of the same release as the build;
#   - the packages it installs provide every library `ldd build/podtap`
#     loads (each library's package, from dpkg -S, is listed or is a
#     dependency of a listed one), and each library podtap links directly
#     (DT_NEEDED) has its package listed by name;
#   - the build stage installs the Makefile's BUILD_PKGS, and copies into
#     the image only what .dockerignore lets into the build context;
#   - the chart's default image is the name the README says to build.

bats_require_minimum_version 1.5.0

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
DOCKERFILE="$REPO/Dockerfile"
BIN="$REPO/build/podtap"

# stage N: the Dockerfile's Nth stage (1-based), continuation lines joined,
# comments dropped.
stage() {
	sed -e '/^[[:space:]]*#/d' "$DOCKERFILE" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
		awk -v n="$1" '/^FROM /{ s++ } s == n'
}

# apt_pkgs N: the packages stage N installs with apt-get install.
apt_pkgs() {
	stage "$1" | grep -o 'apt-get install [^&]*' |
		sed -e 's/apt-get install//' | tr ' ' '\n' |
		grep -v -e '^-' -e '^$' | sort -u
}

# closure PKG...: the packages and everything they depend on (Depends and
# Pre-Depends, recursively), from dpkg's database of installed packages.
closure() {
	local -A seen=()
	local -a todo=("$@")
	local p deps d
	while [ "${#todo[@]}" -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[ -n "${seen[$p]:-}" ] && continue
		seen[$p]=1
		deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null) || continue
		# "a (>= 1), b | c" -> a b c (each alternative may be the one).
		for d in $(tr ',|' '\n\n' <<<"$deps" | sed -e 's/(.*)//' -e 's/:any//' -e 's/ //g' | sed '/^$/d'); do
			[ -z "${seen[$d]:-}" ] && todo+=("$d")
		done
	done
	printf '%s\n' "${!seen[@]}" | sort
}

# pkg_of PATH: the Debian package that ships the file (architecture qualifier
# dropped).
pkg_of() {
	local real
	real=$(readlink -f "$1")
	{ dpkg -S "$real" 2>/dev/null || dpkg -S "$1"; } | head -n 1 | sed 's/[:,].*//'
}

setup_file() {
	[ -x "$BIN" ] || { echo "$BIN missing: run make" >&2; return 1; }
}

@test "two stages; the final one is Debian slim like the build stage and copies only build/podtap" {
	local from1 from2 copies
	[ "$(grep -c '^FROM ' "$DOCKERFILE")" -eq 2 ]
	from1=$(stage 1 | head -n 1)
	from2=$(stage 2 | head -n 1)
	[[ "$from1" == "FROM debian:\${DEBIAN_RELEASE}-slim AS build" ]]
	[[ "$from2" == "FROM debian:\${DEBIAN_RELEASE}-slim" ]]
	grep -qx 'ARG DEBIAN_RELEASE=bookworm' "$DOCKERFILE"
	copies=$(stage 2 | grep -E '^(COPY|ADD) ')
	[ "$copies" = "COPY --from=build /src/build/podtap /usr/local/bin/podtap" ]
	# The build stage builds where the final stage copies from.
	stage 1 | grep -qx 'WORKDIR /src'
	stage 1 | grep -q '^RUN make '
	stage 2 | grep -qx 'ENTRYPOINT \["/usr/local/bin/podtap"\]'
	stage 2 | grep -qx 'EXPOSE 9464'
}

@test "the final stage's packages provide every library ldd build/podtap loads" {
	local -a listed
	local all lib pkg missing=""
	mapfile -t listed < <(apt_pkgs 2)
	[ "${#listed[@]}" -gt 0 ]
	all=$(closure "${listed[@]}")
	for lib in $(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		pkg=$(pkg_of "$lib")
		[ -n "$pkg" ] || { echo "no package ships $lib" >&2; return 1; }
		grep -qx "$pkg" <<<"$all" || missing="$missing $lib($pkg)"
	done
	[ -z "$missing" ] || { echo "not provided by the final stage:$missing" >&2; return 1; }
	# Nothing that only builds (headers, compilers) in the final image.
	[ "$(printf '%s\n' "${listed[@]}" | grep -cE -- '-dev$|^(clang|llvm|gcc|make|bpftool)$')" -eq 0 ]
	printf '%s\n' "${listed[@]}" | grep -qx ca-certificates
}

@test "each library podtap links directly has its package named in the final stage" {
	local listed so path pkg
	listed=$(apt_pkgs 2)
	for so in $(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldd "$BIN" | awk -v so="$so" '$1 == so { print $3 }')
		[ -n "$path" ] || { echo "ldd does not resolve $so" >&2; return 1; }
		pkg=$(pkg_of "$path")
		# libc6 is in every Debian image (Essential: yes).
		[ "$pkg" = libc6 ] && continue
		grep -qx "$pkg" <<<"$listed" ||
			{ echo "$so ($pkg) is linked directly but not installed by name" >&2; return 1; }
	done
}

@test "the build stage installs the Makefile's BUILD_PKGS and copies only what .dockerignore lets in" {
	local want got src
	want=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$REPO/Makefile" |
		sed -n 's/^BUILD_PKGS := //p' | tr ' \t' '\n\n' | sed '/^$/d' | sort -u)
	[ -n "$want" ]
	got=$(apt_pkgs 1)
	[ "$want" = "$got" ] || { diff <(echo "$want") <(echo "$got") >&2; return 1; }
	# .dockerignore: everything out, then exactly the sources back in.
	[ "$(grep -v -e '^#' -e '^$' "$REPO/.dockerignore" | head -n 1)" = '*' ]
	for src in $(stage 1 | awk '/^COPY / && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }'); do
		src=${src%/}
		grep -qx "!$src/\?" "$REPO/.dockerignore" ||
			{ echo "COPY $src is not let into the context by .dockerignore" >&2; return 1; }
		[ -e "$REPO/$src" ]
	done
}

@test "the chart's default image is the one the README tells how to build and push" {
	local repo app
	repo=$(sed -n 's/^  repository: //p' "$REPO/helm/podtap/values.yaml")
	app=$(sed -n 's/^appVersion: "\(.*\)"/\1/p' "$REPO/helm/podtap/Chart.yaml")
	[ "$repo" = ghcr.io/podtap/podtap ]
	[ -n "$app" ]
	grep -qF "docker build -t $repo:$app ." "$REPO/helm/podtap/README.md"
	grep -qF "docker push $repo:$app" "$REPO/helm/podtap/README.md"
	grep -qF "docker build -t $repo:$app ." "$DOCKERFILE"
}
