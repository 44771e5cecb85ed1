package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ldapbridge/ldapbridge/bridge"
)

const (
	// maxConfigBytes bounds the file: a real configuration is a few KiB.
	maxConfigBytes = 1 << 20
	// maxNodes bounds decoding work, which aliases could otherwise make
	// exponential in the file size.
	maxNodes = 200_000
)

var (
	durationType = reflect.TypeOf(Duration(0))
	secretType   = reflect.TypeOf(bridge.Secret{})
)

// decoder turns a YAML node tree into the Config structs strictly: unknown
// and repeated keys and values of the wrong kind are problems, each with its
// line and path. It records where every key was, for the validator.
type decoder struct {
	lookup   func(string) (string, bool)
	problems Problems
	lines    map[string]int    // path of every key or list item present → line
	expanded map[string]string // path → the value as written, when it used ${...}
	bad      map[string]bool   // paths already reported
	// flowPlain marks unquoted items of [...] lists, where a comma ends
	// the item: [cn=a,dc=example] is two items, not one DN.
	flowPlain map[string]bool
	nodes     int
	aborted   bool // the node budget ran out; the decoded config is partial
	rootLine  int
}

func newDecoder(lookup func(string) (string, bool)) *decoder {
	return &decoder{
		lookup:    lookup,
		lines:     map[string]int{},
		expanded:  map[string]string{},
		bad:       map[string]bool{},
		flowPlain: map[string]bool{},
		rootLine:  1,
	}
}

func (d *decoder) fail(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.bad[path] = true
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument reads exactly one YAML document whose root is a mapping.
func (d *decoder) parseDocument(data []byte) (root *yaml.Node) {
	if len(data) > maxConfigBytes {
		d.fail(0, "", "the configuration is larger than %d bytes", maxConfigBytes)
		return nil
	}
	defer func() {
		// yaml.v3 is third-party code fed untrusted bytes; a panic in it
		// must not take the process down.
		if r := recover(); r != nil {
			root = nil
			d.fail(0, "", "not valid YAML")
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.fail(0, "", "the configuration is empty")
		} else {
			d.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.fail(extra.Line, "", "only one YAML document is allowed")
		return nil
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.fail(doc.Line, "", "the configuration is empty")
		return nil
	}
	root = doc.Content[0]
	d.rootLine = root.Line
	if root.Kind != yaml.MappingNode {
		if root.ShortTag() == "!!null" {
			d.fail(root.Line, "", "the configuration is empty")
		} else {
			d.fail(root.Line, "", "the configuration must be a mapping of sections (listeners, backends, routes, ...), not %s", kindName(root))
		}
		return nil
	}
	return root
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.fail(line, "", "invalid YAML: %s", m[2])
		return
	}
	d.fail(0, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return "a single value"
	}
	return "an unsupported YAML node"
}

// resolve follows aliases and counts the work done.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	d.nodes++
	if d.nodes == maxNodes+1 {
		d.aborted = true
		d.fail(n.Line, "", "the configuration has too many values (more than %d, counting each use of an alias)", maxNodes)
	}
	if d.nodes > maxNodes {
		return nil
	}
	return n
}

