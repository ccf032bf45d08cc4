#!/usr/bin/env bats
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The Helm chart helm/podtap, rendered (tests/helm/render.sh: helm when it
# is installed, else tests/helm/render, Go's text/template + sprig as Helm
# renders) for the default values and for every toggle, then:
#   - every manifest validated (tests/helm/chart.mjs validate): Kubernetes
#     kinds against the Kubernetes schemas (kubernetes-models) with unknown
#     fields refused, ServiceMonitor against prometheus-operator's schema,
#     PodMonitoring against GMP's (tests/helm/schemas);
#   - the fields that matter asserted one by one (jq over the manifests);
#   - values.schema.json refusing bad values, by the renderer (Helm's
#     validator) and by ajv.
# Needs no root and no cluster. The capability set itself is exercised by
# tests/run.sh, which runs core.bats with exactly the chart's capabilities.

bats_require_minimum_version 1.5.0

HELM_DIR="$BATS_TEST_DIRNAME/../helm"
RENDER="$HELM_DIR/render.sh"
CHART_JS="$HELM_DIR/chart.mjs"
CHART="$BATS_TEST_DIRNAME/../../helm/podtap"

setup_file() {
	command -v node >/dev/null || { echo "node is not installed" >&2; return 1; }
	command -v jq >/dev/null || { echo "jq is not installed" >&2; return 1; }
	if [ ! -d "$HELM_DIR/node_modules/kubernetes-models" ]; then
		npm ci --prefix "$HELM_DIR" --no-audit --no-fund --loglevel=error >&2
	fi
}

# render NAME [flags...]: renders into $BATS_TEST_TMPDIR/NAME.yaml and
# NAME.json (a JSON array of the documents); fails when rendering does.
render() {
	local name=$1
	shift
	"$RENDER" podtap --namespace obs "$@" >"$BATS_TEST_TMPDIR/$name.yaml"
	node "$CHART_JS" json "$BATS_TEST_TMPDIR/$name.yaml" >"$BATS_TEST_TMPDIR/$name.json"
}

# q NAME JQ: jq -S -c (keys sorted) over the documents of render NAME.
q() {
	jq -S -c "$2" "$BATS_TEST_TMPDIR/$1.json"
}

# ds NAME JQ: jq -c over the DaemonSet's podtap container (as $c), the pod
# spec (as $p) and the DaemonSet (input).
ds() {
	jq -S -c '.[] | select(.kind == "DaemonSet") | .spec.template.spec as $p |
		($p.containers[] | select(.name == "podtap")) as $c | '"$2" \
		"$BATS_TEST_TMPDIR/$1.json"
}

# expect WHAT EXPECTED GOT
expect() {
	if [ "$2" != "$3" ]; then
		printf 'FAIL: %s:\n  expected: %s\n  got:      %s\n' "$1" "$2" "$3" >&2
		return 1
	fi
}

# env_of NAME VAR: the container's env entry VAR as JSON, "" if absent;
# an error if it is there twice.
env_of() {
	jq -S -c --arg v "$2" '.[] | select(.kind == "DaemonSet") |
		.spec.template.spec.containers[] | select(.name == "podtap") |
		[.env[] | select(.name == $v)] |
		if length == 0 then "" elif length == 1 then .[0]
		else error("env \($v) twice") end' "$BATS_TEST_TMPDIR/$1.json"
}

@test "README's install command renders: helm template podtap --set otlp.endpoint=..." {
	render d --set otlp.endpoint=http://otel-collector.otel-collector:4318
	expect "kinds" '["DaemonSet","ServiceAccount"]' "$(q d '[.[].kind] | sort')"
	expect "namespace of every namespaced object" '["obs"]' \
		"$(q d '[.[].metadata.namespace] | unique')"
	expect "OTEL_EXPORTER_OTLP_ENDPOINT" \
		'{"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://otel-collector.otel-collector:4318"}' \
		"$(env_of d OTEL_EXPORTER_OTLP_ENDPOINT)"
}

@test "every toggle renders manifests that the Kubernetes / CRD schemas accept" {
	local -a files=()
	local i=0 set
	for set in \
		"" \
		"securityContext.privileged=true" \
		"service.enabled=true" \
		"podMonitoring.enabled=true" \
		"serviceMonitor.enabled=true" \
		"prometheusAnnotations.enabled=true" \
		"kubelet.enabled=true,kubelet.insecureSkipVerify=true,seriesTTL=600" \
		"kubelet.enabled=true,serviceAccount.create=false,serviceAccount.name=existing" \
		"service.enabled=true,podMonitoring.enabled=true,serviceMonitor.enabled=true,prometheusAnnotations.enabled=true,kubelet.enabled=true" \
		"otlp.endpoint=https://c:4318,otlp.headersSecret.name=s,sampler.type=traceidratio,sampler.arg=0.25,routes={/a/x,/b/*},priorityClassName=system-node-critical,metrics.hostPort=true,verbose=true,extraArgs={--route,/x/y},extraEnv[0].name=A,extraEnv[0].value=b,nodeSelector.kubernetes\.io/os=linux,ringbufSize=8388608,maxSeriesPerPod=50,otlp.compression=gzip,otlp.timeout=5000" \
		"pinPath=,securityContext.extraCapabilities={SYS_RESOURCE},securityContext.seccompProfile=null,securityContext.appArmorProfile=null" \
		"pythonHooks.enabled=false" \
		"injectTraceContext.enabled=true,injectTraceContext.format=w3c\,b3,otlp.endpoint=http://c:4318" \
		"compat.flaskExporter=true,podMonitoring.enabled=true,serviceMonitor.enabled=true" \
		"statsd.host=statsd-exporter.monitoring:9125,statsd.prefix=k8s.x" \
		"otlp.metrics.enabled=true,otlp.metrics.endpoint=http://c:4318/v1/metrics,otlp.metrics.interval=15000,otlp.metrics.timeout=5000"; do
		i=$((i + 1))
		if [ -n "$set" ]; then
			"$RENDER" podtap --namespace obs --set "$set" >"$BATS_TEST_TMPDIR/t$i.yaml"
		else
			"$RENDER" podtap --namespace obs >"$BATS_TEST_TMPDIR/t$i.yaml"
		fi
		files+=("$BATS_TEST_TMPDIR/t$i.yaml")
	done
	# Kubernetes before 1.30: the AppArmor annotation instead of the field.
	"$RENDER" podtap --namespace obs --kube-version v1.29.4 >"$BATS_TEST_TMPDIR/old.yaml"
	files+=("$BATS_TEST_TMPDIR/old.yaml")
	run node "$CHART_JS" validate "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" documents valid" ]]
}

@test "the validator itself refuses an unknown field, a wrong type and a bad CRD field" {
	render d --set serviceMonitor.enabled=true,podMonitoring.enabled=true
	sed 's/readOnly: true/readonly: true/' "$BATS_TEST_TMPDIR/d.yaml" >"$BATS_TEST_TMPDIR/bad1.yaml"
	run node "$CHART_JS" validate "$BATS_TEST_TMPDIR/bad1.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"'\"readonly\"' does not exist"* ]]
	sed 's/hostPID: true/hostPID: "yes"/' "$BATS_TEST_TMPDIR/d.yaml" >"$BATS_TEST_TMPDIR/bad2.yaml"
	run node "$CHART_JS" validate "$BATS_TEST_TMPDIR/bad2.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"hostPID must be boolean"* ]]
	sed 's/^  endpoints:/  endpoint:/' "$BATS_TEST_TMPDIR/d.yaml" >"$BATS_TEST_TMPDIR/bad3.yaml"
	run node "$CHART_JS" validate "$BATS_TEST_TMPDIR/bad3.yaml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"PodMonitoring"*"endpoint"* ]]
	[[ "$output" == *"ServiceMonitor"*"endpoint"* ]]
}

@test "DaemonSet: all nodes, every taint tolerated, RollingUpdate with maxUnavailable, hostPID" {
	render d
	expect "tolerations" '[{"operator":"Exists"}]' "$(ds d '$p.tolerations')"
	expect "updateStrategy" '{"rollingUpdate":{"maxUnavailable":"10%"},"type":"RollingUpdate"}' \
		"$(ds d '.spec.updateStrategy')"
	expect "hostPID" true "$(ds d '$p.hostPID')"
	expect "hostNetwork (not needed)" null "$(ds d '$p.hostNetwork')"
	expect "nodeSelector/affinity by default" "null null" "$(ds d '$p.nodeSelector') $(ds d '$p.affinity')"
	expect "priorityClassName by default" null "$(ds d '$p.priorityClassName')"
	expect "selector = pod labels" true \
		"$(ds d '.spec.selector.matchLabels as $s | .spec.template.metadata.labels as $l |
			($s | to_entries | all(.value == $l[.key])) and ($s | length) == 2')"
	render s --set priorityClassName=system-node-critical,updateStrategy.rollingUpdate.maxUnavailable=2 \
		--set 'tolerations[0].key=dedicated,tolerations[0].operator=Equal,tolerations[0].value=obs,tolerations[0].effect=NoSchedule' \
		--set nodeSelector.pool=general
	expect "priorityClassName" '"system-node-critical"' "$(ds s '$p.priorityClassName')"
	expect "maxUnavailable" 2 "$(ds s '.spec.updateStrategy.rollingUpdate.maxUnavailable')"
	expect "tolerations" '[{"effect":"NoSchedule","key":"dedicated","operator":"Equal","value":"obs"}]' \
		"$(ds s '$p.tolerations')"
	expect "nodeSelector" '{"pool":"general"}' "$(ds s '$p.nodeSelector')"
}

@test "default securityContext: uid 0, drop ALL, add exactly BPF PERFMON SYS_PTRACE DAC_READ_SEARCH SYS_ADMIN" {
	render d
	expect "capabilities" '{"add":["BPF","PERFMON","SYS_PTRACE","DAC_READ_SEARCH","SYS_ADMIN"],"drop":["ALL"]}' \
		"$(ds d '$c.securityContext.capabilities')"
	expect "privileged" false "$(ds d '$c.securityContext.privileged')"
	expect "allowPrivilegeEscalation" false "$(ds d '$c.securityContext.allowPrivilegeEscalation')"
	expect "runAsUser" 0 "$(ds d '$c.securityContext.runAsUser')"
	expect "readOnlyRootFilesystem" true "$(ds d '$c.securityContext.readOnlyRootFilesystem')"
	expect "seccompProfile" '{"type":"RuntimeDefault"}' "$(ds d '$c.securityContext.seccompProfile')"
	expect "appArmorProfile (Kubernetes 1.31)" '{"type":"Unconfined"}' \
		"$(ds d '$c.securityContext.appArmorProfile')"
	expect "no AppArmor annotation on 1.31" null \
		"$(ds d '.spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/podtap"]')"
	expect "no pod-level securityContext privileges" null "$(ds d '$p.securityContext')"
	render old --kube-version v1.29.4
	expect "AppArmor annotation (Kubernetes 1.29)" '"unconfined"' \
		"$(ds old '.spec.template.metadata.annotations["container.apparmor.security.beta.kubernetes.io/podtap"]')"
	expect "no appArmorProfile field on 1.29" null "$(ds old '$c.securityContext.appArmorProfile')"
	render x --set 'securityContext.extraCapabilities={cap_sys_resource,BPF}'
	expect "extra capabilities, normalised, no duplicates" '["BPF","PERFMON","SYS_PTRACE","DAC_READ_SEARCH","SYS_ADMIN","SYS_RESOURCE"]' \
		"$(ds x '$c.securityContext.capabilities.add')"
}

