#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# render.sh RELEASE [--show-notes] [helm template flags...]
#
# Renders the chart helm/podtap as `helm template RELEASE helm/podtap ...`
# does. With helm on PATH (or PODTAP_HELM=/path/to/helm) helm itself
# renders; otherwise tests/helm/render (build/tests/helm-render: Go's
# text/template + sprig, as Helm renders), built here when missing.
# --show-notes prints the rendered NOTES.txt instead of the manifests.
# The Kubernetes version is pinned (v1.31.0 unless --kube-version is
# given) so both renderers see the same .Capabilities.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
chart="$repo/helm/podtap"

[ $# -ge 1 ] || { echo "usage: render.sh RELEASE [--show-notes] [flags...]" >&2; exit 2; }
release=$1
shift
notes=0 kube=""
args=()
for a in "$@"; do
	case $a in
	--show-notes) notes=1 ;;
	--kube-version=*) kube=${a#*=} ;;
	*) args+=("$a") ;;
	esac
done
# "--kube-version V" (two words) is passed through as given.
for i in "${!args[@]}"; do
	[ "${args[$i]}" = --kube-version ] && kube=given
done
[ -n "$kube" ] || kube=v1.31.0
[ "$kube" = given ] || args+=(--kube-version "$kube")

helm=${PODTAP_HELM:-$(command -v helm || true)}
if [ -n "$helm" ]; then
	if [ "$notes" = 1 ]; then
		# helm template never renders NOTES.txt; a client-side dry-run
		# install prints it after "NOTES:".
		"$helm" install "$release" "$chart" --dry-run=client "${args[@]}" |
			sed -n '/^NOTES:$/,$p' | sed 1d
	else
		"$helm" template "$release" "$chart" "${args[@]}"
	fi
	exit
fi

bin="$repo/build/tests/helm-render"
if [ ! -x "$bin" ] || [ "$repo/tests/helm/render/main.go" -nt "$bin" ]; then
	make -s -C "$repo" build/tests/helm-render >&2
fi
[ "$notes" = 1 ] && args+=(--show-notes)
exec "$bin" template "$release" "$chart" "${args[@]}"
