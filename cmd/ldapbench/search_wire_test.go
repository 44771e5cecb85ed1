package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// goLDAPSearch captures the bytes go-ldap's client sends for req, and
// answers it with a SearchResultDone so that the client returns.
func goLDAPSearch(t *testing.T, req *ldap.SearchRequest) (msg []byte, id int64) {
	t.Helper()
	cli, srv := net.Pipe()
	defer srv.Close()
	conn := ldap.NewConn(cli, false)
	conn.Start()
	defer conn.Close()
	conn.SetTimeout(5 * time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Search(req)
		done <- err
	}()
	_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
	p, err := ber.ReadPacket(srv)
	if err != nil {
		t.Fatal(err)
	}
	msg = p.Bytes()
	id = p.Children[0].Value.(int64)
	if _, err := srv.Write(encodeResponse(id, ldap.ApplicationSearchResultDone, 0, "")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("go-ldap search: %v", err)
	}
	return msg, id
}

// The hand-encoded SearchRequest is byte for byte what go-ldap's client
// sends for the same search, for each scope, attribute list and length
// form.
func TestSearchRequestMatchesGoLDAP(t *testing.T) {
	long := string(bytes.Repeat([]byte("v"), 300))
	for _, tc := range []struct {
		name, base, attr, value string
		scope                   int
		attrs                   []string
	}{
		{"subtree 1.1", "ou=staff,dc=example,dc=com", "uid", "pd5", scopeSub, []string{"1.1"}},
		{"one level mail", "ou=people,dc=example,dc=com", "uid", "p1u12", scopeOne, []string{"mail"}},
		{"base two attrs", "uid=alice,ou=people,dc=example,dc=com", "objectClass", "person", scopeBase, []string{"mail", "cn"}},
		{"no attrs", "dc=example,dc=com", "mail", "alice@example.com", scopeSub, nil},
		{"long value", "dc=example,dc=com", "uid", long, scopeSub, []string{"1.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := ldap.NewSearchRequest(tc.base, tc.scope, ldap.NeverDerefAliases, 0, 0, false,
				"("+tc.attr+"="+ldap.EscapeFilter(tc.value)+")", tc.attrs, nil)
			want, id := goLDAPSearch(t, req)
			got := appendSearch(nil, int32(id), tc.base, tc.scope, tc.attr, tc.value, tc.attrs)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs from go-ldap's:\n got  %s\n want %s", hex.EncodeToString(got), hex.EncodeToString(want))
			}
		})
	}
}

func searchEntry(id int64, dn string, attrs map[string][]string) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for name, vals := range attrs {
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
		}
		a.AppendChild(set)
		list.AppendChild(a)
	}
	op.AppendChild(list)
	env.AppendChild(op)
	return env.Bytes()
}

func searchRef(id int64) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "ldap://elsewhere/dc=x", ""))
	env.AppendChild(op)
	return env.Bytes()
}

// client.search reads go-ldap-encoded (asn1-ber) results: the entries'
// count, the first DN, the result code; a late answer to another
// message and a reference are skipped.
func TestSearchResultsDecode(t *testing.T) {
	const dn = "uid=pd5,ou=staff,dc=example,dc=com"
	for _, tc := range []struct {
		name    string
		stream  [][]byte
		dn      string
		entries int
		code    int
		bad     bool
	}{
		{"one entry", [][]byte{searchEntry(1, dn, map[string][]string{"mail": {"pd5@example.com"}}), encodeResponse(1, ldap.ApplicationSearchResultDone, 0, "")}, dn, 1, 0, false},
		{"no entry", [][]byte{encodeResponse(1, ldap.ApplicationSearchResultDone, 0, "")}, "", 0, 0, false},
		{"two entries, late answer, reference", [][]byte{
			encodeResponse(9, ldap.ApplicationBindResponse, 0, ""), searchEntry(1, dn, nil), searchRef(1),
			searchEntry(1, "uid=other,dc=example,dc=com", nil), encodeResponse(1, ldap.ApplicationSearchResultDone, 0, ""),
		}, dn, 2, 0, false},
		{"size limit", [][]byte{searchEntry(1, dn, nil), encodeResponse(1, ldap.ApplicationSearchResultDone, 4, "size limit exceeded")}, "", 1, 4, false},
		{"refused", [][]byte{encodeResponse(1, ldap.ApplicationSearchResultDone, 50, "insufficient access rights")}, "", 0, 50, false},
		{"bind response to a search", [][]byte{encodeResponse(1, ldap.ApplicationBindResponse, 0, "")}, "", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := net.Pipe()
			defer cli.Close()
			go func() {
				defer srv.Close()
				_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := ber.ReadPacket(srv); err != nil {
					return
				}
				for _, m := range tc.stream {
					if _, err := srv.Write(m); err != nil {
						return
					}
				}
			}()
			c := &client{t: &target{timeout: 5 * time.Second}, nc: cli, br: bufio.NewReader(cli)}
			got, n, err := c.search("ou=staff,dc=example,dc=com", scopeSub, "uid", "pd5", []string{"1.1"})
			switch {
			case tc.bad:
				if err == nil || errorClass(err) != "malformed_response" {
					t.Fatalf("err %v, want malformed", err)
				}
				return
			case tc.code != 0:
				le, ok := err.(*ldapError)
				if !ok || le.code != tc.code {
					t.Fatalf("err %v, want result %d", err, tc.code)
				}
			case err != nil:
				t.Fatal(err)
			}
			if n != tc.entries || string(got) != tc.dn {
				t.Errorf("got %d entries, first %q; want %d, %q", n, got, tc.entries, tc.dn)
			}
		})
	}
}
