package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// jsonFields walks one JSON value token by token (so that a key written
// twice is seen, which decoding into a map would hide) and records each
// key's path ("a.b" inside objects) and JSON kind. A duplicate key in any
// object is an error.
func jsonFields(dec *json.Decoder, prefix string, into map[string]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	return jsonValue(dec, tok, prefix, into)
}

func jsonValue(dec *json.Decoder, tok json.Token, prefix string, into map[string]string) error {
	kind := "?"
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k := kt.(string)
				if seen[k] {
					return fmt.Errorf("key %q twice", prefix+k)
				}
				seen[k] = true
				if err := jsonFields(dec, prefix+k+".", into); err != nil {
					return err
				}
			}
			_, err := dec.Token() // }
			kind = "object"
			if prefix != "" {
				into[strings.TrimSuffix(prefix, ".")] = kind
			}
			return err
		case '[':
			for dec.More() {
				if err := jsonFields(dec, prefix+"[].", map[string]string{}); err != nil {
					return err
				}
			}
			_, err := dec.Token() // ]
			into[strings.TrimSuffix(prefix, ".")] = "array"
			return err
		}
	case string:
		kind = "string"
	case float64, json.Number:
		kind = "number"
	case bool:
		kind = "bool"
	case nil:
		kind = "null"
	}
	into[strings.TrimSuffix(prefix, ".")] = kind
	return nil
}

// documentedLogFields reads the JSON log field table of docs/operations.md:
// rows "| `key` | type | meaning |" under "### JSON log fields".
func documentedLogFields(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "### JSON log fields")
	if !ok {
		t.Fatal("docs/operations.md has no \"### JSON log fields\" section")
	}
	if i := strings.Index(sec, "\n#"); i >= 0 {
		sec = sec[:i]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| ([a-z]+)")
	out := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatal("the JSON log fields table is empty")
	}
	return out
}

// durationKey is a key that holds a length of time.
var durationKey = regexp.MustCompile(`(^|_)(duration|elapsed|delay|after|timeout|ttl|took|wait)(_|$)`)

// TestJSONLogFields runs the bridge with JSON logs at debug level through
// binds (good, bad, local account), password changes on both backends and
// reloads, and checks every line: valid JSON, each key once, durations
// numeric with a unit suffix, each key of one type everywhere, and every
// key documented in docs/operations.md with that type.
func TestJSONLogFields(t *testing.T) {
	doc := documentedLogFields(t)
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL, e.level, e.format = pdURL, p1URL, "debug", "json"
	// The hash of "Svc-Passw0rd-9", for a local account bind.
	hash, _, code := runBinEnv(t, nil, "Svc-Passw0rd-9\n", "hash-password", "--bcrypt")
	if code != 0 {
		t.Fatal("hash-password failed")
	}
	e.extra = "accounts:\n  - dn: cn=svc,dc=example,dc=com\n    password_hash: '" + strings.TrimSpace(hash) + "'\n"
	e.write(t)
	p := opsServe(t, e)

	c := opsDial(t, e.ldap)
	if err := c.Bind(demoBobDN, "wrong"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", demoBobPW, "N3w-Passw0rd!")); err != nil {
		t.Fatalf("PingDirectory self change: %v", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "N3w-Passw0rd!", "x")); err == nil {
		t.Fatal("a too short password was accepted")
	}
	c2 := opsDial(t, e.ldap)
	if err := c2.Bind(demoAliceDN, demoAlicePW); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.PasswordModify(ldap.NewPasswordModifyRequest("", demoAlicePW, "N3w-Al1ce-Passw0rd!")); err != nil {
		t.Fatalf("PingOne self change: %v", err)
	}
	if err := opsDial(t, e.ldap).Bind("cn=svc,dc=example,dc=com", "Svc-Passw0rd-9"); err != nil {
		t.Fatalf("local account: %v", err)
	}
	if err := opsDial(t, e.ldap).Bind("uid=nobody,dc=elsewhere", "x"); err == nil {
		t.Fatal("a DN no route serves bound")
	}
	// A reload that fails and one that works.
	good := opsRead(t, e.cfgPath)
	opsWriteFile(t, e.cfgPath, good+"bogus: 1\n")
	p.Cmd.Process.Signal(syscall.SIGHUP)
	opsWaitLog(t, p, 1, "configuration reload failed")
	opsWriteFile(t, e.cfgPath, strings.Replace(good, "limits:", "limits:", 1)+"limits:\n  idle_timeout: 5m\n")
	p.Cmd.Process.Signal(syscall.SIGHUP)
	opsWaitLog(t, p, 1, "configuration reloaded")
	opsWaitLog(t, p, 1, "take effect only after a restart")
	p.Stop(t)

	kinds := map[string]map[string]string{} // key -> kind -> a message that had it
	lines := 0
	for _, l := range strings.Split(p.Stderr.String(), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		lines++
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		fields := map[string]string{}
		if err := jsonFields(dec, "", fields); err != nil {
			t.Errorf("log line: %v:\n%s", err, l)
			continue
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			t.Errorf("log line is more than one JSON value:\n%s", l)
		}
		var top map[string]any
		json.Unmarshal([]byte(l), &top)
		msg := fmt.Sprint(top["msg"])
		for k, kind := range fields {
			if strings.HasPrefix(k, "failed.") {
				k = "failed.BACKEND" // readiness: one key per backend name
			}
			if kinds[k] == nil {
				kinds[k] = map[string]string{}
			}
			kinds[k][kind] = msg
			last := k[strings.LastIndex(k, ".")+1:]
			if durationKey.MatchString(last) && (kind != "number" || !(strings.HasSuffix(last, "_ms") || strings.HasSuffix(last, "_seconds"))) {
				t.Errorf("%q in %q: a duration must be a number with _ms or _seconds: %s", k, msg, l)
			}
		}
	}
	if lines < 20 {
		t.Fatalf("only %d log lines:\n%s", lines, p.Stderr)
	}
	var keys []string
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var table bytes.Buffer
	for _, k := range keys {
		if len(kinds[k]) > 1 {
			t.Errorf("key %q has more than one type: %v", k, kinds[k])
		}
		for kind, msg := range kinds[k] {
			fmt.Fprintf(&table, "%s %s (%s)\n", k, kind, msg)
			if want, ok := doc[k]; !ok {
				t.Errorf("key %q (%s, in %q) is not documented in docs/operations.md", k, kind, msg)
			} else if want != kind {
				t.Errorf("key %q is a %s, documented as %s", k, kind, want)
			}
		}
	}
	if t.Failed() {
		t.Logf("keys seen:\n%s", table.String())
	}
	for _, secret := range []string{demoBobPW, demoAlicePW, "N3w-Passw0rd!", "N3w-Al1ce-Passw0rd!", "Svc-Passw0rd-9"} {
		if strings.Contains(p.Stderr.String(), secret) {
			t.Errorf("a password is in the log")
		}
	}
}
