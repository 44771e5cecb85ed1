package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ldapbridge/ldapbridge/config"
)

const (
	// configPath is where every shipped deployment mounts the
	// configuration, and the image's default CMD reads it.
	configPath      = "/etc/ldapbridge/ldapbridge.yaml"
	bridgeContainer = "ldapbridge"
	bridgeImage     = "ghcr.io/ldapbridge/ldapbridge"
	kustomFile      = "kustomization.yaml"
	maxBridgeMemory = "512Mi" // "small requests and limits"
)

// newManifestDecoder decodes YAML the way the API server does with strict
// field validation: case-sensitive field names, and unknown or duplicate
// fields are errors. Only the kinds the manifests may use are registered.
func newManifestDecoder() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err) // the k8s.io/api registrations cannot fail
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

// decodeManifests splits a file into its YAML documents (as kubectl does)
// and decodes each strictly; documents with only comments are skipped.
func decodeManifests(dec runtime.Decoder, data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []runtime.Object
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("split documents: %w", err)
		}
		if emptyDocument(doc) {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		out = append(out, obj)
	}
	if len(out) == 0 {
		return nil, errors.New("no manifest in the file")
	}
	return out, nil
}

func emptyDocument(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// kustomization is the part of kustomize's Kustomization the manifests
// use; anything else in the file is an error.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// bundle is one directory of manifests, decoded.
type bundle struct {
	dir         string
	files       []string // manifest files, kustomization.yaml excluded
	kust        kustomization
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        []*policyv1.PodDisruptionBudget
	netpols     []*networkingv1.NetworkPolicy
}

func loadBundle(t *testing.T, dir string) *bundle {
	t.Helper()
	b := &bundle{dir: dir, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	data, err := os.ReadFile(filepath.Join(dir, kustomFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &b.kust); err != nil {
		t.Fatalf("%s/%s: %v", dir, kustomFile, err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := newManifestDecoder()
	for _, name := range names {
		base := filepath.Base(name)
		if base == kustomFile {
			continue
		}
		b.files = append(b.files, base)
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeManifests(dec, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, o := range objs {
			switch o := o.(type) {
			case *appsv1.Deployment:
				b.deployments = append(b.deployments, o)
			case *corev1.Service:
				b.services = append(b.services, o)
			case *corev1.ConfigMap:
				if b.configMaps[o.Name] != nil {
					t.Fatalf("%s: a second ConfigMap %q", name, o.Name)
				}
				b.configMaps[o.Name] = o
			case *corev1.Secret:
				if b.secrets[o.Name] != nil {
					t.Fatalf("%s: a second Secret %q", name, o.Name)
				}
				b.secrets[o.Name] = o
			case *policyv1.PodDisruptionBudget:
				b.pdbs = append(b.pdbs, o)
			case *networkingv1.NetworkPolicy:
				b.netpols = append(b.netpols, o)
			default:
				t.Fatalf("%s: unexpected %T", name, o)
			}
		}
	}
	return b
}

// checker collects every problem of a bundle, so a test can both require
// none (the shipped manifests) and require a given one (a broken copy).
type checker struct {
	b       *bundle
	sidecar bool
	probs   []string

	spec    *corev1.PodSpec
	c       *corev1.Container
	replica int32
	cfgText string // the configuration as shipped
	cfg     *config.Config
}

func (k *checker) addf(format string, args ...any) {
	k.probs = append(k.probs, fmt.Sprintf(format, args...))
}

// check runs every check on b; sidecar says which pattern b is.
func check(b *bundle, sidecar bool) []string {
	return checkBundle(b, sidecar, true)
}

// checkBundle runs the checks; kustomized adds those of the
// kustomization.yaml (its resources and the image it sets), which a Helm
// chart's rendered manifests do not have.
func checkBundle(b *bundle, sidecar, kustomized bool) []string {
	k := &checker{b: b, sidecar: sidecar}
	if kustomized {
		k.kustomization()
	}
	if !k.workload() {
		return k.probs
	}
	k.security()
	k.resources()
	k.goRuntime()
	k.volumes()
	if kustomized {
		k.image()
	}
	if k.configuration() {
		k.listeners()
		k.admin()
		k.files()
		k.termination()
		if sidecar {
			k.sidecarPattern()
		} else {
			k.standalone()
		}
	}
	return k.probs
}

func (k *checker) kustomization() {
	ks := k.b.kust
	if ks.APIVersion != "kustomize.config.k8s.io/v1beta1" || ks.Kind != "Kustomization" {
		k.addf("kustomization: apiVersion %q kind %q; want kustomize.config.k8s.io/v1beta1 Kustomization", ks.APIVersion, ks.Kind)
	}
	listed := map[string]bool{}
	for _, r := range ks.Resources {
		if listed[r] {
			k.addf("kustomization lists %s twice", r)
		}
		listed[r] = true
	}
	for _, f := range k.b.files {
		if !listed[f] {
			k.addf("kustomization does not list %s", f)
		}
		delete(listed, f)
	}
	for r := range listed {
		k.addf("kustomization lists %s, which is not a manifest in %s", r, k.b.dir)
	}
}

// workload finds the Deployment and the ldapbridge container in it.
func (k *checker) workload() bool {
	if len(k.b.deployments) != 1 {
		k.addf("%d Deployments; want 1", len(k.b.deployments))
		return false
	}
	d := k.b.deployments[0]
	k.spec = &d.Spec.Template.Spec
	k.replica = 1
	if d.Spec.Replicas != nil {
		k.replica = *d.Spec.Replicas
	}
	if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
		k.addf("Deployment %s: the selector does not match the pod template's labels", d.Name)
	}
	for i := range k.spec.InitContainers {
		if c := &k.spec.InitContainers[i]; c.Name == bridgeContainer {
			k.c = c
			if !k.sidecar {
				k.addf("ldapbridge is an init container; the standalone Deployment runs it as a container")
			} else if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				k.addf("the ldapbridge init container lacks restartPolicy: Always (a native sidecar)")
			}
		}
	}
	for i := range k.spec.Containers {
		if c := &k.spec.Containers[i]; c.Name == bridgeContainer {
			if k.c != nil {
				k.addf("two containers named ldapbridge")
			}
			k.c = c
			if k.sidecar {
				k.addf("ldapbridge is a regular container; a native sidecar is an init container with restartPolicy: Always")
			}
		}
	}
	if k.c == nil {
		k.addf("no container named %s", bridgeContainer)
		return false
	}
	if k.sidecar && len(k.spec.Containers) == 0 {
		k.addf("the sidecar's pod has no application container")
	}
	return true
}

// allContainers returns the pod's init and regular containers.
func (k *checker) allContainers() []*corev1.Container {
	var out []*corev1.Container
	for i := range k.spec.InitContainers {
		out = append(out, &k.spec.InitContainers[i])
	}
	for i := range k.spec.Containers {
		out = append(out, &k.spec.Containers[i])
	}
	return out
}

// security holds every container to the restricted Pod Security Standard
// and the bridge to a read-only root filesystem and a non-root uid.
func (k *checker) security() {
	ps := k.spec.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}
	if k.spec.HostNetwork || k.spec.HostPID || k.spec.HostIPC {
		k.addf("the pod shares a host namespace")
	}
	if k.spec.AutomountServiceAccountToken == nil || *k.spec.AutomountServiceAccountToken {
		k.addf("automountServiceAccountToken is not false (ldapbridge never calls the Kubernetes API)")
	}
	for _, c := range k.allContainers() {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = ps.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			k.addf("container %s: runAsNonRoot is not true", c.Name)
		}
		uid := sc.RunAsUser
		if uid == nil {
			uid = ps.RunAsUser
		}
		if uid != nil && *uid == 0 {
			k.addf("container %s: runAsUser 0", c.Name)
		}
		if c.Name == bridgeContainer && uid == nil {
			k.addf("container %s: no runAsUser", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			k.addf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			k.addf("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !contains(capNames(sc.Capabilities.Drop), "ALL") {
			k.addf("container %s: capabilities do not drop ALL", c.Name)
		} else if len(sc.Capabilities.Add) > 0 {
			k.addf("container %s: adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
		sp := sc.SeccompProfile
		if sp == nil {
			sp = ps.SeccompProfile
		}
		if sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			k.addf("container %s: seccomp profile is not RuntimeDefault", c.Name)
		}
		if c.Name == bridgeContainer && (sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem) {
			k.addf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
	}
}

func capNames(cs []corev1.Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func (k *checker) resources() {
	max := resource.MustParse(maxBridgeMemory)
	for _, c := range k.allContainers() {
		r := c.Resources
		if _, ok := r.Limits[corev1.ResourceMemory]; !ok {
			k.addf("container %s: no memory limit", c.Name)
		}
		if c.Name != bridgeContainer {
			continue
		}
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := r.Requests[name]
			lim, okLim := r.Limits[name]
			switch {
			case !okReq || !okLim:
				k.addf("container %s: %s request or limit missing", c.Name, name)
			case req.Cmp(lim) > 0:
				k.addf("container %s: %s request %s above its limit %s", c.Name, name, req.String(), lim.String())
			}
		}
		if lim, ok := r.Limits[corev1.ResourceMemory]; ok && lim.Cmp(max) > 0 {
			k.addf("container %s: memory limit %s is not small (at most %s)", c.Name, lim.String(), maxBridgeMemory)
		}
	}
}

// goRuntime checks the Go runtime's settings: GOMEMLIMIT a literal at
// about 90% of the memory limit (the collector works harder before the
// limit rather than the container being OOM-killed; at 100% it would run
// into the kernel's limit first, as the limit counts more than the heap),
// and GOGC as docs/performance.md tunes it.
func (k *checker) goRuntime() {
	env := map[string]*corev1.EnvVar{}
	for i := range k.c.Env {
		env[k.c.Env[i].Name] = &k.c.Env[i]
	}
	lim, ok := k.c.Resources.Limits[corev1.ResourceMemory]
	switch e := env["GOMEMLIMIT"]; {
	case e == nil:
		k.addf("container %s: no GOMEMLIMIT", k.c.Name)
	case e.ValueFrom != nil:
		k.addf("container %s: GOMEMLIMIT from %s is the whole memory limit; set about 90%% of it as a value", k.c.Name, "valueFrom")
	case !ok:
	default:
		n, err := parseGoMemLimit(e.Value)
		ratio := float64(n) / float64(lim.Value())
		if err != nil {
			k.addf("container %s: GOMEMLIMIT %q: %v", k.c.Name, e.Value, err)
		} else if ratio < 0.85 || ratio > 0.95 {
			k.addf("container %s: GOMEMLIMIT %s is %.0f%% of the memory limit %s; want about 90%%", k.c.Name, e.Value, ratio*100, lim.String())
		}
	}
	if e := env["GOGC"]; e == nil || e.Value != "400" {
		k.addf("container %s: GOGC is not 400 (docs/performance.md)", k.c.Name)
	}
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: a number of
// bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("not a positive number of bytes with an optional B, KiB, MiB, GiB or TiB suffix")
	}
	return n * mult, nil
}

// volumes checks that mounts, volumes and the objects they name agree.
func (k *checker) volumes() {
	vols := map[string]*corev1.Volume{}
	for i := range k.spec.Volumes {
		v := &k.spec.Volumes[i]
		vols[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			if k.b.configMaps[v.ConfigMap.Name] == nil {
				k.addf("volume %s: ConfigMap %q is not in %s", v.Name, v.ConfigMap.Name, k.b.dir)
			}
			if v.ConfigMap.Optional != nil && *v.ConfigMap.Optional {
				k.addf("volume %s: optional", v.Name)
			}
		case v.Secret != nil:
			if k.b.secrets[v.Secret.SecretName] == nil {
				k.addf("volume %s: Secret %q is not in %s", v.Name, v.Secret.SecretName, k.b.dir)
			}
			if v.Secret.Optional != nil && *v.Secret.Optional {
				k.addf("volume %s: optional", v.Name)
			}
			// Read-only for owner and group, nothing for others: 0440
			// (YAML 1.1 reads the leading 0 as octal, as kubectl does).
			if m := v.Secret.DefaultMode; m == nil || *m&0o007 != 0 {
				k.addf("volume %s: the Secret's files are world-readable (set defaultMode, e.g. 0440)", v.Name)
			} else if *m&0o222 != 0 {
				k.addf("volume %s: defaultMode %#o makes the Secret's files writable", v.Name, *m)
			}
		}
	}
	for _, c := range k.allContainers() {
		for _, m := range c.VolumeMounts {
			if vols[m.Name] == nil {
				k.addf("container %s mounts %s, which is not a volume", c.Name, m.Name)
			}
		}
	}
}

// image checks that kubectl apply -f and -k deploy the same image.
func (k *checker) image() {
	repo, tag, _ := strings.Cut(k.c.Image, ":")
	if repo != bridgeImage {
		k.addf("ldapbridge image %q; want %s:TAG", k.c.Image, bridgeImage)
	}
	found := false
	for _, im := range k.b.kust.Images {
		if im.Name == bridgeImage {
			found = true
			if im.NewTag != tag {
				k.addf("kustomization images sets tag %q, the Deployment says %q", im.NewTag, tag)
			}
		}
	}
	if !found {
		k.addf("kustomization has no images entry for %s", bridgeImage)
	}
}

// mountOf finds the container's mount holding file p and its volume.
func (k *checker) mountOf(p string) (*corev1.VolumeMount, *corev1.Volume, string) {
	var best *corev1.VolumeMount
	for i := range k.c.VolumeMounts {
		m := &k.c.VolumeMounts[i]
		if strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/") &&
			(best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = m
		}
	}
	if best == nil {
		return nil, nil, ""
	}
	for i := range k.spec.Volumes {
		if k.spec.Volumes[i].Name == best.Name {
			return best, &k.spec.Volumes[i], strings.TrimPrefix(p, strings.TrimSuffix(best.MountPath, "/")+"/")
		}
	}
	return best, nil, ""
}

// keyFor returns the ConfigMap or Secret key a file of the volume shows.
func keyFor(items []corev1.KeyToPath, rel string) (string, bool) {
	if len(items) == 0 {
		return rel, !strings.Contains(rel, "/")
	}
	for _, it := range items {
		if path.Clean(it.Path) == rel {
			return it.Key, true
		}
	}
	return "", false
}

// fileValue returns the content file p has in the container, from the
// manifests: what is mounted there. secretOnly refuses a ConfigMap.
func (k *checker) fileValue(p, what string, secretOnly bool) (string, bool) {
	m, v, rel := k.mountOf(p)
	if m == nil || v == nil {
		k.addf("%s %s is not under any volume mount of the ldapbridge container", what, p)
		return "", false
	}
	if m.SubPath != "" || m.SubPathExpr != "" {
		k.addf("%s: mount %s uses subPath, which never sees updates", what, m.MountPath)
	}
	if !m.ReadOnly {
		k.addf("%s: mount %s is not readOnly", what, m.MountPath)
	}
	switch {
	case v.Secret != nil:
		s := k.b.secrets[v.Secret.SecretName]
		key, ok := keyFor(v.Secret.Items, rel)
		if s == nil || !ok {
			k.addf("%s %s: volume %s shows no such file", what, p, v.Name)
			return "", false
		}
		if val, ok := s.StringData[key]; ok {
			return val, true
		}
		if val, ok := s.Data[key]; ok {
			return string(val), true
		}
		k.addf("%s %s: Secret %s has no key %q", what, p, s.Name, key)
	case v.ConfigMap != nil && !secretOnly:
		cm := k.b.configMaps[v.ConfigMap.Name]
		key, ok := keyFor(v.ConfigMap.Items, rel)
		if cm == nil || !ok {
			k.addf("%s %s: volume %s shows no such file", what, p, v.Name)
			return "", false
		}
		if val, ok := cm.Data[key]; ok {
			return val, true
		}
		k.addf("%s %s: ConfigMap %s has no key %q", what, p, cm.Name, key)
	default:
		kind := "a Secret"
		if !secretOnly {
			kind = "a Secret or ConfigMap"
		}
		k.addf("%s %s: volume %s is not %s", what, p, v.Name, kind)
	}
	return "", false
}

// configuration reads the ldapbridge.yaml the container is told to load.
func (k *checker) configuration() bool {
	if len(k.c.Command) > 0 {
		k.addf("ldapbridge sets command %q; the image's ENTRYPOINT is the binary", k.c.Command)
	}
	if len(k.c.Args) != 3 || k.c.Args[0] != "serve" || k.c.Args[1] != "--config" {
		k.addf("ldapbridge args %q; want serve --config FILE", k.c.Args)
		return false
	}
	if k.c.Args[2] != configPath {
		k.addf("the config path %s is not %s, where the image's CMD looks", k.c.Args[2], configPath)
	}
	text, ok := k.fileValue(k.c.Args[2], "the config file", false)
	if !ok {
		return false
	}
	if _, _, rel := k.mountOf(k.c.Args[2]); rel != path.Base(k.c.Args[2]) {
		k.addf("the config file is not at the top of its mount")
	}
	k.cfgText = text
	env := map[string]string{}
	for _, e := range k.c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	cfg, err := config.ParseWithOptions([]byte(fill(text)), "the ConfigMap's "+path.Base(k.c.Args[2]), config.ParseOptions{
		SkipFileChecks: true,
		LookupEnv: func(n string) (string, bool) {
			v, ok := env[n]
			return v, ok
		},
	})
	if err != nil {
		k.addf("%v", err)
		return false
	}
	k.cfg = cfg
	return true
}

// hostPort splits a listen address.
func hostPort(addr string) (host string, port int32, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, err
	}
	return h, int32(n), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// containerPort returns the bridge's container port numbered n.
func (k *checker) containerPort(n int32) *corev1.ContainerPort {
	for i := range k.c.Ports {
		if k.c.Ports[i].ContainerPort == n {
			return &k.c.Ports[i]
		}
	}
	return nil
}

// resolve turns a port given by number or name into a number, against
// the bridge's container ports.
func (k *checker) resolve(p intstr.IntOrString) (int32, bool) {
	if p.Type == intstr.Int {
		return p.IntVal, true
	}
	for _, cp := range k.c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// unprivilegedPortStart is the pod's net.ipv4.ip_unprivileged_port_start
// (1024 unless set). With every capability dropped, it alone decides
// whether the non-root bridge may bind a port.
func (k *checker) unprivilegedPortStart() int32 {
	if sc := k.spec.SecurityContext; sc != nil {
		for _, s := range sc.Sysctls {
			if s.Name == "net.ipv4.ip_unprivileged_port_start" {
				if n, err := strconv.Atoi(s.Value); err == nil {
					return int32(n)
				}
			}
		}
	}
	return 1024
}

// listeners checks the LDAP listeners against the container's ports.
func (k *checker) listeners() {
	want := map[int32]bool{}
	for _, l := range k.cfg.Listeners {
		host, port, err := hostPort(l.Address)
		if err != nil {
			k.addf("listener %s: %v", l.Name, err)
			continue
		}
		if port < k.unprivilegedPortStart() {
			k.addf("listener %s binds port %d, but the pod lets a non-root user bind only from %d (set the sysctl net.ipv4.ip_unprivileged_port_start)", l.Name, port, k.unprivilegedPortStart())
		}
		cp := k.containerPort(port)
		if isLoopback(host) {
			// Reachable from inside the pod only: declaring it would
			// suggest otherwise.
			if cp != nil {
				k.addf("listener %s is on loopback, yet port %d is a container port", l.Name, port)
			}
			continue
		}
		want[port] = true
		if cp == nil || (cp.Protocol != "" && cp.Protocol != corev1.ProtocolTCP) {
			k.addf("listener %s (%s): no TCP container port %d", l.Name, l.Address, port)
		}
	}
	if _, port, err := hostPort(k.cfg.Admin.Address); err == nil {
		want[port] = true
	}
	for _, cp := range k.c.Ports {
		if !want[cp.ContainerPort] {
			k.addf("container port %s/%d serves nothing in the configuration", cp.Name, cp.ContainerPort)
		}
	}
}

// admin checks the admin listener against the probes.
func (k *checker) admin() {
	host, port, err := hostPort(k.cfg.Admin.Address)
	if err != nil {
		k.addf("admin.address %q: %v (the probes need the admin listener)", k.cfg.Admin.Address, err)
		return
	}
	if isLoopback(host) {
		k.addf("admin.address %s is on loopback; the kubelet probes the pod IP", k.cfg.Admin.Address)
	}
	if k.containerPort(port) == nil {
		k.addf("admin port %d is not a container port", port)
	}
	probe := func(kind string, p *corev1.Probe, paths ...string) {
		if p == nil {
			k.addf("no %s probe", kind)
			return
		}
		g := p.HTTPGet
		if g == nil {
			k.addf("the %s probe is not an HTTP GET", kind)
			return
		}
		if !contains(paths, g.Path) {
			k.addf("the %s probe gets %s; want %s", kind, g.Path, strings.Join(paths, " or "))
		}
		if n, ok := k.resolve(g.Port); !ok || n != port {
			k.addf("the %s probe's port %s is not the admin port %d", kind, g.Port.String(), port)
		}
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			k.addf("the %s probe uses %s; the admin listener is plain HTTP", kind, g.Scheme)
		}
		if g.Host != "" {
			k.addf("the %s probe sets host %s", kind, g.Host)
		}
	}
	probe("liveness", k.c.LivenessProbe, "/healthz")
	probe("readiness", k.c.ReadinessProbe, "/readyz")
	if k.c.StartupProbe != nil || k.sidecar {
		// For a native sidecar, the application starts once this passes.
		probe("startup", k.c.StartupProbe, "/healthz", "/readyz")
	}
	if v, ok := k.b.deployments[0].Spec.Template.Annotations["prometheus.io/port"]; ok && v != strconv.Itoa(int(port)) {
		k.addf("prometheus.io/port %s is not the admin port %d", v, port)
	}
}

// files checks that every file the configuration reads is mounted from
// the right kind of object, and that no secret is in the ConfigMap.
func (k *checker) files() {
	for _, l := range k.cfg.Listeners {
		if l.TLS == config.TLSNone {
			continue
		}
		k.fileValue(l.CertFile, "listener "+l.Name+" cert_file", false)
		k.fileValue(l.KeyFile, "listener "+l.Name+" key_file", true)
	}
	for _, be := range k.cfg.Backends {
		if be.CAFile != "" {
			k.fileValue(be.CAFile, "backend "+be.Name+" ca_file", false)
		}
		if p := be.PingOne; p != nil {
			if p.ClientSecretFile == "" {
				k.addf("backend %s: the client secret is not read from a file (client_secret_file from a Secret)", be.Name)
				continue
			}
			k.fileValue(p.ClientSecretFile, "backend "+be.Name+" client_secret_file", true)
		}
	}
	if af := k.cfg.Log.AuditFile; af != "" {
		// The root filesystem is read-only: the audit file needs a
		// writable volume.
		m, v, _ := k.mountOf(af)
		if m == nil || v == nil || v.EmptyDir == nil || m.ReadOnly {
			k.addf("log.audit_file %s is not on a writable emptyDir volume", af)
		}
	}
}

// termination checks that a drain finishes before the kubelet kills.
func (k *checker) termination() {
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if k.spec.TerminationGracePeriodSeconds != nil {
		grace = *k.spec.TerminationGracePeriodSeconds
	}
	need := time.Duration(k.cfg.Limits.DrainTimeout)
	if lc := k.c.Lifecycle; lc != nil && lc.PreStop != nil {
		switch {
		case lc.PreStop.Sleep != nil:
			need += time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
		default:
			k.addf("the preStop hook is not a sleep (the image has no shell)")
		}
	}
	if need >= time.Duration(grace)*time.Second {
		k.addf("terminationGracePeriodSeconds %d is not above limits.drain_timeout plus the preStop pause (%s)", grace, need)
	}
}

func (k *checker) sidecarPattern() {
	for _, l := range k.cfg.Listeners {
		if host, _, err := hostPort(l.Address); err == nil && !isLoopback(host) {
			k.addf("sidecar listener %s listens on %s, not loopback", l.Name, l.Address)
		}
	}
	if len(k.b.services) > 0 {
		k.addf("the sidecar pattern has a Service: the bridge is reached over loopback")
	}
}

// ruleAllows reports whether a NetworkPolicy rule's ports admit port.
func (k *checker) ruleAllows(ports []networkingv1.NetworkPolicyPort, proto corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.Int && p.EndPort != nil {
			if p.Port.IntVal <= port && port <= *p.EndPort {
				return true
			}
			continue
		}
		if n, ok := k.resolve(*p.Port); ok && n == port {
			return true
		}
	}
	return false
}

func (k *checker) standalone() {
	labels := k.b.deployments[0].Spec.Template.Labels
	listenerPorts := map[int32]string{}
	for _, l := range k.cfg.Listeners {
		if host, port, err := hostPort(l.Address); err == nil && !isLoopback(host) {
			listenerPorts[port] = l.Name
		}
	}
	_, adminPort, _ := hostPort(k.cfg.Admin.Address)

	if len(k.b.services) == 0 {
		k.addf("no Service")
	}
	reached := map[int32]bool{}
	for _, s := range k.b.services {
		if len(s.Spec.Selector) == 0 || !labelsMatch(s.Spec.Selector, labels) {
			k.addf("Service %s: the selector does not match the pod's labels", s.Name)
		}
		for _, sp := range s.Spec.Ports {
			tp := sp.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(sp.Port)
			}
			n, ok := k.resolve(tp)
			if !ok {
				k.addf("Service %s port %s: targetPort %s names no container port", s.Name, sp.Name, tp.String())
				continue
			}
			if _, ok := listenerPorts[n]; !ok {
				k.addf("Service %s port %s: targetPort %s (%d) is no LDAP listener", s.Name, sp.Name, tp.String(), n)
			}
			reached[n] = true
		}
	}
	for port, name := range listenerPorts {
		if !reached[port] {
			k.addf("listener %s (port %d) is not reachable through a Service", name, port)
		}
	}

	if k.replica < 2 {
		k.addf("%d replica(s): a standalone bridge needs two to survive a node drain", k.replica)
	}
	if len(k.b.pdbs) == 0 {
		k.addf("no PodDisruptionBudget")
	}
	for _, p := range k.b.pdbs {
		if !selects(p.Spec.Selector, labels) {
			k.addf("PodDisruptionBudget %s: the selector does not match the pod's labels", p.Name)
		}
		var down int32
		switch {
		case p.Spec.MaxUnavailable != nil && p.Spec.MaxUnavailable.Type == intstr.Int:
			down = p.Spec.MaxUnavailable.IntVal
		case p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.Int:
			down = k.replica - p.Spec.MinAvailable.IntVal
		default:
			k.addf("PodDisruptionBudget %s: give maxUnavailable or minAvailable as a number", p.Name)
			continue
		}
		if down < 1 || down >= k.replica {
			k.addf("PodDisruptionBudget %s allows %d of %d replicas down; want at least one and not all", p.Name, down, k.replica)
		}
	}

	if len(k.b.netpols) == 0 {
		k.addf("no NetworkPolicy")
	}
	for _, np := range k.b.netpols {
		if !selects(&np.Spec.PodSelector, labels) {
			k.addf("NetworkPolicy %s: the podSelector does not match the pod's labels", np.Name)
		}
		types := map[networkingv1.PolicyType]bool{}
		for _, t := range np.Spec.PolicyTypes {
			types[t] = true
		}
		if !types[networkingv1.PolicyTypeIngress] {
			k.addf("NetworkPolicy %s does not restrict ingress", np.Name)
		}
		allowsIn := func(port int32) (open, restricted bool) {
			for _, r := range np.Spec.Ingress {
				if k.ruleAllows(r.Ports, corev1.ProtocolTCP, port) {
					if len(r.From) == 0 {
						open = true
					} else {
						restricted = true
					}
				}
			}
			return
		}
		for port, name := range listenerPorts {
			if open, restricted := allowsIn(port); !open && !restricted {
				k.addf("NetworkPolicy %s blocks listener %s (port %d)", np.Name, name, port)
			}
		}
		switch open, restricted := allowsIn(adminPort); {
		case open:
			k.addf("NetworkPolicy %s opens the admin port %d to everyone", np.Name, adminPort)
		case !restricted:
			k.addf("NetworkPolicy %s admits no one to the admin port %d (Prometheus)", np.Name, adminPort)
		}
		if !types[networkingv1.PolicyTypeEgress] {
			continue
		}
		allowsOut := func(proto corev1.Protocol, port int32) bool {
			for _, r := range np.Spec.Egress {
				if k.ruleAllows(r.Ports, proto, port) {
					return true
				}
			}
			return false
		}
		if !allowsOut(corev1.ProtocolUDP, 53) {
			k.addf("NetworkPolicy %s blocks DNS (UDP 53)", np.Name)
		}
		for _, be := range k.cfg.Backends {
			for _, u := range backendURLs(be) {
				if port, err := urlPort(u); err != nil {
					k.addf("backend %s: %v", be.Name, err)
				} else if !allowsOut(corev1.ProtocolTCP, port) {
					k.addf("NetworkPolicy %s blocks backend %s (%s)", np.Name, be.Name, u)
				}
			}
		}
	}
}

func backendURLs(be config.Backend) []string {
	switch {
	case be.PingOne != nil:
		return []string{be.PingOne.AuthURL, be.PingOne.APIURL}
	case be.PingDirectory != nil:
		return []string{be.PingDirectory.URL}
	}
	return nil
}

func urlPort(raw string) (int32, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return 0, err
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		return int32(n), err
	}
	if u.Scheme == "http" {
		return 80, nil
	}
	return 443, nil
}

func selects(sel *metav1.LabelSelector, lbls map[string]string) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false // selects everything: never what a manifest means here
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(lbls))
}

