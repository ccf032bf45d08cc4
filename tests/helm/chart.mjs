// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Reads and checks podtap's rendered Helm chart (tests/helm/render.sh
// output). Used by tests/e2e/helm.bats and tests/run.sh.
//
//   node chart.mjs json FILE          the YAML documents as one JSON array
//   node chart.mjs validate FILE...   every document against its schema:
//       Kubernetes kinds with kubernetes-models' validate() (the Kubernetes
//       OpenAPI schemas: types, required fields, enums, formats) and
//       TypeScript's excess-property check against the same models' types
//       (an unknown or misspelt field, which the API server would refuse,
//       fails); ServiceMonitor with @kubernetes-models/prometheus-operator
//       (the operator's CRD schema, same two checks); PodMonitoring with
//       schemas/podmonitoring.schema.json (ajv). Anything else fails.
//   node chart.mjs values-schema CHART_DIR VALUES_JSON
//       the values against CHART_DIR/values.schema.json with ajv: a second,
//       independent validator beside the renderer's (Helm's gojsonschema).
//   node chart.mjs pod-env FILE
//       what tests/run.sh needs to run podtap as the chart's container
//       would: PODTAP_TEST_CAPS (the added capabilities), PODTAP_TEST_RO_PATHS
//       (read-only mounts; "/" for readOnlyRootFilesystem) and
//       PODTAP_TEST_NO_NEW_PRIVS, as KEY=VALUE lines.
//
// Exit status 0 when all is well, 1 with the reasons on stderr otherwise.

import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import Ajv from "ajv";

const here = dirname(fileURLToPath(import.meta.url));

function die(msg) {
	process.stderr.write(msg.endsWith("\n") ? msg : msg + "\n");
	process.exit(1);
}

// Rendered YAML -> documents (empty ones dropped, as kubectl and helm do).
function readDocs(file) {
	const docs = [];
	for (const d of parseAllDocuments(readFileSync(file, "utf8"))) {
		if (d.errors.length)
			die(`${file}: YAML error: ${d.errors.map((e) => e.message).join("; ")}`);
		const v = d.toJS();
		if (v !== null && v !== undefined) docs.push(v);
	}
	return docs;
}

// apiVersion/kind -> [module, interface name] of its model.
function modelOf(doc) {
	const api = doc.apiVersion, kind = doc.kind;
	if (typeof api !== "string" || typeof kind !== "string" || !/^[A-Za-z]+$/.test(kind))
		return null;
	if (api === "monitoring.coreos.com/v1")
		return [`@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`, `I${kind}`];
	// Core group ("v1") and the named groups kubernetes-models covers.
	const known = ["v1", "apps/v1", "rbac.authorization.k8s.io/v1", "policy/v1",
		"scheduling.k8s.io/v1", "networking.k8s.io/v1"];
	if (known.includes(api))
		return [`kubernetes-models/${api}/${kind}`, `I${kind}`];
	return null;
}

function ajvFor(schemaFile) {
	// strict: schema mistakes (unknown keywords, ...) are errors too;
	// union types ("string or number") are legitimate in values.
	const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
	return ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")));
}

