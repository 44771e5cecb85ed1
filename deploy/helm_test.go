package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The Helm chart (deploy/helm/ldapbridge), rendered with `helm template`
// and held to the same checks as the kustomize manifests.
const (
	chartDir     = "helm/ldapbridge"
	helmRelease  = "ldapbridge"
	helmNS       = "identity"
	metricsLabel = "app.kubernetes.io/part-of" // marks the admin-only Service
)

var helmCases = []struct {
	name, values string
	sidecar      bool
}{
	{"default", "", false},
	{"all-on", "ci/all-on-values.yaml", false},
	{"sidecar", "ci/sidecar-values.yaml", true},
}

// helm returns helm's path: on PATH or in GOPATH/bin, where scripts/deps.sh
// installs it. A missing helm fails the test (CI must run these checks).
func helm(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(strings.Split(string(out), string(os.PathListSeparator))[0]), "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("helm is not installed: run `make deps` (scripts/deps.sh installs it with go install into GOPATH/bin)")
	return ""
}

func runHelm(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, helm(t), args...)
	// No repositories, plugins or caches of the machine's user.
	home := t.TempDir()
	c.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var o, e bytes.Buffer
	c.Stdout, c.Stderr = &o, &e
	err := c.Run()
	return o.String(), e.String(), err
}

func renderChart(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	// The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion):
	// helm template has no cluster to ask, and a helm built with go install
	// assumes 1.20.
	all := append([]string{"template", helmRelease, chartDir, "--namespace", helmNS, "--kube-version", "1.30.0"}, args...)
	out, stderr, err := runHelm(t, all...)
	if err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(all, " "), err, stderr)
	}
	return []byte(out), nil
}

func valuesArgs(values string) []string {
	if values == "" {
		return nil
	}
	return []string{"-f", filepath.Join(chartDir, values)}
}

// TestHelmLint runs helm lint --strict with the default values and with
// each values file of ci/.
func TestHelmLint(t *testing.T) {
	for _, tc := range helmCases {
		args := append([]string{"lint", "--strict", chartDir}, valuesArgs(tc.values)...)
		if out, stderr, err := runHelm(t, args...); err != nil {
			t.Errorf("%s: helm %s: %v\n%s%s", tc.name, strings.Join(args, " "), err, out, stderr)
		}
	}
}

// Custom resources, as far as the chart uses them: decoded strictly (an
// unknown or misspelt field is an error) and their required fields
// checked, since their schemas are not in k8s.io/api.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ruleFile `json:"spec"`
}