func labelsMatch(sel, lbls map[string]string) bool {
	return labels.SelectorFromSet(sel).Matches(labels.Set(lbls))
}

var kubernetesDirs = []struct {
	dir          string
	sidecar      bool
	placeholders []string
}{
	{"kubernetes/sidecar", true, []string{phClientID, phClientSecret, phEnvironmentID}},
	{"kubernetes/standalone", false, []string{phTLSKey, phTLSCert, phClientID, phClientSecret, phEnvironmentID}},
}

// TestKubernetesManifests decodes every manifest strictly and checks it
// against the configuration it ships with.
func TestKubernetesManifests(t *testing.T) {
	for _, tc := range kubernetesDirs {
		t.Run(path.Base(tc.dir), func(t *testing.T) {
			b := loadBundle(t, tc.dir)
			if probs := check(b, tc.sidecar); len(probs) > 0 {
				t.Errorf("%d problems:\n  %s", len(probs), strings.Join(probs, "\n  "))
			}
		})
	}
}

// TestKubernetesPlaceholders checks what an operator must fill in: exactly
// the documented values, each named in deploy/README.md; and that a
// configuration left unfilled is refused rather than half-working.
func TestKubernetesPlaceholders(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range kubernetesDirs {
		t.Run(path.Base(tc.dir), func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(tc.dir, "*.yaml"))
			got := placeholdersIn(t, files...)
			want := append([]string(nil), tc.placeholders...)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("placeholders %q; want %q", got, want)
			}
			for _, ph := range got {
				if !bytes.Contains(readme, []byte(ph)) {
					t.Errorf("deploy/README.md does not mention %s", ph)
				}
			}
			b := loadBundle(t, tc.dir)
			k := &checker{b: b, sidecar: tc.sidecar}
			if !k.workload() {
				t.Fatal(k.probs)
			}
			text, ok := k.fileValue(configPath, "config", false)
			if !ok {
				t.Fatal(k.probs)
			}
			_, err := config.ParseWithOptions([]byte(text), "unfilled", config.ParseOptions{SkipFileChecks: true})
			if err == nil || !strings.Contains(err.Error(), "environment_id") {
				t.Errorf("the unfilled configuration parses (%v); it must be refused until the environment ID is filled in", err)
			}
		})
	}
}

