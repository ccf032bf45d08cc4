# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Reads samples out of a Prometheus text exposition file.

Run with Debian's interpreter: /usr/bin/python3 promq.py CMD FILE NAME [l=v ...]

  get    FILE NAME l=v ...  value of the one sample named NAME whose label set
                            is exactly {l=v ...} (order does not matter);
                            prints nothing and exits 3 when there is none
  sum    FILE NAME l=v ...  sum of samples named NAME whose labels include
                            every l=v given (0 when none)
  series FILE NAME l=v ...  the matching samples (same subset rule), one per
                            line as name{sorted labels} value, sorted
  keys   FILE NAME l=v ...  like series without the values (for diffs)

A label given as l= matches the empty string or an absent label: in
Prometheus' data model the two are the same series. Exit 2 when the file does not
parse. The parser is prometheus_client's (an implementation independent of
the daemon's writer).
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def fmt_value(v):
    if v == int(v) and abs(v) < 2 ** 53:
        return str(int(v))
    return repr(v)


def fmt_key(name, labels):
    inner = ",".join('%s="%s"' % (k, labels[k].replace("\\", "\\\\")
                                  .replace('"', '\\"').replace("\n", "\\n"))
                     for k in sorted(labels))
    return "%s{%s}" % (name, inner)


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 64
    cmd, path, name = argv[1], argv[2], argv[3]
    want = {}
    for arg in argv[4:]:
        if "=" not in arg:
            sys.stderr.write("promq: bad label matcher %r\n" % arg)
            return 64
        k, v = arg.split("=", 1)
        want[k] = v
    # Bytes that are not UTF-8 (a label podtap failed to clean, of any
    # process on the machine) do not stop the reading of other samples;
    # tests that check the exposition is UTF-8 do so themselves.
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    sys.stdout.reconfigure(errors="surrogateescape")
    try:
        samples = [s for fam in text_string_to_metric_families(text)
                   for s in fam.samples if s.name == name]
    except Exception as e:  # noqa: BLE001 - any parse failure is fatal here
        sys.stderr.write("promq: %s does not parse: %s\n" % (path, e))
        return 2

    def nonempty(labels):
        return {k: v for k, v in labels.items() if v != ""}

    if cmd == "get":
        hits = [s for s in samples if nonempty(s.labels) == nonempty(want)]
        if len(hits) > 1:
            sys.stderr.write("promq: %d samples with the same labels: %s\n"
                             % (len(hits), fmt_key(name, want)))
            return 2
        if not hits:
            return 3
        print(fmt_value(hits[0].value))
        return 0

    subset = [s for s in samples
              if all(s.labels.get(k, "") == v for k, v in want.items())]
    if cmd == "sum":
        print(fmt_value(sum(s.value for s in subset)))
    elif cmd == "series":
        for line in sorted("%s %s" % (fmt_key(s.name, s.labels),
                                      fmt_value(s.value)) for s in subset):
            print(line)
    elif cmd == "keys":
        for line in sorted(fmt_key(s.name, s.labels) for s in subset):
            print(line)
    else:
        sys.stderr.write("promq: unknown command %r\n" % cmd)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
