// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// helm-render renders a Helm chart as `helm template` does, for machines
// without helm (there is no helm package in Debian). It uses what Helm
// itself renders with: Go's text/template and sprig, sigs.k8s.io/yaml for
// values and toYaml, and gojsonschema (Helm 3's validator) for
// values.schema.json. Only what podtap's chart needs is implemented:
//
//	helm-render template NAME CHART [-n NS] [-f FILE]... [--set K=V]...
//	    [--set-string K=V]... [--set-json K=JSON]... [--kube-version V]
//	    [--api-versions G/V]... [--show-notes] [--show-values]
//
// Values: the chart's values.yaml, then each -f file, then --set,
// --set-string and --set-json in order (Helm's strvals syntax: a.b[0].c=v,
// several pairs separated by commas, "\," for a literal comma, {a,b} for a
// list, true/false/null/integers typed; a key set to null is removed), then
// validated against values.schema.json. Templates: every file under
// templates/ (files named _* are partials), with .Values, .Release, .Chart
// (capitalised Chart.yaml fields), .Capabilities (KubeVersion, APIVersions),
// .Template, and Helm's functions: sprig without env/expandenv, include,
// tpl, required, toYaml, fromYaml, fromYamlArray, toJson, fromJson, lookup
// (always empty, as in helm template). missingkey=zero and "<no value>"
// removed, as Helm does. Each rendered document must parse as YAML.
//
// Exit status: 0 rendered; 1 the chart or values were refused (the message
// says why, like helm's); 2 bad usage.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	// Debian ships semver v3 at its v1 import path (GOPATH mode).
	semver "github.com/Masterminds/semver"
	sprig "github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

type values = map[string]interface{}

// kubeVersion mirrors Helm's chartutil.KubeVersion.
type kubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k kubeVersion) String() string     { return k.Version }
func (k kubeVersion) GitVersion() string { return k.Version }

// versionSet mirrors Helm's chartutil.VersionSet: .Capabilities.APIVersions.Has.
type versionSet []string

func (v versionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Group versions every cluster serves (a subset of Helm's defaults).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1",
	"rbac.authorization.k8s.io/v1", "apiextensions.k8s.io/v1",
	"scheduling.k8s.io/v1", "storage.k8s.io/v1", "autoscaling/v2",
	"coordination.k8s.io/v1", "discovery.k8s.io/v1",
}

type options struct {
	name, chart, namespace, kubeVersion string
	valueFiles                          []string
	sets                                []setArg
	apiVersions                         []string
	showNotes, showValues               bool
}

type setArg struct {
	kind string // "set", "set-string", "set-json"
	expr string
}

func usage(msg string) {
	fmt.Fprintf(os.Stderr, "helm-render: %s\nusage: helm-render template NAME CHART [-n NS] [-f FILE] [--set K=V] [--set-string K=V] [--set-json K=JSON] [--kube-version V] [--api-versions G/V] [--show-notes] [--show-values]\n", msg)
	os.Exit(2)
}

func parseArgs(args []string) options {
	o := options{namespace: "default", kubeVersion: "v1.31.0"}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
			continue
		}
		next := func() string {
			if hasVal {
				return val
			}
			if i+1 >= len(args) {
				usage(name + " needs a value")
			}
			i++
			return args[i]
		}
		switch name {
		case "-n", "--namespace":
			o.namespace = next()
		case "-f", "--values":
			o.valueFiles = append(o.valueFiles, next())
		case "--set", "--set-string", "--set-json":
			o.sets = append(o.sets, setArg{strings.TrimPrefix(name, "--"), next()})
		case "--kube-version":
			o.kubeVersion = next()
		case "-a", "--api-versions":
			o.apiVersions = append(o.apiVersions, next())
		case "--show-notes":
			o.showNotes = true
		case "--show-values":
			o.showValues = true
		default:
			usage("unknown flag " + a)
		}
	}
	if len(pos) != 3 || pos[0] != "template" {
		usage("want: template NAME CHART")
	}
	o.name, o.chart = pos[1], pos[2]
	return o
}

