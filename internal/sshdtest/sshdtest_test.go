package sshdtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"crew/internal/sshdtest"
)

// TestLogin logs in to a started server with the client key, and is
// refused by one that does not authorize it.
func TestLogin(t *testing.T) {
	ok := sshdtest.Start(t, sshdtest.Options{SetEnv: []string{"CREW_SSHDTEST=yes"}})
	refuse := sshdtest.Start(t, sshdtest.Options{RefuseKey: true})
	cfg := sshdtest.ClientConfig(t, map[string]*sshdtest.Server{"good": ok, "bad": refuse})
	out, err := exec.Command("ssh", "-F", cfg, "good", "echo $CREW_SSHDTEST").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "yes" {
		t.Fatalf("ssh good: %v: %q", err, out)
	}
	out, err = exec.Command("ssh", "-F", cfg, "bad", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("ssh bad: want Permission denied, got %v: %q", err, out)
	}
	ok.Stop()
	if out, err := exec.Command("ssh", "-F", cfg, "good", "true").CombinedOutput(); err == nil {
		t.Fatalf("ssh to a stopped server succeeded: %q", out)
	}
}