// decode stores n into v, which is addressable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n = d.resolve(n); n == nil {
		return
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case secretType:
		if s, ok := d.text(n, path, "a string"); ok {
			v.Set(reflect.ValueOf(bridge.SecretString(s)))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if s, ok := d.text(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int:
		d.decodeInt(n, v, path)
	case reflect.Float64:
		d.decodeFloat(n, v, path)
	case reflect.Bool:
		d.decodeBool(n, v, path)
	case reflect.Slice:
		d.decodeList(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		setDefaults(p.Interface())
		v.Set(p)
		d.decodeStruct(n, p.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	default:
		// Only reachable if a field of an unsupported type is added.
		d.fail(n.Line, path, "internal error: cannot decode into %s", v.Type())
	}
}

// setDefaults gives a new list element or section its defaults: config's
// own types, or a backend package's block (confkit.Settings).
func setDefaults(p any) {
	switch df := p.(type) {
	case defaulter:
		df.setDefaults()
	case interface{ SetDefaults() }:
		df.SetDefaults()
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// text returns a scalar's value with ${...} expanded. Every field that is
// not a list or a mapping goes through here.
func (d *decoder) text(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "must be %s, not %s", want, kindName(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!null":
		if want == "a string" {
			d.fail(n.Line, path, `has no value (write "" for an empty string, or remove the key)`)
		} else {
			d.fail(n.Line, path, "has no value (give %s, or remove the key for the default)", want)
		}
		return "", false
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
	default:
		d.fail(n.Line, path, "must be %s; the YAML tag %s is not supported", want, truncTag(n.Tag))
		return "", false
	}
	s, used, err := expand(n.Value, d.lookup)
	if err != nil {
		d.fail(n.Line, path, "%v", err)
		return "", false
	}
	if used {
		d.expanded[path] = n.Value
	}
	return s, true
}

func truncTag(t string) string {
	if len(t) > 40 {
		t = t[:40] + "..."
	}
	return strconv.Quote(t)
}

// show is how a message quotes a value: as written, unless it came from
// the environment, in which case only the reference is shown.
func (d *decoder) show(path, value string) string {
	if raw, ok := d.expanded[path]; ok {
		return "the value of " + strconv.Quote(raw)
	}
	return strconv.Quote(value)
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.text(n, path, "a duration such as 30s")
	if !ok {
		return
	}
	_, expanded := d.expanded[path]
	dur, msg := parseDuration(s, !expanded && n.ShortTag() == "!!int")
	if msg != "" {
		d.fail(n.Line, path, "%s %s", d.show(path, s), msg)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.text(n, path, "an integer")
	if !ok {
		return
	}
	i, ok := number(d, n, path, s, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }, "!!int")
	if !ok {
		d.fail(n.Line, path, "%s is not an integer", d.show(path, s))
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.text(n, path, "a number")
	if !ok {
		return
	}
	f, ok := number(d, n, path, s, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, "!!int", "!!float")
	if !ok {
		d.fail(n.Line, path, "%s is not a number", d.show(path, s))
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(n.Line, path, "%s is not a finite number", d.show(path, s))
		return
	}
	v.SetFloat(f)
}

// number reads the scalar s at path: text that came from ${...} is parsed
// as it stands (the environment has no YAML types), a value written in the
// file must carry one of tags and decode as YAML. ok is false if it does
// not.
func number[T int64 | float64](d *decoder, n *yaml.Node, path, s string, parse func(string) (T, error), tags ...string) (T, bool) {
	var x T
	if _, expanded := d.expanded[path]; expanded {
		x, err := parse(strings.TrimSpace(s))
		return x, err == nil
	}
	if !slices.Contains(tags, n.ShortTag()) || n.Decode(&x) != nil {
		return x, false
	}
	return x, true
}

func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.text(n, path, "true or false")
	if !ok {
		return
	}
	var b bool
	_, expanded := d.expanded[path]
	switch {
	case expanded && strings.EqualFold(strings.TrimSpace(s), "true"):
		b = true
	case expanded && strings.EqualFold(strings.TrimSpace(s), "false"):
	case !expanded && n.ShortTag() == "!!bool" && n.Decode(&b) == nil:
	default:
		d.fail(n.Line, path, "%s is not true or false", d.show(path, s))
		return
	}
	v.SetBool(b)
}

func (d *decoder) decodeList(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "must be a list, not %s", kindName(n))
		return
	}
	et := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.lines[ip] = item.Line
		if n.Style&yaml.FlowStyle != 0 && item.Kind == yaml.ScalarNode && item.Style == 0 {
			d.flowPlain[ip] = true
		}
		e := reflect.New(et)
		setDefaults(e.Interface())
		d.decode(item, e.Elem(), ip)
		out = reflect.Append(out, e.Elem())
	}
	v.Set(out)
}

// mappingKey returns a mapping key's text, or false after reporting it.
func (d *decoder) mappingKey(k *yaml.Node, path string) (string, bool) {
	if k.Kind != yaml.ScalarNode || isNull(k) {
		d.fail(k.Line, path, "keys must be plain names, not %s", kindName(k))
		return "", false
	}
	if k.Value == "<<" && k.ShortTag() == "!!merge" {
		d.fail(k.Line, path, "merge keys (<<) are not supported; repeat the keys")
		return "", false
	}
	return k.Value, true
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	complete := d.eachKey(n, path, nil, func(name, kp string, value *yaml.Node) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(value, e, kp)
		m.SetMapIndex(reflect.ValueOf(name), e)
	})
	if complete {
		v.Set(m)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	fields := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			fields[name] = i
		}
	}
	known := func(k *yaml.Node, name, kp string) bool {
		if _, ok := fields[name]; ok {
			return true
		}
		msg := "unknown key"
		if s := suggest(name, fields); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		d.fail(k.Line, kp, "%s", msg)
		return false
	}
	d.eachKey(n, path, known, func(name, kp string, value *yaml.Node) {
		d.decode(value, v.Field(fields[name]), kp)
	})
}

// eachKey calls f, in order, with each key of the mapping n at path that
// is a valid name, known (when known is not nil: it reports the unknown
// ones) and given for the first time; it records the key's line. It
// reports false when there is nothing to set: n is null or not a mapping
// (a problem), or a key could not be resolved.
func (d *decoder) eachKey(n *yaml.Node, path string, known func(k *yaml.Node, name, kp string) bool, f func(name, kp string, value *yaml.Node)) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "must be a mapping, not %s", kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			return false
		}
		name, ok := d.mappingKey(k, path)
		if !ok {
			continue
		}
		kp := keyPath(path, name)
		if known != nil && !known(k, name, kp) {
			continue
		}
		if first, dup := seen[name]; dup {
			d.fail(k.Line, kp, "is given twice (first on line %d)", first)
			continue
		}
		seen[name] = k.Line
		d.lines[kp] = k.Line
		f(name, kp, n.Content[i+1])
	}
	return true
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// keyPath appends a key to a path; keys that are not plain names are
// quoted so the path stays readable and unambiguous.
func keyPath(path, key string) string {
	plain := key != ""
	for _, c := range key {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		if len(key) > 60 {
			key = key[:60] + "..."
		}
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// suggest returns the known key closest to name, if it is close enough to
// be a typo.
func suggest(name string, known map[string]int) string {
	if len(name) > 64 {
		return ""
	}
	keys := make([]string, 0, len(known))
	for k := range known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	best, bestDist := "", 3
	for _, k := range keys {
		if dist := editDistance(strings.ToLower(name), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lineOf is the line of path, or of its nearest enclosing key that is in
// the file (a missing key is reported where its parent is).
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return d.rootLine
}
