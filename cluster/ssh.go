package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crew/runner"
)

// SSHConfig configures an SSH run (StartSSH): the hosts, how to reach
// them, and what to start there. Only Logins is required.
type SSHConfig struct {
	// Logins are the hosts; ":" is this machine. At least one.
	Logins []Login
	// SSH is the command that replaces ssh (crew run --ssh), split into
	// words, for the logins that do not give their own; default
	// []string{"ssh"}.
	SSH []string
	// Jobs is crew run's -j as given ("8", "200%", "+1"), which sets the
	// slots of every host whose Login gives none, counted against that
	// host's CPUs. Empty: one slot per CPU of the host.
	Jobs string
	// Binary is the crew binary copied to hosts that lack it; default
	// this process's executable. WorkerArgs are the arguments that make
	// it serve ServeSSHWorker; default []string{"worker", "--ssh"}.
	Binary     string
	WorkerArgs []string
	// LocalExecutor runs the jobs of ":" (a Worker in this process);
	// default runner.Local{}.
	LocalExecutor runner.Executor
	// AckWait is the shared consumer's AckWait: how soon the jobs of a
	// host that went away run elsewhere. Default DefaultSSHAckWait.
	AckWait time.Duration
	// OnHost, if set, is told what becomes of each host: a line of news
	// (err nil: "copied crew (21 MB) in 0.4s") or its failure
	// (it cannot be reached, refuses the key, is of another architecture,
	// went away). It is called from the hosts' goroutines, one call at a
	// time.
	OnHost func(l Login, msg string, err error)
}

// DefaultSSHAckWait is SSHConfig.AckWait's default: a host that goes
// away mid-run has its jobs run elsewhere after at most this long.
const DefaultSSHAckWait = 5 * time.Second

// ErrNoHosts is matched (errors.Is) by the error of a job that could not
// run because no host of the SSH run was left.
var ErrNoHosts = errors.New("cluster: no host of the -S run is left to run jobs")

// ErrArch is matched (errors.Is) by the failure of a host of another
// operating system or architecture than this crew binary's, which crew
// cannot copy there.
var ErrArch = errors.New("cluster: the host's architecture differs from this crew's")

// ErrCannotRun is matched (errors.Is) by the failure of a host that has
// this crew build in its cache but cannot run it: a crew built with cgo
// (go build's default) is linked against this machine's C library, and
// a host with an older glibc, or another C library, refuses it. A crew
// built with CGO_ENABLED=0 is static and runs on any Linux host of its
// architecture.
var ErrCannotRun = errors.New("cluster: the host cannot run this crew binary (built with cgo for another C library; a crew built with CGO_ENABLED=0 runs there)")

// An SSHCluster is a run's own cluster over SSH (crew run -S): an
// embedded broker on this machine's loopback with a fresh random token,
// and a worker on every host, reached through one SSH connection per host
// with a reverse port forward to the broker. Create one with StartSSH;
// the zero value is not usable. Its methods are safe for concurrent use.
//
// StartSSH returns as soon as the broker listens; hosts come up in the
// background, each on its own goroutine (and one locked OS thread per
// ssh process, see internal/child), and jobs submitted meanwhile wait in
// the broker for the first worker. Close ends the workers, the SSH
// connections and the broker. The package doc says how it all works.
type SSHCluster struct {
	cfg    SSHConfig
	broker *Broker
	token  string
	ctlDir string // control sockets of the ssh masters, mode 0700

	ctx      context.Context // ends with Close
	cancel   context.CancelFunc
	brokerUp chan struct{} // closed once broker is set
	hosts    []*sshHost
	wg       sync.WaitGroup // the hosts' goroutines

	live    atomic.Int64    // hosts not (yet) failed
	deadCtx context.Context // ends when live reaches 0
	allDead context.CancelFunc
	newsMu  sync.Mutex
	binOnce sync.Once
	binID   string
	binErr  error
}

// StartSSH starts the broker and, in the background, a worker on every
// host of cfg.Logins. It fails only when the broker cannot start or the
// config is unusable; hosts that fail are reported to cfg.OnHost, and
// when none is left, Executor's jobs fail with ErrNoHosts.
func StartSSH(ctx context.Context, cfg SSHConfig) (*SSHCluster, error) {
	if len(cfg.Logins) == 0 {
		return nil, errors.New("cluster: an SSH run needs at least one host")
	}
	if len(cfg.SSH) == 0 {
		cfg.SSH = []string{"ssh"}
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("cluster: finding crew's own binary to copy: %w", err)
		}
		cfg.Binary = exe
	}
	if len(cfg.WorkerArgs) == 0 {
		cfg.WorkerArgs = []string{"worker", "--ssh"}
	}
	if err := checkWorkerArgs(cfg.WorkerArgs); err != nil {
		return nil, err
	}
	if cfg.LocalExecutor == nil {
		cfg.LocalExecutor = runner.Local{}
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultSSHAckWait
	}
	if cfg.Jobs != "" {
		if _, err := runner.ParseJobs(cfg.Jobs, 1); err != nil {
			return nil, fmt.Errorf("cluster: -j: %w", err)
		}
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("cluster: token: %w", err)
	}
	c := &SSHCluster{cfg: cfg, token: hex.EncodeToString(tok)}
	c.deadCtx, c.allDead = context.WithCancel(context.Background())
	var err error
	if c.ctlDir, err = os.MkdirTemp("", "crew-ssh-"); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.brokerUp = make(chan struct{})
	c.live.Store(int64(len(cfg.Logins)))
	// The hosts' SSH connections are made while the broker starts; each
	// waits for it before it starts its worker.
	for i, l := range cfg.Logins {
		h := &sshHost{c: c, login: l, ctl: filepath.Join(c.ctlDir, strconv.Itoa(i))}
		c.hosts = append(c.hosts, h)
		c.wg.Go(func() {
			err := h.run(c.ctx)
			if c.ctx.Err() == nil {
				if err == nil {
					err = errors.New("its worker ended")
				}
				c.news(l, "", err)
				if c.live.Add(-1) == 0 {
					c.allDead()
				}
			}
		})
	}
	// Only this machine's loopback, and only with the token: the forwarded
	// ports on the hosts are on their loopback too, but any local user
	// there (or here) could dial them.
	if c.broker, err = StartBroker(BrokerConfig{Listen: "127.0.0.1:0", Token: c.token}); err != nil {
		c.cancel()
		c.wg.Wait()
		c.allDead()
		_ = os.RemoveAll(c.ctlDir)
		return nil, err
	}
	close(c.brokerUp)
	return c, nil
}