@test "pythonHooks: on by default (SYS_ADMIN, for uprobes); off drops SYS_ADMIN and sets PODTAP_PYTHON_HOOKS=0" {
	render d
	expect "PODTAP_PYTHON_HOOKS by default" '""' "$(env_of d PODTAP_PYTHON_HOOKS)"
	render off --set pythonHooks.enabled=false
	expect "capabilities without the hooks" '["BPF","PERFMON","SYS_PTRACE","DAC_READ_SEARCH"]' \
		"$(ds off '$c.securityContext.capabilities.add')"
	expect "PODTAP_PYTHON_HOOKS" '{"name":"PODTAP_PYTHON_HOOKS","value":"0"}' \
		"$(env_of off PODTAP_PYTHON_HOOKS)"
	run "$RENDER" podtap --namespace obs --set pythonHooks.enabled=yes
	[ "$status" -ne 0 ]
}

@test "injectTraceContext: off by default; on, NET_ADMIN and PODTAP_INJECT_TRACE_CONTEXT=1; refused without an OTLP endpoint" {
	render d
	expect "PODTAP_INJECT_TRACE_CONTEXT by default" '""' "$(env_of d PODTAP_INJECT_TRACE_CONTEXT)"
	render on --set injectTraceContext.enabled=true --set otlp.endpoint=http://c:4318 \
		--set injectTraceContext.format=b3
	expect "capabilities with injection" '["BPF","PERFMON","SYS_PTRACE","DAC_READ_SEARCH","SYS_ADMIN","NET_ADMIN"]' \
		"$(ds on '$c.securityContext.capabilities.add')"
	expect "PODTAP_INJECT_TRACE_CONTEXT" '{"name":"PODTAP_INJECT_TRACE_CONTEXT","value":"1"}' \
		"$(env_of on PODTAP_INJECT_TRACE_CONTEXT)"
	expect "PODTAP_INJECT_TRACE_FORMAT" '{"name":"PODTAP_INJECT_TRACE_FORMAT","value":"b3"}' \
		"$(env_of on PODTAP_INJECT_TRACE_FORMAT)"
	run "$RENDER" podtap --namespace obs --set injectTraceContext.enabled=true
	[ "$status" -ne 0 ]
	[[ $output == *"set otlp.endpoint"* ]]
	run "$RENDER" podtap --namespace obs --set injectTraceContext.enabled=true \
		--set otlp.endpoint=http://c:4318 --set injectTraceContext.format=zipkin
	[ "$status" -ne 0 ]
}

