package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
)

// maxPEMBytes bounds a file of PEM certificates.
const maxPEMBytes = 1 << 20

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validator checks a decoded configuration and resolves what depends on
// more than one key (PingOne URLs from the region, secrets from files). It
// reports through the decoder, which knows the lines.
type validator struct {
	d    *decoder
	cfg  *Config
	opts ParseOptions
}

// add reports a problem at path, unless that path already has one (for
// instance a value that did not decode).
func (v *validator) add(path, format string, args ...any) {
	if v.d.bad[path] {
		return
	}
	v.d.bad[path] = true
	v.d.problems = append(v.d.problems, Problem{Line: v.d.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) has(path string) bool {
	_, ok := v.d.lines[path]
	return ok
}

// required reports an empty value as missing or empty.
func (v *validator) required(path, value, what string) bool {
	if value != "" {
		return true
	}
	if v.has(path) {
		v.add(path, "must not be empty")
	} else {
		v.add(path, "is required (%s)", what)
	}
	return false
}

func (v *validator) oneOf(path, value string, allowed ...string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	v.add(path, "%s is not one of %s", v.d.show(path, value), strings.Join(allowed, ", "))
	return false
}

func (v *validator) name(path, value, what string) {
	if v.required(path, value, what) && !namePattern.MatchString(value) {
		v.add(path, "%s must be letters, digits, '.', '_' or '-'", v.d.show(path, value))
	}
}

func (v *validator) run() {
	v.listeners()
	v.limits()
	v.backends()
	v.routes()
	v.accounts()
	v.adminCredentials()
	v.log()
	v.bindCache()
	if n := v.cfg.Search.MaxScan; n < 1 || n > 1<<20 {
		v.add("search.max_scan", "%d must be between 1 and %d", n, 1<<20)
	}
}

func (v *validator) bindCache() {
	c := v.cfg.BindCache
	if c.TTL.Duration() > 5*time.Minute {
		v.add("bind_cache.ttl", "%s must be at most 5m: a password changed in the backend keeps binding for this long", c.TTL)
	}
	if c.Size < 1 || c.Size > 1<<20 {
		v.add("bind_cache.size", "%d must be between 1 and %d", c.Size, 1<<20)
	}
}

type endpoint struct {
	path, host, port string
	orig             string // as configured
}

func (v *validator) listeners() {
	c := v.cfg
	if len(c.Listeners) == 0 {
		v.add("listeners", "at least one listener is required")
	}
	names := map[string]int{}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		p := fmt.Sprintf("listeners[%d]", i)
		v.name(p+".name", l.Name, "a name for logs and metrics")
		if j, dup := names[l.Name]; dup && l.Name != "" {
			v.add(p+".name", "%s is also the name of listeners[%d]", v.d.show(p+".name", l.Name), j)
		} else {
			names[l.Name] = i
		}
		v.required(p+".address", l.Address, "host:port") // checked in conflicts
		v.oneOf(p+".tls", l.TLS, TLSNone, TLSStartTLS, TLSLDAPS)
		v.oneOf(p+".min_tls_version", l.MinTLSVersion, "1.2", "1.3")
		v.oneOf(p+".cleartext", l.Cleartext, CleartextLoopback, CleartextAllow, CleartextRefuse)
		switch l.TLS {
		case TLSStartTLS, TLSLDAPS:
			certOK := v.required(p+".cert_file", l.CertFile, "the PEM certificate chain for tls: "+l.TLS)
			keyOK := v.required(p+".key_file", l.KeyFile, "the PEM private key for tls: "+l.TLS)
			switch {
			case !certOK || !keyOK:
			case v.opts.SkipFileChecks:
				v.skip(p+".cert_file", "the certificate and key files were not read")
			default:
				v.keyPair(p, l.CertFile, l.KeyFile)
			}
		case TLSNone:
			if l.CertFile != "" {
				v.add(p+".cert_file", "is set but tls is none; set tls: starttls or ldaps, or remove it")
			}
			if l.KeyFile != "" {
				v.add(p+".key_file", "is set but tls is none; set tls: starttls or ldaps, or remove it")
			}
		}
	}
	v.conflicts()
}

func (v *validator) keyPair(p, certFile, keyFile string) {
	certPEM, err := readLimited(certFile, maxPEMBytes)
	if err != nil {
		v.add(p+".cert_file", "%s: %v", v.d.show(p+".cert_file", certFile), err)
		return
	}
	keyPEM, err := readLimited(keyFile, maxPEMBytes)
	if err != nil {
		v.add(p+".key_file", "%s: %v", v.d.show(p+".key_file", keyFile), err)
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		v.add(p+".cert_file", "cannot load %s and %s as a certificate and key: %v",
			v.d.show(p+".cert_file", certFile), v.d.show(p+".key_file", keyFile), err)
	}
}

// address checks host:port, with a numeric port; host may be empty (all
// interfaces), an IP address or a host name.
func (v *validator) address(path, s string) (endpoint, bool) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(path, "%s is not host:port (e.g. 127.0.0.1:389 or :636)", v.d.show(path, s))
		return endpoint{}, false
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port[0] == '+' || n > 65535 {
		v.add(path, "%s: the port must be a number from 0 to 65535", v.d.show(path, s))
		return endpoint{}, false
	}
	if !validHost(host) {
		v.add(path, "%s: the host is not an IP address or host name", v.d.show(path, s))
		return endpoint{}, false
	}
	return endpoint{path: path, host: strings.ToLower(host), port: port, orig: s}, true
}

