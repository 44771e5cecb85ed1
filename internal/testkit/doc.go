// Package testkit is what the tests of every package share: a log buffer
// that goroutines may write while the test reads it, a clock the test
// moves by hand, self-signed certificates, polling with a deadline, a
// check that no password reached some text, and a harness that builds a
// real binary, runs it, waits for the line that says it is ready and stops
// it as a supervisor would.
//
// It is imported only by _test.go files. Everything that can fail takes a
// testing.TB and fails the test; only BuildBinary, meant for TestMain,
// returns an error.
package testkit