@test "compat: PODTAP_COMPAT only with compat.flaskExporter; both monitors relabel flask_* (GMP: not namespace)" {
	render d --set podMonitoring.enabled=true,serviceMonitor.enabled=true
	expect "PODTAP_COMPAT by default" '""' "$(env_of d PODTAP_COMPAT)"
	render on --set compat.flaskExporter=true
	expect "PODTAP_COMPAT" '{"name":"PODTAP_COMPAT","value":"flask-exporter"}' \
		"$(env_of on PODTAP_COMPAT)"
	# What each rule writes, and from what (tests/e2e/compat.bats runs
	# them in a real Prometheus).
	local rules='map(select(.regex | startswith("flask_")) | [.targetLabel, (.sourceLabels | join(",")), .replacement])'
	expect "ServiceMonitor rules" '[["namespace","__name__,k8s_namespace_name","$1"],["pod","__name__,k8s_pod_name","$1"],["container","__name__,k8s_container_name","$1"],["k8s_namespace_name","__name__",""],["k8s_pod_name","__name__",""],["k8s_container_name","__name__",""],["k8s_deployment_name","__name__",""],["k8s_statefulset_name","__name__",""],["k8s_daemonset_name","__name__",""],["k8s_node_name","__name__",""],["service_name","__name__",""]]' \
		"$(q d ".[] | select(.kind == \"ServiceMonitor\") | .spec.endpoints[0].metricRelabelings | $rules")"
	expect "PodMonitoring rules: namespace stays in k8s_namespace_name (GMP protects namespace)" '[["pod","__name__,k8s_pod_name","$1"],["container","__name__,k8s_container_name","$1"],["k8s_pod_name","__name__",""],["k8s_container_name","__name__",""],["k8s_deployment_name","__name__",""],["k8s_statefulset_name","__name__",""],["k8s_daemonset_name","__name__",""],["k8s_node_name","__name__",""],["service_name","__name__",""]]' \
		"$(q d ".[] | select(.kind == \"PodMonitoring\") | .spec.endpoints[0].metricRelabeling | $rules")"
	run "$RENDER" podtap --namespace obs --set compat.flaskExporter=yes
	[ "$status" -ne 0 ]
}