// waitBroker waits until the broker listens, or ctx ends (false).
func (c *SSHCluster) waitBroker(ctx context.Context) bool {
	select {
	case <-c.brokerUp:
		return true
	case <-ctx.Done():
		return false
	}
}

// news tells cfg.OnHost, one call at a time.
func (c *SSHCluster) news(l Login, msg string, err error) {
	if c.cfg.OnHost == nil {
		return
	}
	c.newsMu.Lock()
	defer c.newsMu.Unlock()
	c.cfg.OnHost(l, msg, err)
}

// ConnConfig returns what an Executor needs to submit jobs to the run's
// broker: its loopback URL and the token. The token is a secret: it is
// meant for this process, never for a command line or a log.
func (c *SSHCluster) ConnConfig() ConnConfig {
	return ConnConfig{URL: c.broker.URL(), Credentials: Credentials{Token: c.token}, Name: "crew run -S"}
}

// NoHostsLeft is closed once every host has failed or gone away.
func (c *SSHCluster) NoHostsLeft() <-chan struct{} { return c.deadCtx.Done() }

// Executor wraps e, an Executor on ConnConfig, so that its jobs fail with
// ErrNoHosts, rather than wait for ever, once no host is left.
func (c *SSHCluster) Executor(e runner.Executor) runner.Executor {
	return &sshExecutor{inner: e, dead: c.deadCtx}
}

type sshExecutor struct {
	inner runner.Executor
	dead  context.Context // ends when no host is left
}

func (x *sshExecutor) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	if x.dead.Err() != nil {
		return runner.Result{Seq: job.Seq, Exit: -1, Start: time.Now(), Err: ErrNoHosts}
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(x.dead, cancel)
	defer stop()
	res := x.inner.Exec(jctx, job, stdout, stderr)
	if ctx.Err() == nil && x.dead.Err() != nil {
		res.Exit, res.Err = -1, ErrNoHosts
	}
	return res
}

// Close ends the run's cluster: it ends every worker's input, so the
// workers (which hold no jobs once the run has ended) stop what still
// runs and exit, the SSH connections close, the local worker drains and
// the broker stops. It waits for all of it (about a second when the
// workers are idle, at most a few seconds however their jobs behave)
// and is idempotent. Close the Executor on ConnConfig first.
func (c *SSHCluster) Close() error {
	c.cancel()
	c.wg.Wait()
	c.allDead()
	c.broker.Close()
	_ = os.RemoveAll(c.ctlDir)
	return nil
}

// binaryID returns the name of cfg.Binary's directory in the hosts'
// caches (see binaryID).
func (c *SSHCluster) binaryID() (string, error) {
	c.binOnce.Do(func() { c.binID, c.binErr = binaryID(c.cfg.Binary) })
	return c.binID, c.binErr
}

// slotsFor returns how many jobs run at once on a host with cpus CPUs.
func (c *SSHCluster) slotsFor(l Login, cpus int) int {
	if l.Slots > 0 {
		return l.Slots
	}
	if cpus < 1 {
		cpus = 1
	}
	if c.cfg.Jobs != "" {
		if n, err := runner.ParseJobs(c.cfg.Jobs, cpus); err == nil && n > 0 {
			return n
		}
	}
	return cpus
}

// goarch maps uname -m to GOARCH.
func goarch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i486", "i586", "i686":
		return "386"
	case "armv6l", "armv7l", "armv8l":
		return "arm"
	case "ppc64le":
		return "ppc64le"
	case "s390x":
		return "s390x"
	case "riscv64":
		return "riscv64"
	}
	return machine
}

// thisPlatform is "linux/amd64" and the like.
func thisPlatform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// platformOf turns `uname -sm` output ("Linux x86_64") into GOOS/GOARCH.
func platformOf(uname string) string {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return "unknown (" + strings.TrimSpace(uname) + ")"
	}
	return strings.ToLower(f[0]) + "/" + goarch(f[1])
}
