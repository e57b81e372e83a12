package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionString(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "crew", Version: "(devel)"}}
		for i := 0; i < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	tests := []struct {
		name                string
		ldVersion, ldCommit string
		bi                  *debug.BuildInfo
		want                string
	}{
		{"no build info", "", "", nil, "(devel)"},
		{"no vcs stamp", "", "", vcs(), "(devel)"},
		{"clean checkout", "", "", vcs("vcs.revision", rev, "vcs.time", "2025-01-02T03:04:05Z", "vcs.modified", "false"),
			"(devel) (0123456789ab, 2025-01-02T03:04:05Z)"},
		{"dirty checkout", "", "", vcs("vcs", "git", "vcs.revision", rev, "vcs.time", "2025-01-02T03:04:05Z", "vcs.modified", "true"),
			"(devel) (0123456789ab+dirty, 2025-01-02T03:04:05Z)"},
		{"revision without time", "", "", vcs("vcs.revision", "abc123"), "(devel) (abc123)"},
		{"pseudo-version names the stamp", "", "", &debug.BuildInfo{
			Main:     debug.Module{Version: "v0.0.0-20250102030405-0123456789ab+dirty"},
			Settings: vcs("vcs.revision", rev, "vcs.time", "2025-01-02T03:04:05Z", "vcs.modified", "true").Settings,
		}, "v0.0.0-20250102030405-0123456789ab+dirty"},
		{"module version", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"linked version", "v1.2.3", "", vcs(), "v1.2.3"},
		{"linked version and stamp", "v1.2.3", "", vcs("vcs.revision", rev, "vcs.modified", "true"), "v1.2.3 (0123456789ab+dirty)"},
		{"linked commit", "v1.2.3", "feedface", nil, "v1.2.3 (feedface)"},
		{"linked commit beats stamp", "", "feedface+dirty", vcs("vcs.revision", rev, "vcs.time", "2025-01-02T03:04:05Z", "vcs.modified", "true"),
			"(devel) (feedface+dirty)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionString(tt.ldVersion, tt.ldCommit, tt.bi); got != tt.want {
				t.Errorf("versionString = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionFlags checks that crew version takes no arguments.
func TestVersionFlags(t *testing.T) {
	if _, err := parseCmd(t, newVersionCmd); err != nil {
		t.Errorf("crew version: %v", err)
	}
	for _, args := range [][]string{{"extra"}, {"--short"}} {
		if _, err := parseCmd(t, newVersionCmd, args...); err == nil {
			t.Errorf("crew version %q parsed; want an error", args)
		}
	}
}
