#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# import_order.sh [REPO]: checks that the folders of user/ include one
# another one way only (docs/ARCHITECTURE.md, "Folders and the import
# order"). A folder may include itself and the folders before it in ORDER,
# as "folder/file.h"; from bpf/ only the BPF<->user contract,
# bpf/contract.h. Headers without a folder are generated ones (build/); a
# user header named without its folder is refused, since the rule could
# not be checked. Prints every include that breaks the order and exits 1,
# else prints a one-line summary. Needs no build and no root.
set -u

ORDER="lib capture http k8s prometheus statsd python otel daemon"
repo=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"}
cd "$repo" || exit 2

declare -A rank=()
i=0
for f in $ORDER; do
	rank[$f]=$i
	i=$((i + 1))
done

bad=0 files=0 includes=0
say() { echo "$*"; bad=$((bad + 1)); }

shopt -s nullglob
for dir in user/*/; do
	dir=${dir%/}
	folder=${dir#user/}
	if [ -z "${rank[$folder]:-}" ]; then
		say "$dir: a folder not in the import order ($ORDER): add it to ORDER in tests/e2e/lib/import_order.sh and to docs/ARCHITECTURE.md"
	fi
done

for file in user/*/*.c user/*/*.h; do
	folder=${file#user/}
	folder=${folder%%/*}
	[ -n "${rank[$folder]:-}" ] || continue
	files=$((files + 1))
	while IFS=: read -r line inc; do
		includes=$((includes + 1))
		where="$file:$line: #include \"$inc\""
		case $inc in
		bpf/contract.h) continue ;;
		bpf/*)
			say "$where: a BPF-only header; userspace takes only bpf/contract.h"
			continue ;;
		*/*) ;;
		*)
			set -- user/*/"$inc"
			[ $# -gt 0 ] && say "$where: name it with its folder (\"${1#user/}\")"
			continue ;;
		esac
		top=${inc%%/*}
		if [ -z "${rank[$top]:-}" ]; then
			say "$where: \"$top\" is no folder of the import order ($ORDER)"
		elif [ "${rank[$top]}" -gt "${rank[$folder]}" ]; then
			say "$where: $folder may not include $top (order: ${ORDER// / < })"
		fi
	done < <(awk '/^[ \t]*#[ \t]*include[ \t]*"/ {
		s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); print FNR ":" s }' "$file")
done

if [ "$bad" -gt 0 ]; then
	echo "import order broken: $bad problem(s) (order: ${ORDER// / < })"
	exit 1
fi
echo "import order holds: $includes includes in $files files (${ORDER// / < })"