function ajvErrors(validate) {
	return validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}` +
		(e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ""));
}

function describe(file, i, doc) {
	return `${file} document ${i + 1} (${doc.kind || "?"} ${doc.metadata?.name || "?"})`;
}

async function validate(files) {
	const problems = [];
	const tsChecks = []; // {where, module, iface, doc}
	const podMonitoring = ajvFor(join(here, "schemas/podmonitoring.schema.json"));
	let n = 0;
	for (const file of files) {
		readDocs(file).forEach((doc, i) => {
			n++;
			const where = describe(file, i, doc);
			if (doc.apiVersion === "monitoring.googleapis.com/v1" && doc.kind === "PodMonitoring") {
				if (!podMonitoring(doc))
					problems.push(`${where}: ${ajvErrors(podMonitoring).join("; ")}`);
				return;
			}
			const m = modelOf(doc);
			if (!m) {
				problems.push(`${where}: no schema for ${doc.apiVersion} ${doc.kind}`);
				return;
			}
			tsChecks.push({ where, module: m[0], iface: m[1], doc });
		});
	}
	for (const c of tsChecks) {
		let mod;
		try {
			mod = await import(c.module);
		} catch (e) {
			problems.push(`${c.where}: cannot load ${c.module}: ${e.message}`);
			continue;
		}
		const Cls = mod[c.doc.kind];
		try {
			new Cls(c.doc).validate();
		} catch (e) {
			problems.push(`${c.where}: ${e.message}`);
		}
	}
	problems.push(...(await excessProperties(tsChecks)));
	if (problems.length) die(problems.join("\n"));
	process.stdout.write(`${n} documents valid\n`);
}

// Each document as a TypeScript object literal typed with its model's
// interface: TypeScript reports every property the interface does not have
// ("Object literal may only specify known properties"), at any depth, and
// every wrong type.
async function excessProperties(checks) {
	if (!checks.length) return [];
	const ts = (await import("typescript")).default;
	const dir = mkdtempSync(join(here, ".tscheck-"));
	try {
		// One import per document, then one declaration per document
		// (several lines each); docStart[i]: 1-based first line of d<i>.
		const parts = checks.map((c, i) =>
			`import type { ${c.iface} as T${i} } from ${JSON.stringify(c.module)};`);
		const docStart = [];
		let line = parts.length + 1;
		checks.forEach((c, i) => {
			const decl = `export const d${i}: T${i} = ${JSON.stringify(c.doc, null, 1)};`;
			docStart.push(line);
			line += decl.split("\n").length;
			parts.push(decl);
		});
		const file = join(dir, "rendered.mts");
		writeFileSync(file, parts.join("\n") + "\n");
		const program = ts.createProgram([file], {
			strict: true, noEmit: true, skipLibCheck: true, types: [],
			module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
			target: ts.ScriptTarget.ES2022,
		});
		const out = [];
		for (const d of ts.getPreEmitDiagnostics(program)) {
			const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
			if (!d.file) {
				out.push(`TypeScript: ${msg}`);
				continue;
			}
			const { line: l } = d.file.getLineAndCharacterOfPosition(d.start);
			let k = docStart.length - 1;
			while (k > 0 && docStart[k] > l + 1) k--;
			const context = d.file.text.split("\n")[l].trim();
			out.push(`${checks[k]?.where || "?"}: ${msg} (at: ${context})`);
		}
		return out;
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

function valuesSchema(chartDir, valuesFile) {
	const validate = ajvFor(join(chartDir, "values.schema.json"));
	const vals = JSON.parse(readFileSync(valuesFile, "utf8"));
	if (!validate(vals)) die(ajvErrors(validate).join("\n"));
	process.stdout.write("values valid\n");
}

// The podtap container of the rendered DaemonSet, as the run.sh variables.
function podEnv(file) {
	const ds = readDocs(file).filter((d) => d.kind === "DaemonSet");
	if (ds.length !== 1) die(`${file}: want exactly one DaemonSet, got ${ds.length}`);
	const spec = ds[0].spec.template.spec;
	const c = (spec.containers || []).find((x) => x.name === "podtap");
	if (!c) die(`${file}: no container named podtap`);
	const sc = c.securityContext || {};
	if (sc.privileged) die(`${file}: the container is privileged: no capability set to test`);
	const drop = sc.capabilities?.drop || [];
	if (!drop.includes("ALL")) die(`${file}: capabilities.drop is not [ALL]: ${JSON.stringify(drop)}`);
	const add = sc.capabilities?.add || [];
	for (const cap of add)
		if (!/^[A-Z_]+$/.test(cap)) die(`${file}: odd capability name ${JSON.stringify(cap)}`);
	const ro = (c.volumeMounts || []).filter((m) => m.readOnly).map((m) => m.mountPath);
	if (sc.readOnlyRootFilesystem) ro.unshift("/");
	for (const p of ro)
		if (!/^\/[A-Za-z0-9_./-]*$/.test(p)) die(`${file}: odd mount path ${JSON.stringify(p)}`);
	process.stdout.write(`PODTAP_TEST_CAPS=${add.join(",")}\n`);
	process.stdout.write(`PODTAP_TEST_RO_PATHS=${ro.join(",")}\n`);
	process.stdout.write(`PODTAP_TEST_NO_NEW_PRIVS=${sc.allowPrivilegeEscalation === false ? 1 : 0}\n`);
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
case "json":
	if (args.length !== 1) die("usage: chart.mjs json FILE");
	process.stdout.write(JSON.stringify(readDocs(args[0])) + "\n");
	break;
case "validate":
	if (!args.length) die("usage: chart.mjs validate FILE...");
	await validate(args);
	break;
case "values-schema":
	if (args.length !== 2) die("usage: chart.mjs values-schema CHART_DIR VALUES_JSON");
	valuesSchema(args[0], args[1]);
	break;
case "pod-env":
	if (args.length !== 1) die("usage: chart.mjs pod-env FILE");
	podEnv(args[0]);
	break;
default:
	die("usage: chart.mjs json|validate|values-schema|pod-env ...");
}