@test "statsd: PODTAP_STATSD_HOST and _PREFIX only with statsd.host; a bad prefix refused" {
	render d
	expect "PODTAP_STATSD_HOST by default" '""' "$(env_of d PODTAP_STATSD_HOST)"
	# (--set reads {...} as a list: a template comes in a values file)
	printf 'statsd:\n  host: statsd-exporter.monitoring:9125\n  prefix: "{namespace}.{pod}"\n' \
		>"$BATS_TEST_TMPDIR/statsd.yaml"
	render on -f "$BATS_TEST_TMPDIR/statsd.yaml"
	expect "PODTAP_STATSD_HOST" '{"name":"PODTAP_STATSD_HOST","value":"statsd-exporter.monitoring:9125"}' \
		"$(env_of on PODTAP_STATSD_HOST)"
	expect "PODTAP_STATSD_PREFIX" '{"name":"PODTAP_STATSD_PREFIX","value":"{namespace}.{pod}"}' \
		"$(env_of on PODTAP_STATSD_PREFIX)"
	printf 'statsd:\n  host: s:9125\n  prefix: "{node}"\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	run "$RENDER" podtap --namespace obs -f "$BATS_TEST_TMPDIR/bad.yaml"
	[ "$status" -ne 0 ]
}

@test "otlp.metrics: off by default; on, its endpoint or OTEL_METRICS_EXPORTER=otlp, interval and timeout; refused with nowhere to push" {
	render d --set otlp.endpoint=http://c:4318
	expect "metrics env by default" '"" "" "" ""' \
		"$(env_of d OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) $(env_of d OTEL_METRICS_EXPORTER) $(env_of d OTEL_METRIC_EXPORT_INTERVAL) $(env_of d OTEL_METRIC_EXPORT_TIMEOUT)"
	render own --set otlp.metrics.enabled=true \
		--set otlp.metrics.endpoint=http://m:4318/v1/metrics \
		--set otlp.metrics.interval=15000 --set otlp.metrics.timeout=0
	expect "the metrics endpoint" '{"name":"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT","value":"http://m:4318/v1/metrics"}' \
		"$(env_of own OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)"
	expect "no exporter list with its own endpoint" '""' "$(env_of own OTEL_METRICS_EXPORTER)"
	expect "the interval" '{"name":"OTEL_METRIC_EXPORT_INTERVAL","value":"15000"}' \
		"$(env_of own OTEL_METRIC_EXPORT_INTERVAL)"
	expect "the timeout (0 kept)" '{"name":"OTEL_METRIC_EXPORT_TIMEOUT","value":"0"}' \
		"$(env_of own OTEL_METRIC_EXPORT_TIMEOUT)"
	expect "traces stay off" '""' "$(env_of own OTEL_EXPORTER_OTLP_ENDPOINT)"
	render base --set otlp.metrics.enabled=true --set otlp.endpoint=http://c:4318
	expect "the base endpoint's /v1/metrics" '{"name":"OTEL_METRICS_EXPORTER","value":"otlp"}' \
		"$(env_of base OTEL_METRICS_EXPORTER)"
	expect "no metrics endpoint" '""' "$(env_of base OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)"
	run "$RENDER" podtap --namespace obs --set otlp.metrics.enabled=true
	[ "$status" -ne 0 ]
	[[ "$output" == *"otlp.metrics.enabled: set otlp.metrics.endpoint, or otlp.endpoint"* ]]
	run "$RENDER" podtap --namespace obs --set otlp.metrics.endpoint=http://m:4318
	[ "$status" -ne 0 ]
	[[ "$output" == *"otlp.metrics.endpoint is set but otlp.metrics.enabled is false"* ]]
}

@test "privileged=true: a privileged container and no capability list" {
	render p --set securityContext.privileged=true
	expect "privileged" true "$(ds p '$c.securityContext.privileged')"
	expect "capabilities" null "$(ds p '$c.securityContext.capabilities')"
	expect "allowPrivilegeEscalation (must not be false when privileged)" null \
		"$(ds p '$c.securityContext.allowPrivilegeEscalation')"
	expect "seccomp/AppArmor (ignored when privileged)" "null null" \
		"$(ds p '$c.securityContext.seccompProfile') $(ds p '$c.securityContext.appArmorProfile')"
	expect "hostPID" true "$(ds p '$p.hostPID')"
}

