package sshdtest_test

import (
	"os"
	"os/exec"
	"os/user"
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

// TestUser logs in as crewtest, a stock account (Start creates it when
// missing, which needs root), beside a host of the current user named in
// the same client config, and checks that crewtest can write its
// session's cache.
func TestUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sshdtest: logging in as crewtest needs root: to create the account, and for sshd to log in anyone but the current user")
	}
	stock := sshdtest.Start(t, sshdtest.Options{User: "crewtest"})
	mine := sshdtest.Start(t, sshdtest.Options{})
	cur, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	cfg := sshdtest.ClientConfig(t, map[string]*sshdtest.Server{"stock": stock, "mine": mine})
	tests := []struct {
		host, want string
		srv        *sshdtest.Server
	}{
		{"stock", "crewtest", stock},
		{"mine", cur.Username, mine},
	}
	for _, tt := range tests {
		if tt.srv.User != tt.want {
			t.Errorf("%s: Server.User = %q, want %q", tt.host, tt.srv.User, tt.want)
		}
		out, err := exec.Command("ssh", "-F", cfg, tt.host, "id -un").CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
			t.Errorf("ssh %s id -un: %v: %q, want %q", tt.host, err, got, tt.want)
		}
	}
	out, err := exec.Command("ssh", "-F", cfg, "stock", `echo "$XDG_CACHE_HOME" && touch "$XDG_CACHE_HOME/w" && echo written`).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != stock.Cache+"\nwritten" {
		t.Fatalf("ssh stock: writing the cache: %v: %q, want %s and written", err, out, stock.Cache)
	}
}