func validHost(h string) bool {
	if h == "" {
		return true
	}
	ip, zone, _ := strings.Cut(h, "%")
	if net.ParseIP(ip) != nil {
		return zone == "" || strings.Contains(ip, ":")
	}
	if zone != "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

func isWildcard(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// conflicts reports listeners (and the admin listener) that would bind the
// same port on overlapping addresses. Port 0 picks a free port and never
// conflicts.
func (v *validator) conflicts() {
	var eps []endpoint
	for i, l := range v.cfg.Listeners {
		p := fmt.Sprintf("listeners[%d].address", i)
		if v.d.bad[p] || l.Address == "" {
			continue
		}
		if ep, ok := v.address(p, l.Address); ok {
			eps = append(eps, ep)
		}
	}
	if a := v.cfg.Admin.Address; a != "" && !v.d.bad["admin.address"] {
		if ep, ok := v.address("admin.address", a); ok {
			eps = append(eps, ep)
		}
	}
	for i, a := range eps {
		for _, b := range eps[:i] {
			if a.port != "0" && a.port == b.port && (a.host == b.host || isWildcard(a.host) || isWildcard(b.host)) {
				v.add(a.path, "%s conflicts with %s (%s)", v.d.show(a.path, a.orig), b.path, v.d.show(b.path, b.orig))
				break
			}
		}
	}
}

func (v *validator) limits() {
	l := &v.cfg.Limits
	atLeast := func(key string, val, min int) {
		if val < min {
			v.add("limits."+key, "%d must be at least %d", val, min)
		}
	}
	atLeast("max_message_bytes", l.MaxMessageBytes, 1)
	if l.MaxMessageBytes > 1<<30 {
		v.add("limits.max_message_bytes", "%d must be at most %d (1 GiB)", l.MaxMessageBytes, 1<<30)
	}
	atLeast("max_message_bytes_anonymous", l.MaxMessageBytesAnonymous, 1)
	if v.has("limits.max_message_bytes_anonymous") && l.MaxMessageBytesAnonymous > l.MaxMessageBytes {
		v.add("limits.max_message_bytes_anonymous", "%d is more than limits.max_message_bytes (%d): the limit before a bind cannot be above the one after",
			l.MaxMessageBytesAnonymous, l.MaxMessageBytes)
	}
	atLeast("max_connections", l.MaxConnections, 1)
	atLeast("max_connections_per_ip", l.MaxConnectionsPerIP, 0)
	atLeast("max_ops_per_connection", l.MaxOpsPerConnection, 1)
	atLeast("failed_binds_per_dn", l.FailedBindsPerDN, 0)
	atLeast("max_search_entries", l.MaxSearchEntries, 0)
	if l.RatePerIP < 0 {
		v.add("limits.rate_per_ip", "%g must not be negative (0 means unlimited)", l.RatePerIP)
	}
}

func (v *validator) backends() {
	c := v.cfg
	if len(c.Backends) == 0 {
		v.add("backends", "at least one backend is required")
	}
	names := map[string]int{}
	for i := range c.Backends {
		b := &c.Backends[i]
		p := fmt.Sprintf("backends[%d]", i)
		v.name(p+".name", b.Name, "routes refer to backends by name")
		if j, dup := names[b.Name]; dup && b.Name != "" {
			v.add(p+".name", "%s is also the name of backends[%d]", v.d.show(p+".name", b.Name), j)
		} else {
			names[b.Name] = i
		}
		switch {
		case b.CAFile == "":
		case v.opts.SkipFileChecks:
			v.skip(p+".ca_file", "the CA file was not read")
		default:
			v.caFile(p+".ca_file", b.CAFile)
		}
		if !v.required(p+".type", b.Type, strings.Join(backendTypes, " or ")) ||
			!v.oneOf(p+".type", b.Type, backendTypes...) {
			continue
		}
		for _, other := range backendTypes {
			if other != b.Type && v.has(p+"."+other) {
				v.add(p+"."+other, "is for type %s, but this backend's type is %s", other, b.Type)
			}
		}
		blk := b.Settings()
		if blk == nil {
			f, _ := b.block(b.Type)
			needs := reflect.New(f.Type().Elem()).Interface().(confkit.Settings).Traits().Needs
			v.add(p+"."+b.Type, "is required for type %s (%s)", b.Type, needs)
			continue
		}
		blk.Validate(checker{v}, p+"."+b.Type)
	}
}

// checker is the validator as a backend package's Validate sees it.
type checker struct{ v *validator }

var _ confkit.Checker = checker{}

func (c checker) Add(path, format string, args ...any) { c.v.add(path, format, args...) }
func (c checker) Has(path string) bool                 { return c.v.has(path) }
func (c checker) Required(path, value, what string) bool {
	return c.v.required(path, value, what)
}
func (c checker) OneOf(path, value string, allowed ...string) bool {
	return c.v.oneOf(path, value, allowed...)
}
func (c checker) URL(path, raw, example string) string { return c.v.url(path, raw, example) }
func (c checker) Show(path, value string) string       { return c.v.d.show(path, value) }
func (c checker) Expanded(path string) (string, bool) {
	raw, ok := c.v.d.expanded[path]
	return raw, ok
}
func (c checker) FileChecks() bool          { return !c.v.opts.SkipFileChecks }
func (c checker) Skipped(path, what string) { c.v.skip(path, what) }

// skip reports a check that SkipFileChecks left out.
func (v *validator) skip(path, what string) {
	if v.opts.Skipped != nil {
		v.opts.Skipped(path, what)
	}
}
func (c checker) ReadFile(path string, limit int64) ([]byte, error) {
	return readLimited(path, limit)
}

func (v *validator) caFile(path, file string) {
	data, err := readLimited(file, maxPEMBytes)
	if err != nil {
		v.add(path, "%s: %v", v.d.show(path, file), err)
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		v.add(path, "%s contains no PEM certificate", v.d.show(path, file))
	}
}

// url checks an absolute https URL (http only for a loopback host) and
// returns it without trailing slashes.
func (v *validator) url(path, raw, example string) string {
	if !v.required(path, raw, "e.g. "+example) {
		return raw
	}
	// A URL with credentials in it is not quoted back.
	shown := v.d.show(path, raw)
	if strings.Contains(raw, "@") {
		shown = "the URL"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		v.add(path, "%s is not an absolute URL such as %s", shown, example)
	case u.User != nil:
		v.add(path, "must not contain credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		v.add(path, "%s must not have a query or a fragment", shown)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		v.add(path, "%s must use https (http is allowed only for a loopback host such as 127.0.0.1 or localhost)", shown)
	case u.Scheme != "https" && u.Scheme != "http":
		v.add(path, "%s must use https", shown)
	}
	return strings.TrimRight(raw, "/")
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) routes() {
	c := v.cfg
	if len(c.Routes) == 0 {
		v.add("routes", "at least one route is required")
	}
	type base struct {
		dn *ldap.DN
		i  int
	}
	var bases []base
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if !v.has(p + ".base") {
			v.add(p+".base", `is required (write base: "" to route every DN)`)
		} else if dn, err := bridge.ParseDN(r.Base); err != nil {
			v.add(p+".base", "%s is not a valid DN: %v", v.d.show(p+".base", r.Base), err)
		} else {
			for _, b := range bases {
				if b.dn.EqualFold(dn) {
					v.add(p+".base", "%s is also the base of routes[%d]", v.d.show(p+".base", r.Base), b.i)
					break
				}
			}
			bases = append(bases, base{dn, i})
		}
		btype := ""
		var traits confkit.Traits
		if v.required(p+".backend", r.Backend, "the name of a backend") {
			if be, ok := c.Backend(r.Backend); ok {
				btype = be.Type
				if blk := be.Settings(); blk != nil {
					traits = blk.Traits()
				}
			} else {
				names := make([]string, 0, len(c.Backends))
				for j, b := range c.Backends {
					names = append(names, v.d.show(fmt.Sprintf("backends[%d].name", j), b.Name))
				}
				v.add(p+".backend", "%s names no backend (backends: %s)", v.d.show(p+".backend", r.Backend), strings.Join(names, ", "))
			}
		}
		split := false
		for j, a := range r.Admins {
			ap := fmt.Sprintf("%s.admins[%d]", p, j)
			dn, err := bridge.ParseDN(a)
			switch {
			case err != nil:
				v.add(ap, "%s is not a valid DN: %v", v.d.show(ap, a), err)
			case len(dn.RDNs) == 0:
				v.add(ap, "must not be empty")
			case len(dn.RDNs) == 1 && len(r.Admins) > 1 && v.d.flowPlain[ap]:
				split = true
			}
		}
		for j, a := range r.Searchers {
			sp := fmt.Sprintf("%s.searchers[%d]", p, j)
			if dn, err := bridge.ParseDN(a); err != nil {
				v.add(sp, "%s is not a valid DN: %v", v.d.show(sp, a), err)
			} else if len(dn.RDNs) == 0 {
				v.add(sp, "must not be empty")
			} else if len(dn.RDNs) == 1 && len(r.Searchers) > 1 && v.d.flowPlain[sp] {
				v.add(p+".searchers", `looks like DNs cut at their commas: quote each DN, as in ["cn=app,ou=services,dc=example,dc=com"]`)
			}
		}
		if split {
			v.add(p+".admins", `looks like DNs cut at their commas: in a [...] list a comma separates items, so quote each DN, as in ["cn=admin,dc=example,dc=com"], or use one "- DN" line per admin`)
		}
		// force_change and bypass_policy are PingOne settings. Set to
		// their defaults elsewhere they change nothing; set otherwise
		// they ask for behaviour the backend cannot give, so that is a
		// problem rather than a silent no-op.
		if btype != "" && !traits.RouteOptions {
			notHere := func(key string) {
				v.add(p+"."+key, "only applies to %s backends, and backend %q is %s", routeOptionTypes(), r.Backend, btype)
			}
			if !r.ForceChange {
				notHere("force_change")
			}
			if r.BypassPolicy {
				notHere("bypass_policy")
			}
			if r.Gateway != nil {
				notHere("gateway")
			}
		}
		if r.Gateway != nil {
			v.gateway(p+".gateway", r.Gateway)
		}
	}
}

// routeOptionTypes names the backend types the route options apply to.
func routeOptionTypes() string {
	var names []string
	for _, typ := range backendTypes {
		var b Backend
		f, _ := b.block(typ)
		if reflect.New(f.Type().Elem()).Interface().(confkit.Settings).Traits().RouteOptions {
			names = append(names, typ)
		}
	}
	return strings.Join(names, " or ")
}

func (v *validator) gateway(p string, g *Gateway) {
	v.required(p+".id", g.ID, "the PingOne LDAP gateway's ID")
	v.required(p+".user_type_id", g.UserTypeID, "the gateway user type's ID")
	if len(g.Correlation) == 0 {
		v.add(p+".correlation", `needs at least one attribute, e.g. {uid: "{uid}"}`)
	}
	for k, tmpl := range g.Correlation {
		kp := keyPath(p+".correlation", k)
		if !confkit.AttrPattern.MatchString(k) {
			v.add(kp, "is not an attribute name")
			continue
		}
		if tmpl == "" {
			v.add(kp, "must not be empty")
		} else if _, msg := confkit.CheckTemplate(tmpl, false); msg != "" {
			v.add(kp, "%s", msg)
		}
	}
}

func (v *validator) accounts() {
	type seen struct {
		dn *ldap.DN
		i  int
	}
	var dns []seen
	for i, a := range v.cfg.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		if v.required(p+".dn", a.DN, "the account's bind DN") {
			dn, err := bridge.ParseDN(a.DN)
			switch {
			case err != nil:
				v.add(p+".dn", "%s is not a valid DN: %v", v.d.show(p+".dn", a.DN), err)
			case len(dn.RDNs) == 0:
				v.add(p+".dn", "must not be empty")
			default:
				for _, s := range dns {
					if s.dn.EqualFold(dn) {
						v.add(p+".dn", "%s is also the DN of accounts[%d]", v.d.show(p+".dn", a.DN), s.i)
						break
					}
				}
				dns = append(dns, seen{dn, i})
			}
		}
		if v.required(p+".password_hash", a.PasswordHash, "a bcrypt or argon2id hash") {
			if err := CheckHash(a.PasswordHash); err != nil {
				v.add(p+".password_hash", "%v", err)
			}
		}
	}
}

func (v *validator) log() {
	l := &v.cfg.Log
	v.oneOf("log.level", l.Level, LevelDebug, LevelInfo, LevelWarn, LevelError)
	v.oneOf("log.format", l.Format, FormatJSON, FormatText)
	if l.AuditFile != "" && v.opts.SkipFileChecks {
		v.skip("log.audit_file", "its directory was not looked at")
	}
	if l.AuditFile != "" && !v.opts.SkipFileChecks {
		dir := filepath.Dir(l.AuditFile)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			why := "not a directory"
			if err != nil {
				why = pathless(err).Error()
			}
			v.add("log.audit_file", "the directory of %s: %s", v.d.show("log.audit_file", l.AuditFile), why)
		}
	}
}

