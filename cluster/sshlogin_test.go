package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/cluster"
	"crew/runner"
)

// TestParseLogins reads GNU parallel's sshlogin forms, and refuses the
// malformed ones naming the entry and the cause.
func TestParseLogins(t *testing.T) {
	tests := []struct {
		spec string
		want []cluster.Login
		err  string
	}{
		{spec: "host1", want: []cluster.Login{{Spec: "host1", Host: "host1"}}},
		{spec: "4/me@host1,host2,:", want: []cluster.Login{
			{Spec: "4/me@host1", Slots: 4, Host: "me@host1"},
			{Spec: "host2", Host: "host2"},
			{Spec: ":"},
		}},
		{spec: "16/:", want: []cluster.Login{{Spec: "16/:", Slots: 16}}},
		{spec: "ssh -p 2222 server", want: []cluster.Login{{Spec: "ssh -p 2222 server", SSH: []string{"ssh", "-p", "2222"}, Host: "server"}}},
		{spec: "6//usr/local/bin/myssh -l me hexacpu", want: []cluster.Login{{Spec: "6//usr/local/bin/myssh -l me hexacpu", Slots: 6, SSH: []string{"/usr/local/bin/myssh", "-l", "me"}, Host: "hexacpu"}}},
		{spec: "//usr/local/bin/myssh hexacpu", want: []cluster.Login{{Spec: "//usr/local/bin/myssh hexacpu", SSH: []string{"/usr/local/bin/myssh"}, Host: "hexacpu"}}},
		{spec: "@gpu+bigmem/4/ssh -p 2222 server3", want: []cluster.Login{{Spec: "@gpu+bigmem/4/ssh -p 2222 server3", Slots: 4, Tags: []string{"gpu", "bigmem"}, SSH: []string{"ssh", "-p", "2222"}, Host: "server3"}}},
		{spec: "[::1]:2222", want: []cluster.Login{{Spec: "[::1]:2222", Host: "::1", Port: 2222}}},
		{spec: "::1p2222", want: []cluster.Login{{Spec: "::1p2222", Host: "::1", Port: 2222}}},
		{spec: "a\nb", want: []cluster.Login{{Spec: "a", Host: "a"}, {Spec: "b", Host: "b"}}},
		{spec: "0/host", err: `bad sshlogin "0/host": slots "0"`},
		{spec: "4/", err: `bad sshlogin "4/": no host`},
		{spec: "x/host", err: `host "x/host" is not a host name`},
		{spec: "me:pw@host", err: "passwords in an sshlogin are not supported"},
		{spec: "@/host", err: `host group ""`},
		{spec: "@gpu", err: "needs a host after it"},
		{spec: "@me", err: "needs a host after it"},
		{spec: "host:22", err: "give a port as ssh -p PORT host"},
		{spec: "[::1]:99999", err: `port "99999"`},
		{spec: "-oProxyCommand=x", err: "is not a host name"},
		{spec: "host;rm", err: "is not a host name"},
		{spec: "@x/me@", err: "no host"},
	}
	for _, tt := range tests {
		got, err := cluster.ParseLogins(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, cluster.ErrBadLogin) {
				t.Errorf("ParseLogins(%q) = %v, %v; want an ErrBadLogin with %q", tt.spec, got, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLogins(%q): %v", tt.spec, err)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("ParseLogins(%q) (-want +got):\n%s", tt.spec, d)
		}
	}
}

// TestReadLoginFile reads GNU parallel's sshloginfile format, and the
// default file for "..".
func TestReadLoginFile(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	if err := os.MkdirAll(filepath.Join(home, ".parallel"), 0o700); err != nil {
		t.Fatal(err)
	}
	text := "# hosts\nserver.example.com\n\n2/me@dual\n  16/:\n"
	if err := os.WriteFile(filepath.Join(home, ".parallel", "sshloginfile"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"..", filepath.Join(home, ".parallel", "sshloginfile"), "sshloginfile"} {
		ls, err := cluster.ReadLoginFile(name, nil)
		if err != nil || len(ls) != 3 || ls[1].Host != "me@dual" || ls[1].Slots != 2 || !ls[2].Local() {
			t.Errorf("ReadLoginFile(%q) = %+v, %v", name, ls, err)
		}
	}
	ls, err := cluster.ExpandLogins("host0,..", nil)
	if err != nil || len(ls) != 4 || ls[0].Host != "host0" {
		t.Errorf("ExpandLogins(host0,..) = %+v, %v", ls, err)
	}
	if _, err := cluster.ReadLoginFile(filepath.Join(home, "none"), nil); err == nil {
		t.Error("a missing file gave no error")
	}
}

// FuzzParseLogins: whatever the spec, ParseLogins returns logins or an
// error, never panics, and no login it accepts has a host that ssh could
// take for an option or the shell for syntax.
func FuzzParseLogins(f *testing.F) {
	for _, s := range []string{"4/me@host1,host2,:", "@g1+g2/8/ssh -p 2 h", "[::1]:22", "::1#22", "6//bin/myssh h", "a,,b", `a\,b`, "0/x", "@/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ls, err := cluster.ParseLogins(spec)
		if err != nil {
			return
		}
		for _, l := range ls {
			if l.Local() {
				continue
			}
			if strings.HasPrefix(l.Host, "-") || strings.ContainsAny(l.Host, " \t\n;&|$`'\"") {
				t.Fatalf("ParseLogins(%q) accepted host %q", spec, l.Host)
			}
			if l.Slots < 0 {
				t.Fatalf("ParseLogins(%q): slots %d", spec, l.Slots)
			}
		}
	})
}

// ExampleParseLogins reads GNU parallel's --sshlogin syntax: slots, host
// groups (worker tags), a login's own ssh command, and ":" for this machine.
func ExampleParseLogins() {
	logins, err := cluster.ParseLogins("4/me@build1,@gpu/ssh -p 2222 build2,:")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range logins {
		fmt.Printf("%q slots=%d tags=%v ssh=%v host=%q local=%v\n", l.Spec, l.Slots, l.Tags, l.SSH, l.Host, l.Local())
	}
	// Output:
	// "4/me@build1" slots=4 tags=[] ssh=[] host="me@build1" local=false
	// "@gpu/ssh -p 2222 build2" slots=0 tags=[gpu] ssh=[ssh -p 2222] host="build2" local=false
	// ":" slots=0 tags=[] ssh=[] host="" local=true
}

// ExampleStartSSH runs a job through an SSH run's own cluster. Its only
// host here is ":", this machine, which needs no sshd; "4/me@build1"
// would reach build1 over SSH, copying this program there if need be
// (SSHConfig.Binary and WorkerArgs say what to copy and how to start it).
func ExampleStartSSH() {
	ctx := context.Background()
	logins, _ := cluster.ParseLogins(":")
	c, err := cluster.StartSSH(ctx, cluster.SSHConfig{Logins: logins})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	e, err := cluster.NewExecutor(ctx, cluster.ExecutorConfig{ConnConfig: c.ConnConfig()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	res := c.Executor(e).Exec(ctx, &runner.Job{Seq: 1, Command: "echo hello from $0"}, os.Stdout, os.Stderr)
	fmt.Println("exit", res.Exit, "on", res.Host)
	// Output:
	// hello from sh
	// exit 0 on :
}