// TestKubernetesConfigWithBinary runs the real binary's check-config on
// each shipped configuration, filled in, with every mounted file laid out
// as the container would see it (under a temporary root).
func TestKubernetesConfigWithBinary(t *testing.T) {
	for _, tc := range kubernetesDirs {
		t.Run(path.Base(tc.dir), func(t *testing.T) {
			configWithBinary(t, loadBundle(t, tc.dir), tc.sidecar)
		})
	}
}

// configWithBinary runs check-config on b's configuration, filled in, with
// every mounted file laid out under a temporary root.
func configWithBinary(t *testing.T, b *bundle, sidecar bool) {
	t.Helper()
	k := &checker{b: b, sidecar: sidecar}
	if !k.workload() || !k.configuration() {
		t.Fatal(k.probs)
	}
	root := t.TempDir()
	text := fill(k.cfgText)
	for _, m := range k.c.VolumeMounts {
		dir := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for _, v := range k.spec.Volumes {
			switch {
			case v.Name != m.Name:
			case v.Secret != nil:
				s := b.secrets[v.Secret.SecretName]
				for key, val := range s.StringData {
					files[key] = val
				}
				for key, val := range s.Data {
					files[key] = string(val)
				}
			case v.ConfigMap != nil:
				for key, val := range b.configMaps[v.ConfigMap.Name].Data {
					files[key] = val
				}
			}
		}
		for name, val := range files {
			if err := os.WriteFile(filepath.Join(dir, name), fileContent(t, name, val), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		text = strings.ReplaceAll(text, strings.TrimSuffix(m.MountPath, "/")+"/", dir+"/")
	}
	cfgFile := filepath.Join(root, configPath)
	if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runBinary(t, nil, "check-config", "--config", cfgFile)
	if err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("ldapbridge check-config: %v\n%s", err, out)
	}
}

// TestStrictDecoding pins that the decoder refuses what the API server's
// strict field validation refuses, so the manifest tests mean something.
func TestStrictDecoding(t *testing.T) {
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: i\n"
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"valid", cm + "data:\n  a: b\n", true},
		{"two documents", cm + "---\n" + cm, true},
		{"comment-only document", "# nothing\n---\n" + cm, true},
		{"unknown field", cm + "datta:\n  a: b\n", false},
		{"nested unknown field", pod + "      restartPolicyy: Always\n", false},
		{"wrong case", pod + "      ImagePullPolicy: Always\n", false},
		{"duplicate field", cm + "data:\n  a: b\ndata:\n  c: d\n", false},
		{"wrong type", pod + "      ports:\n        - containerPort: ldap\n", false},
		{"bad quantity", pod + "      resources:\n        limits:\n          cpu: lots\n", false},
		{"unregistered kind", "apiVersion: v1\nkind: Potato\nmetadata:\n  name: x\n", false},
		{"no kind", "apiVersion: v1\nmetadata:\n  name: x\n", false},
		{"not YAML", "{", false},
		{"empty", "", false},
	}
	dec := newManifestDecoder()
	for _, tc := range tests {
		_, err := decodeManifests(dec, []byte(tc.doc))
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestKustomizationStrict pins that a kustomization.yaml with a key this
// test does not know (a typo kustomize would reject or ignore) fails.
func TestKustomizationStrict(t *testing.T) {
	for doc, ok := range map[string]bool{
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n": true,
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource: [a.yaml]\n":  false,
		"resources: [a.yaml]\nresources: [b.yaml]\n":                                              false,
		"resources: a.yaml\n": false,
	} {
		var k kustomization
		if err := yaml.UnmarshalStrict([]byte(doc), &k); (err == nil) != ok {
			t.Errorf("%q: error %v; want ok=%v", doc, err, ok)
		}
	}
}

// TestChecksCatchMistakes breaks a copy of the shipped manifests in the
// ways an edit could, and requires the checks to say so.
func TestChecksCatchMistakes(t *testing.T) {
	bridge := func(b *bundle) *corev1.Container {
		k := &checker{b: b, sidecar: len(b.services) == 0}
		k.workload()
		return k.c
	}
	pod := func(b *bundle) *corev1.PodSpec { return &b.deployments[0].Spec.Template.Spec }
	cfgMap := func(b *bundle) *corev1.ConfigMap {
		for _, cm := range b.configMaps {
			return cm
		}
		return nil
	}
	editConfig := func(b *bundle, old, new string) {
		cm := cfgMap(b)
		key := path.Base(configPath)
		if !strings.Contains(cm.Data[key], old) {
			panic("no " + old + " in the config")
		}
		cm.Data[key] = strings.Replace(cm.Data[key], old, new, 1)
	}
	tests := []struct {
		name    string
		sidecar bool
		mutate  func(b *bundle)
		want    string
	}{
		{"admin port moved", true, func(b *bundle) { editConfig(b, "address: :9389", "address: :9390") }, "admin port"},
		{"admin on loopback", true, func(b *bundle) { editConfig(b, "address: :9389", "address: 127.0.0.1:9389") }, "loopback; the kubelet"},
		{"liveness path", true, func(b *bundle) { bridge(b).LivenessProbe.HTTPGet.Path = "/livez" }, "liveness probe gets /livez"},
		{"no startup probe", true, func(b *bundle) { bridge(b).StartupProbe = nil }, "no startup probe"},
		{"writable root", true, func(b *bundle) { f := false; bridge(b).SecurityContext.ReadOnlyRootFilesystem = &f }, "readOnlyRootFilesystem"},
		{"capabilities kept", true, func(b *bundle) { bridge(b).SecurityContext.Capabilities = nil }, "drop ALL"},
		{"privilege escalation", true, func(b *bundle) { pod(b).Containers[0].SecurityContext.AllowPrivilegeEscalation = nil }, "app: allowPrivilegeEscalation"},
		{"not a native sidecar", true, func(b *bundle) { bridge(b).RestartPolicy = nil }, "restartPolicy: Always"},
		{"short grace", true, func(b *bundle) { g := int64(20); pod(b).TerminationGracePeriodSeconds = &g }, "terminationGracePeriodSeconds 20"},
		{"no sysctl", true, func(b *bundle) { pod(b).SecurityContext.Sysctls = nil }, "binds port 389"},
		{"secret moved", true, func(b *bundle) { bridge(b).VolumeMounts[1].MountPath = "/run/secrets/other" }, "client_secret_file"},
		{"secret key renamed", true, func(b *bundle) {
			s := b.secrets["ldapbridge-pingone"]
			s.StringData = map[string]string{"secret": "x"}
		}, `has no key "client-secret"`},
		{"inline secret", true, func(b *bundle) {
			editConfig(b, "client_secret_file: /run/secrets/ldapbridge/pingone/client-secret", "client_secret: inline")
		}, "not read from a file"},
		{"config path", true, func(b *bundle) { bridge(b).Args[2] = "/etc/ldapbridge/config.yaml" }, "config file"},
		{"config typo", true, func(b *bundle) { editConfig(b, "drain_timeout:", "drain_timeuot:") }, "drain_timeuot"},
		{"world-readable secret", true, func(b *bundle) { pod(b).Volumes[1].Secret.DefaultMode = nil }, "world-readable"},
		{"decimal mode", true, func(b *bundle) { m := int32(440); pod(b).Volumes[1].Secret.DefaultMode = &m }, "defaultMode 0670"},
		{"GOMEMLIMIT the whole limit", true, func(b *bundle) {
			for i := range bridge(b).Env {
				if e := &bridge(b).Env[i]; e.Name == "GOMEMLIMIT" {
					e.Value = "128MiB"
				}
			}
		}, "100% of the memory limit"},
		{"GOMEMLIMIT from the limit", false, func(b *bundle) {
			for i := range bridge(b).Env {
				if e := &bridge(b).Env[i]; e.Name == "GOMEMLIMIT" {
					e.Value, e.ValueFrom = "", &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}
				}
			}
		}, "GOMEMLIMIT from valueFrom"},
		{"big memory", true, func(b *bundle) {
			bridge(b).Resources.Limits[corev1.ResourceMemory] = resource.MustParse("2Gi")
		}, "not small"},
		{"image tag drift", true, func(b *bundle) { bridge(b).Image = bridgeImage + ":v9" }, "kustomization images"},
		{"kustomization misses a file", true, func(b *bundle) { b.kust.Resources = b.kust.Resources[1:] }, "does not list configmap.yaml"},
		{"kustomization lists a ghost", true, func(b *bundle) { b.kust.Resources = append(b.kust.Resources, "ghost.yaml") }, "ghost.yaml"},
		{"sidecar on all interfaces", true, func(b *bundle) { editConfig(b, "address: 127.0.0.1:389", "address: :389") }, "not loopback"},
		{"service targetPort", false, func(b *bundle) { b.services[0].Spec.Ports[0].TargetPort = intstr.FromString("ldapp") }, "names no container port"},
		{"container port", false, func(b *bundle) { bridge(b).Ports[0].ContainerPort = 389 }, "no TCP container port 1389"},
		{"service selector", false, func(b *bundle) { b.services[0].Spec.Selector = map[string]string{"app": "x"} }, "Service ldapbridge: the selector"},
		{"pdb selector", false, func(b *bundle) {
			b.pdbs[0].Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
		}, "PodDisruptionBudget ldapbridge: the selector"},
		{"pdb blocks drains", false, func(b *bundle) { m := intstr.FromInt32(0); b.pdbs[0].Spec.MaxUnavailable = &m }, "allows 0 of 2"},
		{"admin open", false, func(b *bundle) { b.netpols[0].Spec.Ingress[1].From = nil }, "opens the admin port"},
		{"egress blocks PingOne", false, func(b *bundle) { b.netpols[0].Spec.Egress = b.netpols[0].Spec.Egress[:1] }, "blocks backend pingone"},
		{"preStop eats the grace", false, func(b *bundle) { bridge(b).Lifecycle.PreStop.Sleep.Seconds = 20 }, "preStop pause (50s)"},
		{"tls key from a ConfigMap", false, func(b *bundle) {
			editConfig(b, "key_file: /run/secrets/ldapbridge/tls/tls.key", "key_file: /etc/ldapbridge/tls.key")
		}, "key_file /etc/ldapbridge/tls.key: volume config is not a Secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := kubernetesDirs[0].dir
			if !tc.sidecar {
				dir = kubernetesDirs[1].dir
			}
			b := loadBundle(t, dir)
			tc.mutate(b)
			probs := check(b, tc.sidecar)
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got:\n  %s", tc.want, strings.Join(probs, "\n  "))
		})
	}
}