// adminCredentials refuses an admin the route's backend can never act
// for: a local account, or a user of another route, listed in the admins
// of a route whose backend has no service credential (PingDirectory
// without service_account). The bridge never sends one backend's
// password to another, so every reset by that admin would be refused.
func (v *validator) adminCredentials() {
	c := v.cfg
	bases := make([]*ldap.DN, len(c.Routes))
	for i, r := range c.Routes {
		if dn, err := bridge.ParseDN(r.Base); err == nil {
			bases[i] = dn
		}
	}
	// owner is the index of the route that serves dn (longest base), or -1.
	owner := func(dn *ldap.DN) int {
		best := -1
		for i, b := range bases {
			if b == nil || !(len(b.RDNs) == 0 || b.EqualFold(dn) || b.AncestorOfFold(dn)) {
				continue
			}
			if best < 0 || len(b.RDNs) > len(bases[best].RDNs) {
				best = i
			}
		}
		return best
	}
	for i, r := range c.Routes {
		be, ok := c.Backend(r.Backend)
		if !ok || be.Settings() == nil {
			continue
		}
		if be.Settings().Traits().ServiceCredential {
			continue
		}
		for j, a := range r.Admins {
			ap := fmt.Sprintf("routes[%d].admins[%d]", i, j)
			dn, err := bridge.ParseDN(a)
			if err != nil || len(dn.RDNs) == 0 {
				continue
			}
			why := ""
			for k, acc := range c.Accounts {
				if adn, err := bridge.ParseDN(acc.DN); err == nil && adn.EqualFold(dn) {
					why = fmt.Sprintf("is a local account (accounts[%d])", k)
					break
				}
			}
			if k := owner(dn); why == "" && k >= 0 && k != i && c.Routes[k].Backend != r.Backend {
				why = fmt.Sprintf("is a user of routes[%d] (backend %q)", k, c.Routes[k].Backend)
			}
			if why == "" {
				continue
			}
			v.add(ap, "%s %s, and backend %q (%s) has no service credential to act for it: every reset would be refused; give the backend a service_account, or remove the admin",
				v.d.show(ap, a), why, r.Backend, be.Type)
		}
	}
}
