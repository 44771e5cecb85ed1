package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// revision is the git commit, stamped with -ldflags "-X main.revision=..."
// where Go cannot record it itself: a build without the .git directory,
// such as deploy/Dockerfile's (the build context leaves .git out).
var revision = ""

// buildRevision is the git commit the binary was built from: Go's own VCS
// stamp (vcs.revision, a build inside a git checkout) or else the -X one;
// "" when neither is known.
func buildRevision() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return revision
}

// versionLine is what `ldapbridge version` prints: the version first (the
// second word, which scripts read), then the toolchain, the platform and
// the revision when known.
func versionLine() string {
	s := fmt.Sprintf("ldapbridge %s (%s %s/%s", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if r := buildRevision(); r != "" {
		s += ", revision " + r
	}
	return s + ")"
}