func main() {
	o := parseArgs(os.Args[1:])
	out, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func run(o options) (string, error) {
	meta, err := loadChartMeta(o.chart)
	if err != nil {
		return "", err
	}
	kv, err := parseKubeVersion(o.kubeVersion)
	if err != nil {
		return "", err
	}
	if c, _ := meta["KubeVersion"].(string); c != "" {
		constraint, err := semver.NewConstraint(c)
		if err != nil {
			return "", fmt.Errorf("Chart.yaml: kubeVersion %q: %v", c, err)
		}
		v, _ := semver.NewVersion(kv.Version)
		if !constraint.Check(v) {
			return "", fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c, kv.Version)
		}
	}
	vals, err := buildValues(o)
	if err != nil {
		return "", err
	}
	if err := validateSchema(o.chart, meta["Name"].(string), vals); err != nil {
		return "", err
	}
	if o.showValues {
		b, err := json.MarshalIndent(vals, "", "  ")
		if err != nil {
			return "", err
		}
		return string(b) + "\n", nil
	}
	top := values{
		"Values": vals,
		"Release": values{
			"Name": o.name, "Namespace": o.namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": meta,
		"Capabilities": values{
			"KubeVersion": kv,
			"APIVersions": versionSet(append(append([]string{}, defaultAPIVersions...), o.apiVersions...)),
			"HelmVersion": values{"Version": "v3-compatible (tests/helm/render)"},
		},
		"Files": values{},
	}
	return renderTemplates(o, meta["Name"].(string), top)
}

// --- Chart.yaml -----------------------------------------------------------

// loadChartMeta reads Chart.yaml into the capitalised names Helm's
// chart.Metadata gives templates (.Chart.Name, .Chart.AppVersion, ...).
func loadChartMeta(dir string) (values, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var m values
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	meta := values{}
	for k, v := range m {
		meta[strings.ToUpper(k[:1])+k[1:]] = v
	}
	if api, _ := meta["ApiVersion"].(string); api != "v2" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion must be v2, got %q", api)
	}
	// Helm: APIVersion is the field name.
	meta["APIVersion"] = meta["ApiVersion"]
	for _, k := range []string{"Name", "Version"} {
		if s, _ := meta[k].(string); s == "" {
			return nil, fmt.Errorf("Chart.yaml: %s is required", strings.ToLower(k))
		}
	}
	if _, err := semver.StrictNewVersion(meta["Version"].(string)); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not SemVer 2: %v", meta["Version"], err)
	}
	if av, ok := meta["AppVersion"]; ok {
		meta["AppVersion"] = fmt.Sprint(av)
	}
	return meta, nil
}

func parseKubeVersion(s string) (kubeVersion, error) {
	v, err := semver.NewVersion(s)
	if err != nil {
		return kubeVersion{}, fmt.Errorf("--kube-version %q: %v", s, err)
	}
	return kubeVersion{
		Version: "v" + v.String(),
		Major:   strconv.FormatUint(v.Major(), 10),
		Minor:   strconv.FormatUint(v.Minor(), 10),
	}, nil
}

// --- values ---------------------------------------------------------------

