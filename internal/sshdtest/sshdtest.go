// Package sshdtest starts a real OpenSSH server on 127.0.0.1 for tests:
// the -S (--sshlogin) tests of package cluster and of the crew command run
// against it rather than against a mock, so they see what users see.
//
//	srv := sshdtest.Start(t, sshdtest.Options{})
//	cfg := sshdtest.ClientConfig(t, map[string]*sshdtest.Server{"host1": srv})
//	// ssh -F cfg host1 true   now logs in as the current user
//
//	stock := sshdtest.Start(t, sshdtest.Options{User: "crewtest"})
//	// a host that logs in crewtest, a stock account made from /etc/skel
//
// Each Server has its own directory with its own host key, sshd_config and
// authorized_keys, listens on a free port of 127.0.0.1 and stops when the
// test ends. One client key per test binary (Key) is authorized on every
// Server unless Options.RefuseKey. ClientConfig writes an ssh_config that
// names the servers as hosts (with the port, the login, the key and a
// known_hosts file holding their host keys), so `ssh -F FILE NAME` needs
// no flags, and one file can name hosts that log in different users.
//
// Options.User logs in another local account than the current user,
// creating it as Debian makes one when it is missing (see EnsureUser).
// It is there to measure what users see: sshd runs every command through
// the account's login shell, and bash sources ~/.bashrc for each, so an
// account whose rc files do work (root's here runs `pyenv init`, 0.13 s)
// adds that to every SSH command, while a stock account's .bashrc from
// /etc/skel returns at once for a non-interactive shell.
//
// sshd needs /usr/sbin/sshd (Debian's openssh-server) and ssh-keygen;
// without them Start skips the test, saying which is missing. Run as root,
// sshd wants its privilege separation directory /run/sshd, which Start
// creates when missing; run as another user, sshd runs unprivileged and
// can log in only that user, so Options.User naming anyone else skips.
package sshdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crew/internal/child"
	"crew/internal/wait"
)

// SSHD is where Debian's openssh-server installs the server.
const SSHD = "/usr/sbin/sshd"

// Options configure a Server. The zero value authorizes Key.
type Options struct {
	// RefuseKey leaves Key out of authorized_keys, so every login fails
	// (a host that refuses the key).
	RefuseKey bool
	// NoForwarding sets AllowTcpForwarding no: the host refuses port
	// forwards.
	NoForwarding bool
	// SetEnv is given to sshd's SetEnv: variables every session gets,
	// e.g. PATH=/some/dir:/usr/bin:/bin to put fake tools first.
	SetEnv []string
	// User is the local account to log in as instead of the current
	// user. Start makes sure it can (EnsureUser: it may create the
	// account, which needs root, and skips the test when it cannot),
	// makes authorized_keys readable and the cache directory writable
	// by it, and allows only it.
	User string
}

// A Server is a running sshd.
type Server struct {
	// Port is the port it listens on, on 127.0.0.1.
	Port int
	// Dir holds its config, keys and log.
	Dir string
	// HostKey is its public host key, as in a known_hosts line after the
	// host name ("ssh-ed25519 AAAA...").
	HostKey string
	// Cache is its sessions' XDG_CACHE_HOME (unless Options.SetEnv sets
	// one): a host of its own has a cache of its own.
	Cache string
	// User is the account it logs in (Options.User, or the current
	// user); ClientConfig names it as the host's User.
	User string

	cmd  *exec.Cmd
	once sync.Once
}

var (
	keyOnce sync.Once
	keyDir  string
	keyErr  error
)

// Key returns the path of the client's private key, made once per test
// binary (its public half is Key()+".pub"). Start skips the test when it
// cannot be made.
func Key(t testing.TB) string {
	t.Helper()
	need(t)
	keyOnce.Do(func() {
		keyDir, keyErr = os.MkdirTemp("", "crew-sshdtest-key-")
		if keyErr == nil {
			keyErr = keygen(filepath.Join(keyDir, "id_ed25519"))
		}
	})
	if keyErr != nil {
		t.Skipf("sshdtest: cannot make a client key: %v", keyErr)
	}
	return filepath.Join(keyDir, "id_ed25519")
}

func keygen(path string) error {
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "crew-test", "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	return nil
}

func need(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Skipf("sshdtest: no OpenSSH server at %s (apt-get install openssh-server): %v", SSHD, err)
	}
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("sshdtest: no %s on PATH (apt-get install openssh-client)", tool)
		}
	}
}

