package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Size limits for files the configuration points at.
const (
	maxPEMBytes    = 1 << 20
	maxSecretBytes = 64 << 10
)

// regions are the PingOne regions, each named by the top-level domain of
// its hosts (auth.pingone.<region>, api.pingone.<region>).
var regions = []string{"com", "ca", "eu", "com.au", "sg", "asia"}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	attrPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
)

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
	v.log()
	v.bindCache()
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
			if certOK && keyOK && !v.opts.SkipFileChecks {
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
		if b.CAFile != "" && !v.opts.SkipFileChecks {
			v.caFile(p+".ca_file", b.CAFile)
		}
		if !v.required(p+".type", b.Type, TypePingDirectory+" or "+TypePingOne) ||
			!v.oneOf(p+".type", b.Type, TypePingDirectory, TypePingOne) {
			continue
		}
		wrong := map[string]string{TypePingDirectory: TypePingOne, TypePingOne: TypePingDirectory}[b.Type]
		if v.has(p + "." + wrong) {
			v.add(p+"."+wrong, "is for type %s, but this backend's type is %s", wrong, b.Type)
		}
		switch b.Type {
		case TypePingDirectory:
			if b.PingDirectory == nil {
				v.add(p+".pingdirectory", "is required for type pingdirectory (at least its url)")
				continue
			}
			b.PingDirectory.URL = v.url(p+".pingdirectory.url", b.PingDirectory.URL, "https://pd.example.com:1443")
		case TypePingOne:
			if b.PingOne == nil {
				v.add(p+".pingone", "is required for type pingone (environment_id, region, client_id, client_secret)")
				continue
			}
			v.pingOne(p+".pingone", b.PingOne)
		}
	}
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

func (v *validator) pingOne(p string, po *PingOne) {
	if v.required(p+".environment_id", po.EnvironmentID, "the PingOne environment's ID") && !uuidPattern.MatchString(po.EnvironmentID) {
		v.add(p+".environment_id", "%s is not an environment ID (a UUID)", v.d.show(p+".environment_id", po.EnvironmentID))
	}
	// auth_url and api_url override the region; "" means "from the region".
	tld := ""
	switch {
	case po.Region != "":
		if v.oneOf(p+".region", po.Region, regions...) {
			tld = po.Region
		}
	case po.AuthURL == "" || po.APIURL == "":
		v.add(p+".region", "is required (one of %s) unless both auth_url and api_url are given", strings.Join(regions, ", "))
	}
	if po.AuthURL != "" {
		po.AuthURL = v.url(p+".auth_url", po.AuthURL, "https://auth.pingone.com")
	} else if tld != "" {
		po.AuthURL = "https://auth.pingone." + tld
	}
	if po.APIURL != "" {
		po.APIURL = v.url(p+".api_url", po.APIURL, "https://api.pingone.com/v1")
	} else if tld != "" {
		po.APIURL = "https://api.pingone." + tld + "/v1"
	}
	v.required(p+".client_id", po.ClientID, "the worker application's client ID")

	// Exactly one of the two is non-empty: an empty one counts as not
	// given, so a template may carry both keys.
	hasSecret, hasFile := !po.ClientSecret.IsZero(), po.ClientSecretFile != ""
	switch {
	case hasSecret && hasFile:
		v.add(p+".client_secret", "give client_secret or client_secret_file, not both")
	case !hasSecret && !hasFile:
		if raw, ok := v.d.expanded[p+".client_secret"]; ok {
			v.add(p+".client_secret", "the value of %q is empty", raw)
		} else {
			v.add(p+".client_secret", "is required (or client_secret_file)")
		}
	case hasFile && !v.opts.SkipFileChecks:
		v.secretFile(p+".client_secret_file", po)
	}
	v.oneOf(p+".token_auth_method", po.TokenAuthMethod, AuthClientSecretBasic, AuthClientSecretPost)
	if v.required(p+".user_filter", po.UserFilter, `e.g. 'username eq "{uid}"'`) {
		attrs, msg := checkTemplate(po.UserFilter, true)
		switch {
		case msg != "":
			v.add(p+".user_filter", "%s", msg)
		case len(attrs) == 0:
			v.add(p+".user_filter", `names no RDN attribute, so every DN would find the same user; use a placeholder such as username eq "{uid}"`)
		}
	}
	if po.UserCache.Size < 0 {
		v.add(p+".user_cache.size", "%d must not be negative (0 turns the cache off)", po.UserCache.Size)
	}
}