@test "mounts: bpffs read-write; tracefs, cgroup, pod and container logs read-only, from the node" {
	render d
	expect "volumeMounts" \
		'[{"mountPath":"/sys/fs/bpf","name":"bpffs"},{"mountPath":"/sys/kernel/tracing","name":"tracefs","readOnly":true},{"mountPath":"/sys/fs/cgroup","name":"cgroup","readOnly":true},{"mountPath":"/var/log/pods","name":"pod-logs","readOnly":true},{"mountPath":"/var/log/containers","name":"container-logs","readOnly":true}]' \
		"$(ds d '$c.volumeMounts')"
	# Each mount is the node's own directory at the same path.
	expect "hostPath of each mount = its mountPath" '[]' \
		"$(ds d '[$c.volumeMounts[] | .name as $n | .mountPath as $m | ($p.volumes[] | select(.name == $n)) | select(.hostPath.path != $m) | $n]')"
	expect "volumes" '["bpffs:/sys/fs/bpf:Directory","cgroup:/sys/fs/cgroup:Directory","container-logs:/var/log/containers:DirectoryOrCreate","pod-logs:/var/log/pods:Directory","tracefs:/sys/kernel/tracing:Directory"]' \
		"$(ds d '[$p.volumes[] | "\(.name):\(.hostPath.path):\(.hostPath.type)"] | sort')"
	expect "PODTAP_PIN_PATH is on the bpffs mount" '"/sys/fs/bpf/podtap"' \
		"$(ds d '$c.env[] | select(.name == "PODTAP_PIN_PATH") | .value')"
	expect "PODTAP_POD_LOG_DIR" '"/var/log/pods"' \
		"$(ds d '$c.env[] | select(.name == "PODTAP_POD_LOG_DIR") | .value')"
}

@test "metrics port 9464 named metrics; liveness /healthz, readiness /readyz on it" {
	render d
	expect "ports" '[{"containerPort":9464,"name":"metrics","protocol":"TCP"}]' "$(ds d '$c.ports')"
	expect "liveness" '{"path":"/healthz","port":"metrics"}' "$(ds d '$c.livenessProbe.httpGet')"
	expect "readiness" '{"path":"/readyz","port":"metrics"}' "$(ds d '$c.readinessProbe.httpGet')"
	expect "PODTAP_METRICS_LISTEN" '{"name":"PODTAP_METRICS_LISTEN","value":"0.0.0.0:9464"}' \
		"$(env_of d PODTAP_METRICS_LISTEN)"
	render p --set metrics.port=9100,metrics.hostPort=true
	expect "ports" '[{"containerPort":9100,"hostPort":9100,"name":"metrics","protocol":"TCP"}]' "$(ds p '$c.ports')"
	expect "PODTAP_METRICS_LISTEN" '"0.0.0.0:9100"' "$(ds p '$c.env[] | select(.name == "PODTAP_METRICS_LISTEN") | .value')"
	expect "probe port follows by name" '"metrics"' "$(ds p '$c.livenessProbe.httpGet.port')"
}

@test "env: NODE_NAME and NODE_IP from the downward API; nothing optional by default" {
	render d
	expect "NODE_NAME" '{"name":"NODE_NAME","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}}' \
		"$(env_of d NODE_NAME)"
	expect "NODE_IP" '{"name":"NODE_IP","valueFrom":{"fieldRef":{"fieldPath":"status.hostIP"}}}' \
		"$(env_of d NODE_IP)"
	expect "env names" '["NODE_IP","NODE_NAME","PODTAP_METRICS_LISTEN","PODTAP_PAYLOAD_SIZE","PODTAP_PIN_PATH","PODTAP_POD_LOG_DIR"]' \
		"$(ds d '[$c.env[].name] | sort')"
	expect "PODTAP_PAYLOAD_SIZE" '"8192"' "$(ds d '$c.env[] | select(.name == "PODTAP_PAYLOAD_SIZE") | .value')"
	expect "args" null "$(ds d '$c.args')"
	expect "image" '"ghcr.io/podtap/podtap:0.1.0"' "$(ds d '$c.image')"
	expect "pullPolicy" '"IfNotPresent"' "$(ds d '$c.imagePullPolicy')"
	# A ratio of 0 is a value, not "unset".
	render z --set sampler.type=traceidratio,sampler.arg=0
	expect "OTEL_TRACES_SAMPLER_ARG=0" '{"name":"OTEL_TRACES_SAMPLER_ARG","value":"0"}' \
		"$(env_of z OTEL_TRACES_SAMPLER_ARG)"
}

