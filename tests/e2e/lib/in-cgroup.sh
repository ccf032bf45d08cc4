#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# in-cgroup.sh CGROUP_DIR CMD [ARGS...]: moves itself into the cgroup v2
# directory CGROUP_DIR, then execs CMD (which, and whatever it forks, then
# runs inside that cgroup, as a container's processes do in a pod).
set -e
cg=$1
shift
echo $$ >"$cg/cgroup.procs"
exec "$@"