// Start starts an sshd on a free port of 127.0.0.1 and returns once it
// accepts connections; the test's cleanup stops it.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	key := Key(t)
	if os.Geteuid() == 0 {
		// sshd refuses to start as root without it.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("sshdtest: sshd as root needs /run/sshd: %v", err)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if opts.User != "" {
		u, err = EnsureUser(opts.User)
		if errors.Is(err, ErrNoUser) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, User: u.Username}
	if opts.User != "" {
		// sshd reads authorized_keys with the user's privileges, and the
		// user's sessions reach the cache through dir.
		if err := traversable(dir); err != nil {
			t.Fatalf("sshdtest: %s must reach %s: %v", u.Username, dir, err)
		}
	}
	if !slices.ContainsFunc(opts.SetEnv, func(kv string) bool { return strings.HasPrefix(kv, "XDG_CACHE_HOME=") }) {
		s.Cache = filepath.Join(dir, "cache")
		if err := os.Mkdir(s.Cache, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := chown(s.Cache, u); err != nil {
			t.Fatal(err)
		}
		opts.SetEnv = append(opts.SetEnv, "XDG_CACHE_HOME="+s.Cache)
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	if err := keygen(hostKey); err != nil {
		t.Skipf("sshdtest: %v", err)
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(pub))
	s.HostKey = f[0] + " " + f[1]
	auth := filepath.Join(dir, "authorized_keys")
	authText := ""
	if !opts.RefuseKey {
		b, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		authText = string(b)
	}
	// Public key only: readable by whichever user sshd reads it as.
	if err := os.WriteFile(auth, []byte(authText), 0o644); err != nil {
		t.Fatal(err)
	}
	forwarding := "yes"
	if opts.NoForwarding {
		forwarding = "no"
	}
	var lastErr string
	for range 5 {
		s.Port = freePort(t)
		conf := filepath.Join(dir, "sshd_config")
		lines := []string{
			fmt.Sprintf("Port %d", s.Port),
			"ListenAddress 127.0.0.1",
			"HostKey " + hostKey,
			"PidFile none",
			"AuthorizedKeysFile " + auth,
			// The temp dir's modes are not sshd's business here.
			"StrictModes no",
			"PubkeyAuthentication yes",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"UsePAM no",
			"PermitRootLogin prohibit-password",
			"AllowUsers " + u.Username,
			"AllowTcpForwarding " + forwarding,
			"GatewayPorts no",
			"X11Forwarding no",
			"PrintMotd no",
			"PermitUserEnvironment no",
			// Benchmarks open many sessions (GNU parallel opens one per
			// job); the defaults would drop connections under load.
			"MaxStartups 200",
			"MaxSessions 200",
			"LogLevel ERROR",
		}
		if len(opts.SetEnv) > 0 {
			lines = append(lines, "SetEnv "+strings.Join(opts.SetEnv, " "))
		}
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(filepath.Join(dir, "sshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(SSHD, "-D", "-e", "-f", conf)
		cmd.Stdout, cmd.Stderr = logf, logf
		// Started through internal/child: its own group, so Stop takes
		// its session children with it, and it dies with the test binary.
		// The parent-death signal follows the starting thread, so a
		// goroutine holds its thread from the start until sshd is reaped.
		started := make(chan error, 1)
		exited := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ch, err := child.Start(context.Background(), cmd, nil)
			started <- err
			if err != nil {
				return
			}
			_, _ = ch.Wait()
			close(exited)
		}()
		err = <-started
		logf.Close()
		if err != nil {
			t.Skipf("sshdtest: cannot start sshd: %v", err)
		}
		up := wait.Until(10*time.Second, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			lastErr = strings.TrimSpace(string(b))
			continue // the port was taken meanwhile, or sshd cannot run here
		default:
		}
		if !up {
			_ = child.KillGroup(cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Fatalf("sshdtest: sshd not listening on port %d after 10s", s.Port)
		}
		s.cmd = cmd
		t.Cleanup(func() {
			s.Stop()
			<-exited
		})
		return s
	}
	t.Skipf("sshdtest: sshd does not run here: %s", lastErr)
	return nil
}

// Stop kills the server and every session it serves (a host that goes
// away). It is idempotent.
func (s *Server) Stop() {
	s.once.Do(func() {
		// Session processes run in their own sessions, not sshd's group:
		// kill the listener, then the children it forked for sessions.
		for _, pid := range descendants(s.cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = child.KillGroup(s.cmd.Process.Pid, syscall.SIGKILL)
	})
}

// descendants lists pid's descendants by walking /proc.
func descendants(pid int) []int {
	parent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var p int
		if _, err := fmt.Sscanf(e.Name(), "%d", &p); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid int
		fmt.Sscanf(s[i+2:], "%s %d", &state, &ppid)
		parent[ppid] = append(parent[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range parent[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// traversable lets other users through dir and those of its parents
// that the testing package made for this test (below os.TempDir, mode
// 0700), and fails on a parent above that they cannot pass.
func traversable(dir string) error {
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if m := st.Mode().Perm(); m&0o001 == 0 {
			if !strings.HasPrefix(d, tmp+string(filepath.Separator)) {
				return fmt.Errorf("%s (mode %v) lets no other user through", d, m)
			}
			if err := os.Chmod(d, m|0o011); err != nil {
				return err
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// chown gives path to u.
func chown(path string, u *user.User) error {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("sshdtest: uid %q of %s: %v", u.Uid, u.Username, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("sshdtest: gid %q of %s: %v", u.Gid, u.Username, err)
	}
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}
	return os.Chown(path, uid, gid)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClientConfig writes an ssh_config naming each server under its key in
// hosts, logging in as its User with Key and checking host keys
// against a known_hosts file of their own, and returns its path: give it
// to ssh as -F. Connection sharing is off unless the caller's ssh options
// turn it on.
func ClientConfig(t testing.TB, hosts map[string]*Server) string {
	t.Helper()
	key := Key(t)
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	var kh, cfg strings.Builder
	for name, s := range hosts {
		fmt.Fprintf(&kh, "[127.0.0.1]:%d %s\n", s.Port, s.HostKey)
		fmt.Fprintf(&cfg, "Host %s\n  HostName 127.0.0.1\n  Port %d\n  HostKeyAlias [127.0.0.1]:%d\n  User %s\n",
			name, s.Port, s.Port, s.User)
	}
	fmt.Fprintf(&cfg, "Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n"+
		"  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n"+
		"  ConnectTimeout 5\n", key, known)
	if err := os.WriteFile(known, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