@test "env: OTLP endpoint, headers (value or Secret), sampler, routes, payload size, extras" {
	render a --set otlp.endpoint=https://collector:4318,otlp.tracesEndpoint=https://t:4318/v1/traces \
		--set 'otlp.headers=x-api-key=abc\,x-b=c' --set sampler.type=parentbased_traceidratio,sampler.arg=0.25 \
		--set-json 'routes=["/users/{id}","/static/*"]' --set payloadSize=4096,otlp.compression=gzip,otlp.timeout=5000 \
		--set otlp.resourceAttributes=k8s.cluster.name=prod,verbose=true \
		--set-json 'extraArgs=["--route","/orders/{id}"]' --set extraEnv[0].name=FOO,extraEnv[0].value=bar \
		--set image.repository=registry.example/podtap,image.tag=1.2.3,image.pullPolicy=Always
	expect "OTEL_EXPORTER_OTLP_ENDPOINT" '"https://collector:4318"' "$(ds a '$c.env[] | select(.name == "OTEL_EXPORTER_OTLP_ENDPOINT") | .value')"
	expect "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" '"https://t:4318/v1/traces"' "$(ds a '$c.env[] | select(.name == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") | .value')"
	expect "OTEL_EXPORTER_OTLP_HEADERS" '"x-api-key=abc,x-b=c"' "$(ds a '$c.env[] | select(.name == "OTEL_EXPORTER_OTLP_HEADERS") | .value')"
	expect "OTEL_TRACES_SAMPLER" '"parentbased_traceidratio"' "$(ds a '$c.env[] | select(.name == "OTEL_TRACES_SAMPLER") | .value')"
	expect "OTEL_TRACES_SAMPLER_ARG" '"0.25"' "$(ds a '$c.env[] | select(.name == "OTEL_TRACES_SAMPLER_ARG") | .value')"
	expect "PODTAP_ROUTES" '"/users/{id},/static/*"' "$(ds a '$c.env[] | select(.name == "PODTAP_ROUTES") | .value')"
	expect "PODTAP_PAYLOAD_SIZE" '"4096"' "$(ds a '$c.env[] | select(.name == "PODTAP_PAYLOAD_SIZE") | .value')"
	expect "OTEL_EXPORTER_OTLP_COMPRESSION" '"gzip"' "$(ds a '$c.env[] | select(.name == "OTEL_EXPORTER_OTLP_COMPRESSION") | .value')"
	expect "OTEL_EXPORTER_OTLP_TIMEOUT" '"5000"' "$(ds a '$c.env[] | select(.name == "OTEL_EXPORTER_OTLP_TIMEOUT") | .value')"
	expect "OTEL_RESOURCE_ATTRIBUTES" '"k8s.cluster.name=prod"' "$(ds a '$c.env[] | select(.name == "OTEL_RESOURCE_ATTRIBUTES") | .value')"
	expect "PODTAP_VERBOSE" '"1"' "$(ds a '$c.env[] | select(.name == "PODTAP_VERBOSE") | .value')"
	expect "extraEnv (last)" '{"name":"FOO","value":"bar"}' "$(ds a '$c.env[-1]')"
	expect "extraArgs" '["--route","/orders/{id}"]' "$(ds a '$c.args')"
	expect "image" '"registry.example/podtap:1.2.3"' "$(ds a '$c.image')"
	expect "pullPolicy" '"Always"' "$(ds a '$c.imagePullPolicy')"
	expect "no duplicate env names" '[]' "$(ds a '[$c.env[].name] | group_by(.) | map(select(length > 1) | .[0])')"
	# The Secret wins over a literal value.
	render s --set otlp.headers=a=b,otlp.headersSecret.name=otlp-auth
	expect "OTEL_EXPORTER_OTLP_HEADERS from a Secret" \
		'[{"name":"OTEL_EXPORTER_OTLP_HEADERS","valueFrom":{"secretKeyRef":{"key":"headers","name":"otlp-auth"}}}]' \
		"$(ds s '[$c.env[] | select(.name == "OTEL_EXPORTER_OTLP_HEADERS")]')"
}

@test "kubelet off: no RBAC, no token; on: nodes/proxy + pods get/list, token, PODTAP_KUBELET=1" {
	render off
	expect "kinds" '["DaemonSet","ServiceAccount"]' "$(q off '[.[].kind] | sort')"
	expect "automountServiceAccountToken" false "$(ds off '$p.automountServiceAccountToken')"
	expect "PODTAP_KUBELET" '""' "$(env_of off PODTAP_KUBELET)"
	expect "ServiceAccount token off" false "$(q off '.[] | select(.kind == "ServiceAccount") | .automountServiceAccountToken')"
	render on --set kubelet.enabled=true,kubelet.insecureSkipVerify=true,seriesTTL=900
	expect "kinds" '["ClusterRole","ClusterRoleBinding","DaemonSet","ServiceAccount"]' "$(q on '[.[].kind] | sort')"
	expect "rules" '[{"apiGroups":[""],"resources":["nodes/proxy"],"verbs":["get","list"]},{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]' \
		"$(q on '.[] | select(.kind == "ClusterRole") | .rules')"
	expect "binding: role" '{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"podtap"}' \
		"$(q on '.[] | select(.kind == "ClusterRoleBinding") | .roleRef')"
	expect "binding: subject = the pod's service account" \
		"[{\"kind\":\"ServiceAccount\",\"name\":$(ds on '$p.serviceAccountName'),\"namespace\":\"obs\"}]" \
		"$(q on '.[] | select(.kind == "ClusterRoleBinding") | .subjects')"
	expect "automountServiceAccountToken" true "$(ds on '$p.automountServiceAccountToken')"
	expect "PODTAP_KUBELET" '{"name":"PODTAP_KUBELET","value":"1"}' "$(env_of on PODTAP_KUBELET)"
	expect "PODTAP_KUBELET_INSECURE_SKIP_VERIFY" '{"name":"PODTAP_KUBELET_INSECURE_SKIP_VERIFY","value":"1"}' \
		"$(env_of on PODTAP_KUBELET_INSECURE_SKIP_VERIFY)"
	expect "PODTAP_SERIES_TTL" '{"name":"PODTAP_SERIES_TTL","value":"900"}' "$(env_of on PODTAP_SERIES_TTL)"
	# The daemon's defaults (https://$NODE_IP:10250, the service account's
	# token and CA) need no variables.
	expect "PODTAP_KUBELET_URL unset" '""' "$(env_of on PODTAP_KUBELET_URL)"
	render url --set kubelet.enabled=true,kubelet.url=https://10.0.0.1:10250
	expect "PODTAP_KUBELET_URL" '{"name":"PODTAP_KUBELET_URL","value":"https://10.0.0.1:10250"}' "$(env_of url PODTAP_KUBELET_URL)"
	expect "insecure off by default" '""' "$(env_of url PODTAP_KUBELET_INSECURE_SKIP_VERIFY)"
}

