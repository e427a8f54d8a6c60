// Package version reports the build's version, injected at link time with
//
//	-ldflags "-X github.com/shiplog-dev/shiplog/internal/version.Version=v1.2.3
//	          -X github.com/shiplog-dev/shiplog/internal/version.Commit=<sha>"
//
// and otherwise read from the Go build information.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time.
var (
	Version = ""
	Commit  = ""
)

// Info is what `shiplog version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the build's version information.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && i.Commit == "" {
				i.Commit = s.Value
			}
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	return i
}

func (i Info) String() string {
	s := "shiplog " + i.Version
	if i.Commit != "" {
		s += fmt.Sprintf(" (commit %s)", i.Commit)
	}
	return s + fmt.Sprintf(" %s %s", i.GoVersion, i.Platform)
}
