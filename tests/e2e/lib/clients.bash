# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Clients that drive the apps under test: curl, tests/fixtures/rawhttp.py,
# hey. Sourced by common.bash.

# pt_curl_status URL [curl args...]: prints the HTTP status of one request.
pt_curl_status() {
	local url=$1
	shift
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

# pt_raw PORT [rawhttp.py options]: sends the request bytes on stdin to
# 127.0.0.1:PORT with tests/fixtures/rawhttp.py (byte-wise, in chunks,
# --expect STATUS, ...; see there) and prints the status of each response
# it got, one a line.
pt_raw() {
	"$PT_PY" "$PT_FIXTURES/rawhttp.py" "$@"
}

# pt_hey_ok N OUTPUT_FILE STATUS: hey reported exactly N responses, all
# STATUS.
pt_hey_ok() {
	if ! grep -Eq "^\s*\[$3\]\s+$1 responses" "$2" ||
		[ "$(grep -Ec '^\s*\[[0-9]+\]' "$2")" != 1 ]; then
		pt_fail "hey did not get exactly $1 x $3:"
		cat "$2" >&2
		return 1
	fi
}