// secretFile reads the client secret from a file, without one trailing
// newline. Nothing about the content reaches a message.
func (v *validator) secretFile(path string, po *PingOne) {
	data, err := readLimited(po.ClientSecretFile, maxSecretBytes)
	if err != nil {
		v.add(path, "%s: %v", v.d.show(path, po.ClientSecretFile), err)
		return
	}
	if bytes.HasSuffix(data, []byte("\r\n")) {
		data = data[:len(data)-2]
	} else if bytes.HasSuffix(data, []byte("\n")) {
		data = data[:len(data)-1]
	}
	if len(data) == 0 {
		v.add(path, "%s is empty", v.d.show(path, po.ClientSecretFile))
		return
	}
	po.ClientSecret = bridge.NewSecret(data)
	clear(data)
}

// checkTemplate checks a template in which {attr} stands for the value of
// attr in the DN's first RDN. With quoted set, every placeholder must sit
// inside a double-quoted string (the SCIM filter case: the value is then
// escaped as a string and cannot change the filter).
func checkTemplate(s string, quoted bool) (attrs []string, msg string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && inQuote && c == '\\':
			i++
		case quoted && c == '"':
			inQuote = !inQuote
		case c == '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, "has a { without a closing }"
			}
			name := s[i+1 : i+1+end]
			if !attrPattern.MatchString(name) {
				return nil, fmt.Sprintf("{%s} is not an attribute name", truncateQ(name))
			}
			if quoted && !inQuote {
				return nil, fmt.Sprintf(`placeholder {%s} must be inside a quoted string, as in username eq "{uid}", so its value is escaped`, name)
			}
			attrs = append(attrs, name)
			i += end + 1
		case c == '}':
			return nil, "has a } without an opening {"
		}
	}
	if inQuote {
		return nil, "has an unterminated quoted string"
	}
	return attrs, ""
}

func truncateQ(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strings.Trim(strconv.Quote(s), `"`)
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
		if v.required(p+".backend", r.Backend, "the name of a backend") {
			if be, ok := c.Backend(r.Backend); ok {
				btype = be.Type
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
		if split {
			v.add(p+".admins", `looks like DNs cut at their commas: in a [...] list a comma separates items, so quote each DN, as in ["cn=admin,dc=example,dc=com"], or use one "- DN" line per admin`)
		}
		// force_change and bypass_policy are PingOne settings. Set to
		// their defaults elsewhere they change nothing; set otherwise
		// they ask for behaviour the backend cannot give, so that is a
		// problem rather than a silent no-op.
		if btype != "" && btype != TypePingOne {
			notHere := func(key string) {
				v.add(p+"."+key, "only applies to pingone backends, and backend %q is %s", r.Backend, btype)
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

func (v *validator) gateway(p string, g *Gateway) {
	v.required(p+".id", g.ID, "the PingOne LDAP gateway's ID")
	v.required(p+".user_type_id", g.UserTypeID, "the gateway user type's ID")
	if len(g.Correlation) == 0 {
		v.add(p+".correlation", `needs at least one attribute, e.g. {uid: "{uid}"}`)
	}
	for k, tmpl := range g.Correlation {
		kp := keyPath(p+".correlation", k)
		if !attrPattern.MatchString(k) {
			v.add(kp, "is not an attribute name")
			continue
		}
		if tmpl == "" {
			v.add(kp, "must not be empty")
		} else if _, msg := checkTemplate(tmpl, false); msg != "" {
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
