// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A statsd backend that writes what the daemon received, for podtap's
 * statsd tests: one JSON line per packet ({"packet": bytes, "lines": n})
 * and one per flush ({"counters": {...}, "timers": {name: [ms...]}}),
 * appended to the file named by the config's captureFile. statsd's own
 * counters (statsd.*) are left out.
 */
'use strict';
const fs = require('fs');

exports.init = function (startupTime, config, events) {
  const file = config.captureFile;
  const write = (obj) => fs.appendFileSync(file, JSON.stringify(obj) + '\n');
  events.on('packet', (msg) => {
    write({ packet: msg.length, lines: msg.toString().split('\n').length });
  });
  events.on('flush', (timestamp, metrics) => {
    const own = (k) => k.startsWith('statsd.') || k === (config.prefixStats || 'statsd');
    const counters = {};
    for (const [k, v] of Object.entries(metrics.counters))
      if (!own(k) && v) counters[k] = v;
    const timers = {};
    for (const [k, v] of Object.entries(metrics.timers))
      if (!own(k) && v.length) timers[k] = v;
    if (Object.keys(counters).length || Object.keys(timers).length)
      write({ counters, timers });
  });
  return true;
};
