// child is the process the harness's own tests run: its first argument
// says how it behaves.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("starting")
	switch os.Args[1] {
	case "ready": // says so on stderr, then exits 0 on SIGTERM
		fmt.Fprintln(os.Stderr, "level=INFO msg=\"child ready\" env="+os.Getenv("CHILD_VALUE"))
		<-term
		fmt.Fprintln(os.Stderr, "stopping")
	case "exit": // fails before it is ready
		fmt.Fprintln(os.Stderr, "bad configuration")
		os.Exit(3)
	case "slow": // never ready
		time.Sleep(time.Minute)
	case "crash": // ready, then fails on SIGTERM
		fmt.Println("child ready")
		<-term
		os.Exit(2)
	}
}