@test "Service: off by default; on, it selects the pods' metrics port (and ServiceMonitor turns it on)" {
	render d
	expect "no Service" '[]' "$(q d '[.[] | select(.kind == "Service")]')"
	render s --set service.enabled=true
	expect "Service ports" '[{"name":"metrics","port":9464,"protocol":"TCP","targetPort":"metrics"}]' \
		"$(q s '.[] | select(.kind == "Service") | .spec.ports')"
	expect "Service selector = the pod labels it selects" "$(ds s '.spec.selector.matchLabels')" \
		"$(q s '.[] | select(.kind == "Service") | .spec.selector')"
	expect "internalTrafficPolicy" '"Local"' "$(q s '.[] | select(.kind == "Service") | .spec.internalTrafficPolicy')"
	render m --set serviceMonitor.enabled=true
	expect "Service with serviceMonitor" 1 "$(q m '[.[] | select(.kind == "Service")] | length')"
}

@test "GMP PodMonitoring selects the podtap pods' metrics port" {
	render d
	expect "no PodMonitoring by default" '[]' "$(q d '[.[] | select(.kind == "PodMonitoring")]')"
	render g --set podMonitoring.enabled=true,podMonitoring.interval=15s
	expect "apiVersion" '"monitoring.googleapis.com/v1"' "$(q g '.[] | select(.kind == "PodMonitoring") | .apiVersion')"
	expect "selector = pod labels" "$(ds g '.spec.selector.matchLabels')" \
		"$(q g '.[] | select(.kind == "PodMonitoring") | .spec.selector.matchLabels')"
	expect "endpoints" '[{"interval":"15s","path":"/metrics","port":"metrics","scheme":"http"}]' \
		"$(q g '.[] | select(.kind == "PodMonitoring") | .spec.endpoints | map(del(.metricRelabeling))')"
	expect "the port it names exists on the pod" '"metrics"' "$(ds g '$c.ports[0].name')"
	expect "namespace" '"obs"' "$(q g '.[] | select(.kind == "PodMonitoring") | .metadata.namespace')"
}

@test "ServiceMonitor selects the Service's metrics port in the release namespace" {
	render d
	expect "no ServiceMonitor by default" '[]' "$(q d '[.[] | select(.kind == "ServiceMonitor")]')"
	render m --set serviceMonitor.enabled=true,serviceMonitor.labels.release=kube-prometheus-stack
	expect "apiVersion" '"monitoring.coreos.com/v1"' "$(q m '.[] | select(.kind == "ServiceMonitor") | .apiVersion')"
	expect "selector matches the Service's labels" true \
		"$(q m '(.[] | select(.kind == "Service") | .metadata.labels) as $l | .[] | select(.kind == "ServiceMonitor") | .spec.selector.matchLabels | to_entries | all(.value == $l[.key])')"
	expect "namespaceSelector" '{"matchNames":["obs"]}' "$(q m '.[] | select(.kind == "ServiceMonitor") | .spec.namespaceSelector')"
	expect "endpoint port/path" '["metrics","/metrics","30s"]' \
		"$(q m '.[] | select(.kind == "ServiceMonitor") | .spec.endpoints[0] | [.port, .path, .interval]')"
	expect "extra label" '"kube-prometheus-stack"' "$(q m '.[] | select(.kind == "ServiceMonitor") | .metadata.labels.release')"
}

@test "prometheus.io annotations only when asked for" {
	render d
	expect "no prometheus.io annotations" '[]' \
		"$(ds d '[.spec.template.metadata.annotations // {} | keys[] | select(startswith("prometheus.io/"))]')"
	render a --set prometheusAnnotations.enabled=true,metrics.port=9100 --set podAnnotations.team=obs
	expect "annotations" '{"prometheus.io/path":"/metrics","prometheus.io/port":"9100","prometheus.io/scrape":"true","team":"obs"}' \
		"$(ds a '.spec.template.metadata.annotations')"
}

@test "resources, affinity, imagePullSecrets and pod labels pass through" {
	render d
	expect "default resources" '{"limits":{"memory":"256Mi"},"requests":{"cpu":"50m","memory":"64Mi"}}' "$(ds d '$c.resources')"
	render r --set resources.limits.cpu=1,resources.requests.memory=128Mi \
		--set 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=kubernetes.io/os' \
		--set 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=In' \
		--set 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values={linux}' \
		--set imagePullSecrets[0].name=regcred,podLabels.team=obs
	expect "resources" '{"limits":{"cpu":1,"memory":"256Mi"},"requests":{"cpu":"50m","memory":"128Mi"}}' "$(ds r '$c.resources')"
	expect "affinity" '["kubernetes.io/os","In",["linux"]]' \
		"$(ds r '$p.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0] | [.key, .operator, .values]')"
	expect "imagePullSecrets" '[{"name":"regcred"}]' "$(ds r '$p.imagePullSecrets')"
	expect "pod label" '"obs"' "$(ds r '.spec.template.metadata.labels.team')"
	expect "selector unchanged by pod labels" 2 "$(ds r '.spec.selector.matchLabels | length')"
}