type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName string `json:"secretName"`
		IssuerRef  struct {
			Name  string `json:"name"`
			Kind  string `json:"kind,omitempty"`
			Group string `json:"group,omitempty"`
		} `json:"issuerRef"`
		DNSNames    []string `json:"dnsNames,omitempty"`
		Duration    string   `json:"duration,omitempty"`
		RenewBefore string   `json:"renewBefore,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		Usages []string `json:"usages,omitempty"`
	} `json:"spec"`
}

// rendered is a chart's output, decoded.
type rendered struct {
	b          *bundle
	metricsSvc []*corev1.Service
	hpas       []*autoscalingv2.HorizontalPodAutoscaler
	monitors   []*serviceMonitor
	rules      []*prometheusRule
	certs      []*certificate
}

func newHelmDecoder() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme, autoscalingv2.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

// decodeRendered decodes helm template's output: the Kubernetes kinds
// with the API server's strict decoding, the custom resources strictly
// into the structs above.
func decodeRendered(data []byte) (*rendered, error) {
	r := &rendered{b: &bundle{dir: chartDir, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}}
	dec := newHelmDecoder()
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if emptyDocument(doc) {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		var custom any
		switch tm.APIVersion + " " + tm.Kind {
		case "monitoring.coreos.com/v1 ServiceMonitor":
			sm := &serviceMonitor{}
			r.monitors, custom = append(r.monitors, sm), sm
		case "monitoring.coreos.com/v1 PrometheusRule":
			pr := &prometheusRule{}
			r.rules, custom = append(r.rules, pr), pr
		case "cert-manager.io/v1 Certificate":
			c := &certificate{}
			r.certs, custom = append(r.certs, c), c
		}
		if custom != nil {
			if err := yaml.UnmarshalStrict(doc, custom); err != nil {
				return nil, fmt.Errorf("document %d (%s): %w", n, tm.Kind, err)
			}
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.b.deployments = append(r.b.deployments, o)
		case *corev1.Service:
			if o.Labels[metricsLabel] == "ldapbridge-metrics" {
				r.metricsSvc = append(r.metricsSvc, o)
			} else {
				r.b.services = append(r.b.services, o)
			}
		case *corev1.ConfigMap:
			r.b.configMaps[o.Name] = o
		case *corev1.Secret:
			return nil, fmt.Errorf("document %d: the chart renders Secret %s; it mounts existing ones", n, o.Name)
		case *policyv1.PodDisruptionBudget:
			r.b.pdbs = append(r.b.pdbs, o)
		case *networkingv1.NetworkPolicy:
			r.b.netpols = append(r.b.netpols, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpas = append(r.hpas, o)
		default:
			return nil, fmt.Errorf("document %d: unexpected %T", n, o)
		}
	}
	return r, nil
}

// Stand-ins for the Secrets an operator creates (the chart mounts them by
// name), with the keys deploy/README.md tells them to use.
var standInSecrets = map[string]map[string]string{
	"ldapbridge-pingone": {"client-secret": phClientSecret},
	"ldapbridge-tls":     {"tls.crt": phTLSCert, "tls.key": phTLSKey},
}

func (r *rendered) addStandInSecrets(t *testing.T) {
	t.Helper()
	for _, d := range r.b.deployments {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret == nil {
				continue
			}
			keys, ok := standInSecrets[v.Secret.SecretName]
			if !ok {
				t.Errorf("volume %s mounts Secret %q, which deploy/README.md does not tell the operator to create", v.Name, v.Secret.SecretName)
				continue
			}
			r.b.secrets[v.Secret.SecretName] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: v.Secret.SecretName}, StringData: keys}
		}
	}
}

func renderCase(t *testing.T, values string, extra ...string) *rendered {
	t.Helper()
	out, err := renderChart(t, append(valuesArgs(values), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeRendered(out)
	if err != nil {
		t.Fatalf("helm template %s: %v", values, err)
	}
	r.addStandInSecrets(t)
	return r
}

// TestHelmChart renders the chart with each values file and checks the
// result as the kustomize manifests are checked, plus what only the chart
// has: the autoscaler, the cert-manager Certificate, the ServiceMonitor
// and the PrometheusRule.
func TestHelmChart(t *testing.T) {
	for _, tc := range helmCases {
		t.Run(tc.name, func(t *testing.T) {
			r := renderCase(t, tc.values)
			if probs := r.check(t, tc.sidecar); len(probs) > 0 {
				t.Errorf("%d problems:\n  %s", len(probs), strings.Join(probs, "\n  "))
			}
		})
	}
}

// check returns the problems of a rendered chart.
func (r *rendered) check(t *testing.T, sidecar bool) []string {
	t.Helper()
	var probs []string
	addf := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if len(r.b.deployments) != 1 {
		return []string{fmt.Sprintf("%d Deployments; want 1", len(r.b.deployments))}
	}
	d := r.b.deployments[0]
	podLabels := d.Spec.Template.Labels

	// The autoscaler owns the replica count; the checks see its minimum.
	for _, h := range r.hpas {
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
			addf("HorizontalPodAutoscaler %s scales %s %s, not the Deployment %s", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, d.Name)
		}
		if d.Spec.Replicas != nil {
			addf("Deployment %s sets replicas as well as an autoscaler (each apply would reset the count)", d.Name)
		}
		if h.Spec.MinReplicas != nil {
			m := *h.Spec.MinReplicas
			d.Spec.Replicas = &m
		}
	}
	probs = append(probs, checkBundle(r.b, sidecar, false)...)

	k := &checker{b: r.b, sidecar: sidecar}
	if !k.workload() || !k.configuration() {
		return append(probs, k.probs...)
	}
	for _, s := range r.metricsSvc {
		if !labelsMatch(s.Spec.Selector, podLabels) {
			addf("Service %s: the selector does not match the pod's labels", s.Name)
		}
		for _, sp := range s.Spec.Ports {
			if n, ok := k.resolve(sp.TargetPort); !ok || n != adminPortOf(k) {
				addf("Service %s port %s: targetPort %s is not the admin port", s.Name, sp.Name, sp.TargetPort.String())
			}
		}
	}
	for _, sm := range r.monitors {
		var svc *corev1.Service
		for _, s := range r.metricsSvc {
			if selects(&sm.Spec.Selector, s.Labels) {
				svc = s
			}
		}
		if svc == nil {
			addf("ServiceMonitor %s selects no admin-port Service", sm.Name)
			continue
		}
		if len(sm.Spec.Endpoints) == 0 {
			addf("ServiceMonitor %s has no endpoints", sm.Name)
		}
		for _, ep := range sm.Spec.Endpoints {
			found := false
			for _, sp := range svc.Spec.Ports {
				found = found || sp.Name == ep.Port
			}
			if !found || (ep.Path != "" && ep.Path != "/metrics") {
				addf("ServiceMonitor %s endpoint %s%s is not the Service's admin port and /metrics", sm.Name, ep.Port, ep.Path)
			}
		}
	}
	if len(r.monitors) > 0 && len(r.metricsSvc) == 0 {
		addf("a ServiceMonitor but no admin-port Service")
	}
	want := loadRules(t)
	for _, pr := range r.rules {
		if !sameJSON(t, pr.Spec, want) {
			addf("PrometheusRule %s: its groups differ from deploy/monitoring/%s (copy it to files/)", pr.Name, rulesFile)
		}
	}
	for _, c := range r.certs {
		if c.Spec.SecretName == "" || c.Spec.IssuerRef.Name == "" || len(c.Spec.DNSNames) == 0 {
			addf("Certificate %s lacks secretName, issuerRef.name or dnsNames", c.Name)
		}
		if !contains(c.Spec.Usages, "server auth") {
			addf("Certificate %s: usages lack server auth", c.Name)
		}
		mounted := false
		for _, v := range d.Spec.Template.Spec.Volumes {
			mounted = mounted || (v.Secret != nil && v.Secret.SecretName == c.Spec.SecretName)
		}
		if !mounted {
			addf("Certificate %s issues into Secret %s, which the pods do not mount", c.Name, c.Spec.SecretName)
		}
		for _, s := range r.b.services {
			if svc := s.Name + "." + helmNS + ".svc"; !contains(c.Spec.DNSNames, svc) {
				addf("Certificate %s does not name %s", c.Name, svc)
			}
		}
	}
	return probs
}

func adminPortOf(k *checker) int32 {
	_, p, _ := hostPort(k.cfg.Admin.Address)
	return p
}

// sameJSON compares two values by their JSON form.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	var x, y any
	for _, p := range []struct {
		in  any
		out *any
	}{{a, &x}, {b, &y}} {
		data, err := json.Marshal(p.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, p.out); err != nil {
			t.Fatal(err)
		}
	}
	return reflect.DeepEqual(x, y)
}

// TestHelmWhatIsRendered pins which objects each values file renders.
func TestHelmWhatIsRendered(t *testing.T) {
	kinds := func(r *rendered) string {
		var out []string
		add := func(kind string, n int) {
			for i := 0; i < n; i++ {
				out = append(out, kind)
			}
		}
		add("ConfigMap", len(r.b.configMaps))
		add("Deployment", len(r.b.deployments))
		add("Service", len(r.b.services))
		add("MetricsService", len(r.metricsSvc))
		add("PodDisruptionBudget", len(r.b.pdbs))
		add("NetworkPolicy", len(r.b.netpols))
		add("HorizontalPodAutoscaler", len(r.hpas))
		add("ServiceMonitor", len(r.monitors))
		add("PrometheusRule", len(r.rules))
		add("Certificate", len(r.certs))
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for _, tc := range []struct{ values, want string }{
		{"", "ConfigMap Deployment NetworkPolicy PodDisruptionBudget Service"},
		{"ci/all-on-values.yaml", "Certificate ConfigMap Deployment HorizontalPodAutoscaler MetricsService NetworkPolicy PodDisruptionBudget PrometheusRule Service ServiceMonitor"},
		{"ci/sidecar-values.yaml", "ConfigMap Deployment PrometheusRule"},
	} {
		if got := kinds(renderCase(t, tc.values)); got != tc.want {
			t.Errorf("%q renders %s; want %s", tc.values, got, tc.want)
		}
	}
}

// TestHelmPlaceholders: the default values leave exactly the documented
// placeholders of the configuration to fill in (the Secrets are the
// operator's), and the configuration is refused until they are.
func TestHelmPlaceholders(t *testing.T) {
	out, err := renderChart(t)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllString(string(out), -1) {
		seen[m] = true
	}
	var got []string
	for p := range seen {
		got = append(got, p)
	}
	sort.Strings(got)
	if want := []string{phClientID, phEnvironmentID}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("placeholders %q; want %q", got, want)
	}
}

// TestHelmConfigWithBinary runs the real binary's check-config on the
// configuration each values file renders, with the mounted files in place.
func TestHelmConfigWithBinary(t *testing.T) {
	for _, tc := range helmCases {
		t.Run(tc.name, func(t *testing.T) {
			configWithBinary(t, renderCase(t, tc.values).b, tc.sidecar)
		})
	}
}

// TestHelmRefusesMistakes: values the chart must refuse at render time.
func TestHelmRefusesMistakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"--set", "mode=daemonset"}, `mode "daemonset"`},
		{"one replica under autoscaling", []string{"--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=1"}, "minReplicas must be at least 2"},
		{"memory limit GOMEMLIMIT cannot follow", []string{"--set", "resources.limits.memory=300M"}, "set goMemLimit"},
		{"cert-manager without an issuer", []string{"--set", "tls.certManager.enabled=true"}, "issuerRef.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template %s: %v; want an error mentioning %q", strings.Join(tc.args, " "), err, tc.want)
			}
		})
	}
}

// TestHelmChecksCatchMistakes breaks rendered output the way a template
// edit could, and requires the checks to say so.
func TestHelmChecksCatchMistakes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(r *rendered)
		want   string
	}{
		{"rules drift", func(r *rendered) { r.rules[0].Spec.Groups[0].Rules[0].Expr = "vector(1)" }, "differ from deploy/monitoring"},
		{"monitor selects nothing", func(r *rendered) {
			r.monitors[0].Spec.Selector.MatchLabels = map[string]string{"x": "y"}
		}, "selects no admin-port Service"},
		{"certificate into another Secret", func(r *rendered) { r.certs[0].Spec.SecretName = "other" }, "which the pods do not mount"},
		{"autoscaler and replicas", func(r *rendered) { n := int32(3); r.b.deployments[0].Spec.Replicas = &n }, "sets replicas as well"},
		{"autoscaler min 1", func(r *rendered) { n := int32(1); r.hpas[0].Spec.MinReplicas = &n }, "needs two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := renderCase(t, "ci/all-on-values.yaml")
			tc.mutate(r)
			probs := r.check(t, false)
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got:\n  %s", tc.want, strings.Join(probs, "\n  "))
		})
	}
}