func readYAMLMap(path string) (values, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := values{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if m == nil {
		m = values{}
	}
	return m, nil
}

func buildValues(o options) (values, error) {
	defaults, err := readYAMLMap(filepath.Join(o.chart, "values.yaml"))
	if err != nil {
		return nil, err
	}
	user := values{}
	for _, f := range o.valueFiles {
		m, err := readYAMLMap(f)
		if err != nil {
			return nil, err
		}
		user = mergeMaps(user, m)
	}
	for _, s := range o.sets {
		if err := parseSet(s, user); err != nil {
			return nil, fmt.Errorf("failed parsing --%s data: %v", s.kind, err)
		}
	}
	return coalesce(user, defaults), nil
}

// mergeMaps: b over a, maps merged key by key (Helm's -f handling).
func mergeMaps(a, b values) values {
	out := make(values, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(values); ok {
			if am, ok := out[k].(values); ok {
				out[k] = mergeMaps(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce: user values over the chart's defaults; a user value of null
// deletes the key (Helm's chartutil.CoalesceValues).
func coalesce(user, defaults values) values {
	for k, dv := range defaults {
		uv, present := user[k]
		switch {
		case !present:
			user[k] = copyValue(dv)
		case uv == nil:
			delete(user, k)
		default:
			um, uok := uv.(values)
			dm, dok := dv.(values)
			if uok && dok {
				user[k] = coalesce(um, dm)
			}
		}
	}
	for k, v := range user {
		if v == nil {
			delete(user, k)
		}
	}
	return user
}

func copyValue(v interface{}) interface{} {
	switch x := v.(type) {
	case values:
		m := make(values, len(x))
		for k, e := range x {
			m[k] = copyValue(e)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(x))
		for i, e := range x {
			l[i] = copyValue(e)
		}
		return l
	}
	return v
}

// --- --set parsing (Helm's strvals) --------------------------------------

// splitTop splits s at commas that are not escaped and not inside a
// {...} list. As in Helm, lists do not nest: inside one, "{" is an
// ordinary character and the first "}" ends it (so a value such as a route
// pattern "/users/{id}" goes in a list only through --set-json).
func splitTop(s string) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		case c == '{' && depth == 0:
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// typedVal is Helm's: true/false/null, integers without a leading zero
// (and "0"), everything else (floats included) a string.
func typedVal(v string) interface{} {
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	case strings.EqualFold(v, "null"):
		return nil
	case v == "0":
		return int64(0)
	}
	if len(v) > 0 && v[0] != '0' {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

type pathElem struct {
	key   string
	index int // -1: a map key
}

// parseKey: a.b[0].c with "\." for a literal dot.
func parseKey(k string) ([]pathElem, error) {
	var out []pathElem
	var cur strings.Builder
	flush := func() error {
		if cur.Len() == 0 {
			return fmt.Errorf("key %q has an empty part", k)
		}
		out = append(out, pathElem{key: cur.String(), index: -1})
		cur.Reset()
		return nil
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '\\' && i+1 < len(k):
			cur.WriteByte(k[i+1])
			i++
		case c == '.':
			if cur.Len() > 0 {
				if err := flush(); err != nil {
					return nil, err
				}
			} else if len(out) == 0 || out[len(out)-1].index < 0 {
				return nil, fmt.Errorf("key %q has an empty part", k)
			}
		case c == '[':
			if cur.Len() > 0 {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			end := strings.IndexByte(k[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("key %q: unclosed [", k)
			}
			n, err := strconv.Atoi(k[i+1 : i+end])
			if err != nil || n < 0 || n > 65535 {
				return nil, fmt.Errorf("key %q: bad list index", k)
			}
			if len(out) == 0 {
				return nil, fmt.Errorf("key %q: index without a name", k)
			}
			out = append(out, pathElem{index: n})
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty key")
	}
	return out, nil
}

// setPath stores v at path under container (a map or a list) and returns
// the (possibly grown) container.
func setPath(container interface{}, path []pathElem, v interface{}) (interface{}, error) {
	e := path[0]
	if e.index < 0 {
		m, ok := container.(values)
		if !ok {
			m = values{}
		}
		if len(path) == 1 {
			m[e.key] = v
			return m, nil
		}
		child, err := setPath(m[e.key], path[1:], v)
		if err != nil {
			return nil, err
		}
		m[e.key] = child
		return m, nil
	}
	l, _ := container.([]interface{})
	for len(l) <= e.index {
		l = append(l, nil)
	}
	if len(path) == 1 {
		l[e.index] = v
		return l, nil
	}
	child, err := setPath(l[e.index], path[1:], v)
	if err != nil {
		return nil, err
	}
	l[e.index] = child
	return l, nil
}

func parseSet(s setArg, dest values) error {
	pairs := []string{s.expr}
	if s.kind != "set-json" {
		pairs = splitTop(s.expr)
	}
	for _, p := range pairs {
		eq := -1
		for i := 0; i < len(p); i++ {
			if p[i] == '\\' {
				i++
				continue
			}
			if p[i] == '=' {
				eq = i
				break
			}
		}
		if eq < 0 {
			return fmt.Errorf("key %q has no value", p)
		}
		path, err := parseKey(p[:eq])
		if err != nil {
			return err
		}
		raw := p[eq+1:]
		var v interface{}
		switch {
		case s.kind == "set-json":
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				return fmt.Errorf("key %q: %v", p[:eq], err)
			}
		case strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}"):
			var list []interface{}
			inner := raw[1 : len(raw)-1]
			if inner != "" {
				for _, item := range splitTop(inner) {
					if s.kind == "set-string" {
						list = append(list, unescape(item))
					} else {
						list = append(list, typedVal(unescape(item)))
					}
				}
			}
			if list == nil {
				list = []interface{}{}
			}
			v = list
		case s.kind == "set-string":
			v = unescape(raw)
		default:
			v = typedVal(unescape(raw))
		}
		if _, err := setPath(dest, path, v); err != nil {
			return err
		}
	}
	return nil
}

// --- values.schema.json ----------------------------------------------------

func validateSchema(chartDir, chartName string, vals values) error {
	schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	doc, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema),
		gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", chartName)
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

// --- templates ---------------------------------------------------------------

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func funcMap(t **template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	includeDepth := 0
	f["toYaml"] = toYAML
	f["fromYaml"] = func(s string) values {
		m := values{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) values {
		m := values{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includeDepth++
		defer func() { includeDepth-- }()
		var buf bytes.Buffer
		if err := (*t).ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := (*t).Clone()
		if err != nil {
			return "", err
		}
		c, err = c.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf bytes.Buffer
		if err := c.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["lookup"] = func(string, string, string, string) (values, error) {
		return values{}, nil
	}
	return f
}

func renderTemplates(o options, chartName string, top values) (string, error) {
	dir := filepath.Join(o.chart, "templates")
	var files []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)

	var t *template.Template
	t = template.New("gotpl").Option("missingkey=zero")
	t.Funcs(funcMap(&t))
	names := map[string]string{}
	for _, p := range files {
		rel, _ := filepath.Rel(o.chart, p)
		name := chartName + "/" + filepath.ToSlash(rel)
		raw, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		if _, err := t.New(name).Parse(string(raw)); err != nil {
			return "", fmt.Errorf("parse error in %q: %v", name, err)
		}
		names[name] = filepath.Base(p)
	}

	var out strings.Builder
	var notes string
	for _, p := range files {
		rel, _ := filepath.Rel(o.chart, p)
		name := chartName + "/" + filepath.ToSlash(rel)
		base := names[name]
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || (!isNotes && !strings.HasSuffix(base, ".yaml") &&
			!strings.HasSuffix(base, ".yml") && !strings.HasSuffix(base, ".tpl")) {
			continue
		}
		if strings.HasSuffix(base, ".tpl") {
			continue // .tpl files only define templates
		}
		data := values{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = values{"Name": name, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return "", fmt.Errorf("template: %v", err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if isNotes {
			notes = text
			continue
		}
		for _, doc := range splitDocs(text) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var parsed interface{}
			if err := yaml.Unmarshal([]byte(doc), &parsed); err != nil {
				return "", fmt.Errorf("YAML parse error on %s: %v\n--- the document:\n%s", name, err, doc)
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.Trim(doc, "\n"))
		}
	}
	if o.showNotes {
		return notes, nil
	}
	return out.String(), nil
}

// splitDocs splits a rendered file at "---" lines.
func splitDocs(s string) []string {
	var docs []string
	var cur []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimRight(line, " \t") == "---" {
			docs = append(docs, strings.Join(cur, "\n"))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, strings.Join(cur, "\n"))
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