@test "values.schema.json refuses bad values (renderer, as helm does, and ajv)" {
	local bad
	for bad in payloadSize=abc payloadSize=100 payloadSize=65536 metrics.port=0 \
		sampler.type=sometimes kubelet.enabled=yes otlp.endpoint=collector:4318 \
		image.pullPolicy=Sometimes otlp.endpont=http://x:4318 seriesTTL=-5 \
		'routes={users}' updateStrategy.rollingUpdate.maxUnavailable=0 \
		podMonitoring.interval=often securityContext.privileged=maybe \
		otlp.metrics.interval=0 otlp.metrics.endpoint=c:4318 \
		otlp.metrics.enabeld=true; do
		run "$RENDER" podtap --set "$bad"
		echo "--set $bad: status $status: $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"values don't meet the specifications of the schema"* ]]
	done
	# A string where an integer belongs, even as --set-string.
	run "$RENDER" podtap --set-string payloadSize=4096
	[ "$status" -ne 0 ]
	[[ "$output" == *"payloadSize"* ]]
	# ajv agrees: the defaults pass, bad values fail. (The merged values
	# come from tests/helm/render: helm prints none.)
	[ -x "$BATS_TEST_DIRNAME/../../build/tests/helm-render" ] ||
		make -s -C "$BATS_TEST_DIRNAME/../.." build/tests/helm-render
	run "$BATS_TEST_DIRNAME/../../build/tests/helm-render" template podtap "$CHART" --show-values
	[ "$status" -eq 0 ]
	echo "$output" >"$BATS_TEST_TMPDIR/values.json"
	node "$CHART_JS" values-schema "$CHART" "$BATS_TEST_TMPDIR/values.json"
	jq '.payloadSize = "8192"' "$BATS_TEST_TMPDIR/values.json" >"$BATS_TEST_TMPDIR/bad.json"
	run node "$CHART_JS" values-schema "$CHART" "$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"/payloadSize must be integer"* ]]
	jq '.kubelet.enabeld = true' "$BATS_TEST_TMPDIR/values.json" >"$BATS_TEST_TMPDIR/bad.json"
	run node "$CHART_JS" values-schema "$CHART" "$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"enabeld"* ]]
}

@test "chart's kubeVersion is enforced; appVersion is the image tag" {
	run "$RENDER" podtap --kube-version v1.24.0
	[ "$status" -ne 0 ]
	[[ "$output" == *"incompatible with Kubernetes"* ]]
	render d
	expect "image tag = appVersion" "\"ghcr.io/podtap/podtap:$(sed -n 's/^appVersion: "\(.*\)"/\1/p' "$CHART/Chart.yaml")\"" \
		"$(ds d '$c.image')"
	expect "version label = appVersion" "$(ds d '$c.image | split(":")[1]')" \
		"$(ds d '.metadata.labels["app.kubernetes.io/version"]')"
}

@test "NOTES.txt tells how to see the metrics (and what scrapes them)" {
	run "$RENDER" podtap --namespace obs --show-notes
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"kubectl -n obs port-forward daemonset/podtap 9464:9464"* ]]
	[[ "$output" == *"curl -s localhost:9464/metrics"* ]]
	[[ "$output" == *"Nothing scrapes it yet"* ]]
	[[ "$output" == *"Traces are off"* ]]
	[[ "$output" == *"capabilities BPF, PERFMON, SYS_PTRACE, DAC_READ_SEARCH, SYS_ADMIN)"* ]]
	run "$RENDER" podtap --namespace obs --show-notes --set podMonitoring.enabled=true,otlp.endpoint=http://c:4318
	[ "$status" -eq 0 ]
	[[ "$output" == *"PodMonitoring"* ]]
	[[ "$output" != *"Nothing scrapes it yet"* ]]
	[[ "$output" == *"http://c:4318/v1/traces"* ]]
}

@test "run.sh reads exactly the DaemonSet's capabilities and read-only mounts (chart.mjs pod-env)" {
	render d
	run node "$CHART_JS" pod-env "$BATS_TEST_TMPDIR/d.yaml"
	[ "$status" -eq 0 ]
	expect "pod-env" "PODTAP_TEST_CAPS=$(ds d '$c.securityContext.capabilities.add | join(",")' | tr -d '"')
PODTAP_TEST_RO_PATHS=/,$(ds d '[$c.volumeMounts[] | select(.readOnly) | .mountPath] | join(",")' | tr -d '"')
PODTAP_TEST_NO_NEW_PRIVS=1" "$output"
	[[ "$output" == *"PODTAP_TEST_CAPS=BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH,SYS_ADMIN"* ]]
	# A privileged chart has no capability set to test: refused.
	render p --set securityContext.privileged=true
	run node "$CHART_JS" pod-env "$BATS_TEST_TMPDIR/p.yaml"
	[ "$status" -eq 1 ]
}

@test "every PODTAP_* variable the chart can set is one the daemon reads" {
	local v missing=""
	# Everything on: each optional variable rendered once.
	render all --set kubelet.enabled=true,kubelet.insecureSkipVerify=true,kubelet.url=https://n:10250 \
		--set seriesTTL=60,ringbufSize=8388608,maxSeriesPerPod=10,verbose=true \
		--set pythonHooks.enabled=false \
		--set-json 'routes=["/a/{id}"]'
	for v in $(ds all '$c.env[].name' | tr -d '"' | grep '^PODTAP_'); do
		grep -rqF "\"$v\"" "$BATS_TEST_DIRNAME/../../user" ||
			missing="$missing $v"
	done
	expect "variables the daemon does not read" "" "$missing"
	expect "every optional variable rendered" 13 "$(ds all '[$c.env[].name | select(startswith("PODTAP_"))] | length')"
}
