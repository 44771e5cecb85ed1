package main

import (
	"fmt"
	"io"
)

func cmdPingOne(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ldapbridge pingone: not available yet")
	return 2
}
