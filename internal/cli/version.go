package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version and commit may be set at link time, for builds that carry no VCS
// stamp (GOFLAGS=-buildvcs=false, or a source tree without .git):
//
//	go build -ldflags "-X crew/internal/cli.version=v1.2.3 -X crew/internal/cli.commit=$(git rev-parse --short=12 HEAD)" ./cmd/crew
//
// Each is used only when set; otherwise crew falls back to the build info.
var (
	version = ""
	commit  = ""
)

// versionOptions is what crew version is asked to do: nothing but print.
type versionOptions struct {
	streams Streams
}

func newVersionCmd(s Streams, runF func(context.Context, *versionOptions) error) *cobra.Command {
	opts := &versionOptions{streams: s}
	return &cobra.Command{
		Use:   "version",
		Short: "Print crew's version, commit and the Go toolchain that built it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVersion(cmd.Context(), opts)
		},
	}
}

func runVersion(_ context.Context, opts *versionOptions) error {
	bi, _ := debug.ReadBuildInfo()
	_, err := fmt.Fprintf(opts.streams.Out, "crew %s %s %s/%s\n",
		versionString(version, commit, bi), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// versionString describes the build: the linked-in version, else the main
// module's, else "(devel)"; then, when known, the commit in parentheses, as
// "(0123456789ab+dirty, 2025-01-02T03:04:05Z)", unless the version already
// names it. The linked-in commit wins
// over the VCS stamp because whoever set it chose to.
func versionString(ldVersion, ldCommit string, bi *debug.BuildInfo) string {
	v := ldVersion
	if v == "" && bi != nil && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var rev, when string
	modified := false
	if bi != nil {
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.time":
				when = kv.Value
			case "vcs.modified":
				modified = kv.Value == "true"
			}
		}
	}
	if ldCommit != "" {
		// The stamp's time and dirtiness describe the stamp's revision, which
		// may not be this one.
		rev, when, modified = ldCommit, "", false
	} else if len(rev) > 12 {
		// Twelve hex digits, as in Go's pseudo-versions: unique in any
		// repository one is likely to meet.
		rev = rev[:12]
	}
	if rev == "" || strings.Contains(v, rev) {
		// Go stamps a VCS build with a pseudo-version that already holds the
		// revision, its time and "+dirty".
		return v
	}
	if modified {
		rev += "+dirty"
	}
	parts := []string{rev}
	if when != "" {
		parts = append(parts, when)
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
}

// workerVersion is this build's version as crew workers shows it.
func workerVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionString(version, commit, bi)
}
