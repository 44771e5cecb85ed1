// Package hotpath holds the benchmark of one simple bind through the
// whole bridge in one process: an LDAP connection to ldapfront, the core,
// and each backend client, against the simulators' handlers served by
// httptest (hotpath_test.go). It lives outside the layers it measures so
// that it may import all of them (internal/archtest); it has no code of
// its own.
//
//	go test -run '^$' -bench BindHotPath -benchmem ./bench/hotpath/
package hotpath
