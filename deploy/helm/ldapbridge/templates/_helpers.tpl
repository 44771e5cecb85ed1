{{/* Names and labels. */}}
{{- define "ldapbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ldapbridge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "ldapbridge.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "ldapbridge.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ldapbridge.component" -}}
{{- if eq .Values.mode "sidecar" }}sidecar{{ else }}server{{ end -}}
{{- end -}}

{{- define "ldapbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ldapbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ include "ldapbridge.component" . }}
{{- end -}}

{{- define "ldapbridge.labels" -}}
{{ include "ldapbridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ldapbridge.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "ldapbridge.tlsSecret" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "ldapbridge.fullname" .)) -}}
{{- end -}}

{{/* Where the mounted files are: the same paths as deploy/kubernetes/. */}}
{{- define "ldapbridge.tlsDir" -}}/run/secrets/ldapbridge/tls{{- end -}}

{{/*
The configuration: the user's `config` with the listeners and the admin
address the chart's ports, probes and policies are built around.
*/}}
{{- define "ldapbridge.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $tls := include "ldapbridge.tlsDir" . -}}
{{- if eq .Values.mode "sidecar" -}}
{{- $_ := set $cfg "listeners" (list (dict "name" "sidecar" "address" (printf "127.0.0.1:%d" (int .Values.sidecar.port)) "tls" "none" "cleartext" "loopback")) -}}
{{- $limits := deepCopy (default (dict) $cfg.limits) -}}
{{- $_ := set $limits "drain_timeout" .Values.sidecar.drainTimeout -}}
{{- $_ := set $cfg "limits" $limits -}}
{{- else -}}
{{- $ldap := dict "name" "ldap" "address" (printf ":%d" (int .Values.listeners.ldap.port)) "tls" "starttls" "cert_file" (printf "%s/tls.crt" $tls) "key_file" (printf "%s/tls.key" $tls) "cleartext" "refuse" -}}
{{- $ldaps := dict "name" "ldaps" "address" (printf ":%d" (int .Values.listeners.ldaps.port)) "tls" "ldaps" "cert_file" (printf "%s/tls.crt" $tls) "key_file" (printf "%s/tls.key" $tls) "cleartext" "refuse" -}}
{{- $_ := set $cfg "listeners" (list $ldap $ldaps) -}}
{{- end -}}
{{- $_ := set $cfg "admin" (dict "address" (printf ":%d" (int .Values.adminPort))) -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* GOMEMLIMIT: goMemLimit, or 90% of a memory limit given in Mi or Gi. */}}
{{- define "ldapbridge.goMemLimit" -}}
{{- $explicit := index . 0 -}}
{{- $mem := toString (index . 1) -}}
{{- if $explicit -}}
{{- $explicit -}}
{{- else if regexMatch "^[0-9]+Mi$" $mem -}}
{{- printf "%dMiB" (div (mul (atoi (trimSuffix "Mi" $mem)) 90) 100) -}}
{{- else if regexMatch "^[0-9]+Gi$" $mem -}}
{{- printf "%dMiB" (div (mul (atoi (trimSuffix "Gi" $mem)) 1024 90) 100) -}}
{{- else -}}
{{- fail (printf "cannot compute GOMEMLIMIT from the memory limit %q: give it in Mi or Gi, or set goMemLimit" $mem) -}}
{{- end -}}
{{- end -}}

{{/*
The ldapbridge container. Arguments: (list $ $resources $ports). In the
sidecar mode it is an init container with restartPolicy: Always (a native
sidecar); copy it, with "ldapbridge.sidecar.volumes" and the pod's
securityContext, into your own pod spec.
*/}}
{{- define "ldapbridge.container" -}}
{{- $ := index . 0 -}}
{{- $res := index . 1 -}}
{{- $sidecar := eq $.Values.mode "sidecar" -}}
- name: ldapbridge
  image: {{ include "ldapbridge.image" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  {{- if $sidecar }}
  restartPolicy: Always
  {{- end }}
  args: ["serve", "--config", "/etc/ldapbridge/ldapbridge.yaml"]
  ports:
    {{- if not $sidecar }}
    - name: ldap
      containerPort: {{ $.Values.listeners.ldap.port }}
      protocol: TCP
    - name: ldaps
      containerPort: {{ $.Values.listeners.ldaps.port }}
      protocol: TCP
    {{- end }}
    - name: admin
      containerPort: {{ $.Values.adminPort }}
      protocol: TCP
  env:
    # About 90% of the memory limit: the garbage collector works harder
    # before the limit, instead of the container being OOM-killed.
    - name: GOMEMLIMIT
      value: {{ include "ldapbridge.goMemLimit" (list $.Values.goMemLimit $res.limits.memory) | quote }}
    - name: GOGC
      value: {{ $.Values.goGC | quote }}
    {{- with $.Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if not $sidecar }}
  lifecycle:
    preStop:
      sleep:
        seconds: {{ $.Values.preStopSleepSeconds }}
  {{- end }}
  {{- if $sidecar }}
  # The application starts once this passes: every LDAP listener is bound.
  startupProbe:
    httpGet:
      path: /healthz
      port: admin
    periodSeconds: 1
    failureThreshold: 30
  {{- end }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: admin
    periodSeconds: 10
    timeoutSeconds: 2
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /readyz
      port: admin
    periodSeconds: 5
    timeoutSeconds: 2
    failureThreshold: 2
  resources:
    {{- toYaml $res | nindent 4 }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: ["ALL"]
    seccompProfile:
      type: RuntimeDefault
  volumeMounts:
    # Whole directories, never subPath (which never sees updates).
    - name: config
      mountPath: /etc/ldapbridge
      readOnly: true
    {{- range $.Values.secretMounts }}
    - name: {{ .name }}
      mountPath: {{ .mountPath }}
      readOnly: true
    {{- end }}
    {{- if not $sidecar }}
    - name: tls
      mountPath: {{ include "ldapbridge.tlsDir" $ }}
      readOnly: true
    {{- end }}
{{- end -}}

{{/* The volumes the container mounts. */}}
{{- define "ldapbridge.volumes" -}}
- name: config
  configMap:
    name: {{ include "ldapbridge.fullname" . }}-config
{{- range .Values.secretMounts }}
- name: {{ .name }}
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
{{- end }}
{{- if ne .Values.mode "sidecar" }}
- name: tls
  secret:
    secretName: {{ include "ldapbridge.tlsSecret" . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/* The pod's securityContext; the sidecar's loopback port 389 needs the sysctl. */}}
{{- define "ldapbridge.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
# Group owner of the mounted Secrets' files, so mode 0440 suffices.
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- if and (eq .Values.mode "sidecar") (lt (int .Values.sidecar.port) 1024) }}
sysctls:
  # Per network namespace (this pod only), and one of Kubernetes' safe
  # sysctls: the non-root bridge binds 127.0.0.1:389 with no capability.
  - name: net.ipv4.ip_unprivileged_port_start
    value: "0"
{{- end }}
{{- end -}}

{{/* For your own chart: the sidecar container and its volumes. */}}
{{- define "ldapbridge.sidecar.initContainers" -}}
{{ include "ldapbridge.container" (list . .Values.sidecar.resources) }}
{{- end -}}
{{- define "ldapbridge.sidecar.volumes" -}}
{{ include "ldapbridge.volumes" . }}
{{- end -}}
