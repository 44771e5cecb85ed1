//go:build race

package main

// raceEnabled makes the end-to-end tests build the binary with -race too,
// so races in the real server under real clients fail the suite.
const raceEnabled = true
