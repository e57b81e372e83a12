package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"crew/internal/child"
)

// Timings of a host's SSH sessions.
const (
	// masterTimeout bounds the control master's connection (key exchange
	// and login), and with it each session's start.
	masterTimeout = 30 * time.Second
	// forwardTries is how many remote ports are tried for the reverse
	// forward before the host counts as failed.
	forwardTries = 5
)

// drainTimeout is how long Close waits for a host's worker to stop its
// jobs and exit once its input has ended, before it kills the session's
// ssh process (abortGrace, and then some). A variable for the tests.
var drainTimeout = 4 * time.Second

// sshHost is one host of an SSHCluster and the ssh processes that serve
// it: a control master (when the ssh command is OpenSSH's), the worker's
// session, and the binary copy when needed.
type sshHost struct {
	c     *SSHCluster
	login Login
	ctl   string // control socket path
}

// sshWords returns the ssh command and the options crew adds, without
// the destination.
func (h *sshHost) sshWords(master bool) []string {
	words := h.c.cfg.SSH
	if h.login.SSH != nil {
		words = h.login.SSH
	}
	out := append([]string(nil), words...)
	if h.login.Port != 0 {
		out = append(out, "-p", strconv.Itoa(h.login.Port))
	}
	if h.openSSH() {
		// No password or host-key prompt can reach a user here: fail
		// with ssh's own message instead of hanging.
		out = append(out, "-o", "BatchMode=yes", "-T", "-x",
			"-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3")
		if master {
			out = append(out, "-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-o", "ControlPath="+h.ctl, "-N")
		} else {
			out = append(out, "-o", "ControlMaster=no", "-o", "ControlPath="+h.ctl)
		}
	}
	return out
}

// openSSH reports whether the ssh command is OpenSSH's, which takes -o
// options and shares one connection among sessions (ControlMaster); a
// login that names another program (GNU parallel's "myssh -p 2222 host")
// gets no options added, as GNU parallel adds none.
func (h *sshHost) openSSH() bool {
	words := h.c.cfg.SSH
	if h.login.SSH != nil {
		words = h.login.SSH
	}
	return filepath.Base(words[0]) == "ssh"
}

// run brings the host up and serves it until ctx ends (nil) or the host
// fails (its error).
func (h *sshHost) run(ctx context.Context) error {
	if h.login.Local() {
		return h.runLocal(ctx)
	}
	// The goroutine's thread is the parent of every ssh process started
	// here, whose parent-death signal follows it (see internal/child).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if h.openSSH() {
		stop, err := h.startMaster(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	id, err := h.c.binaryID()
	if err != nil {
		return err
	}
	if !h.c.waitBroker(ctx) {
		return nil
	}
	copied := false
	for try := 1; ; try++ {
		res, err := h.serve(ctx, id)
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case res.missing != "" && !copied:
			// The first session found no crew of this build there: what
			// it said instead is the host's uname -sm.
			if p := platformOf(res.missing); p != thisPlatform() {
				return fmt.Errorf("%w: it is %s and this crew is %s, so crew cannot run its worker there; leave the host out",
					ErrArch, p, thisPlatform())
			}
			if err := h.copyBinary(ctx, id); err != nil {
				return err
			}
			copied = true
		case res.portTaken && try < forwardTries:
		case res.portTaken:
			return fmt.Errorf("%w %d times: does its sshd allow them (AllowTcpForwarding)?", errForward, try)
		default:
			return err
		}
	}
}

// startMaster starts the control master and waits until its socket is
// there; stop ends it.
func (h *sshHost) startMaster(ctx context.Context) (stop func(), err error) {
	cmd := exec.Command(h.sshWords(true)[0], append(h.sshWords(true)[1:], h.login.Host)...)
	var errBuf tailBuffer
	cmd.Stderr = &errBuf
	mctx, cancel := context.WithCancel(context.Background())
	ch, err := child.Start(mctx, cmd, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("cannot start %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	var waitErr error
	// Reaped by a goroutine of its own; the parent-death signal follows
	// this goroutine's thread, which lives until stop.
	go func() { _, waitErr = ch.Wait(); close(exited) }()
	stop = func() {
		cancel()
		<-exited
	}
	deadline := time.NewTimer(masterTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(h.ctl); err == nil {
			return stop, nil
		}
		select {
		case <-exited:
			return nil, sshError(waitErr, errBuf.String())
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-deadline.C:
			stop()
			return nil, fmt.Errorf("no SSH connection after %v", masterTimeout)
		case <-tick.C:
		}
	}
}

// output runs a remote shell script over a session and returns its
// standard output.
func (h *sshHost) output(ctx context.Context, script string, stdin io.Reader) ([]byte, error) {
	words := h.sshWords(false)
	cmd := exec.Command(words[0], append(words[1:], h.login.Host, remoteSh(script))...)
	var out bytes.Buffer
	var errBuf tailBuffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errBuf
	sctx, cancel := context.WithTimeout(ctx, masterTimeout+time.Minute)
	defer cancel()
	ch, err := child.Start(sctx, cmd, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", cmd.Path, err)
	}
	if _, err := ch.Wait(); err != nil {
		return nil, sshError(err, errBuf.String())
	}
	return out.Bytes(), nil
}

// copyBinary copies the crew binary into the host's cache, where a
// partial copy is never seen: it lands under a temporary name and is
// renamed only once its sha256 matches.
func (h *sshHost) copyBinary(ctx context.Context, id string) error {
	sum, err := fileHash(h.c.cfg.Binary)
	if err != nil {
		return err
	}
	f, err := os.Open(h.c.cfg.Binary)
	if err != nil {
		return fmt.Errorf("cannot read crew's own binary to copy it: %w", err)
	}
	defer f.Close()
	st, _ := f.Stat()
	start := time.Now()
	if _, err := h.output(ctx, copyScript(id, sum), f); err != nil {
		return fmt.Errorf("copying crew there: %w", err)
	}
	h.c.news(h.login, fmt.Sprintf("copied crew (%.1f MB) in %.2fs", float64(st.Size())/1e6, time.Since(start).Seconds()), nil)
	return nil
}

// sshHello is what crew writes first to a host's worker (ServeSSHWorker):
// where the broker is from there, and the token, which so travels inside
// the SSH channel and never on a command line.
type sshHello struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	// Slots is the host's N/; 0 leaves it to Jobs (crew run's -j as
	// given, counted against the host's CPUs), or without it to the
	// host's CPU count.
	Slots   int           `json:"slots,omitempty"`
	Jobs    string        `json:"jobs,omitempty"`
	Host    string        `json:"host"`
	Tags    []string      `json:"tags,omitempty"`
	AckWait time.Duration `json:"ack_wait"`
}

// errForward reports a host whose sshd refused the reverse forward.
var errForward = errors.New("the host refused the reverse port forward to the broker")

// sessionEnd says why a worker's session ended early.
type sessionEnd struct {
	// missing is the host's uname -sm when it has no crew of this build.
	missing string
	// portTaken reports that the remote port for the forward was taken,
	// which another port may fix.
	portTaken bool
}

// serve runs the worker's session until ctx ends (nil) or the session
// does (why, and an error). One session both starts the worker and, when
// the host lacks this crew, says so: a host that has it costs no round
// trip beyond the connection.
func (h *sshHost) serve(ctx context.Context, id string) (sessionEnd, error) {
	_, bport, err := net.SplitHostPort(strings.TrimPrefix(h.c.broker.URL(), "nats://"))
	if err != nil {
		return sessionEnd{}, err
	}
	// A port the user's kernel is unlikely to hand out to others soon.
	rport := 20000 + rand.IntN(12000)
	words := h.sshWords(false)
	args := append(words[1:], "-o", "ExitOnForwardFailure=yes",
		"-R", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%s", rport, bport),
		h.login.Host, remoteSh(workerScript(id, h.c.cfg.WorkerArgs)))
	cmd := exec.Command(words[0], args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return sessionEnd{}, err
	}
	var errBuf tailBuffer
	outBuf := &readyBuffer{ready: make(chan struct{})}
	cmd.Stderr, cmd.Stdout = &errBuf, outBuf
	sctx, kill := context.WithCancel(context.Background())
	defer kill()
	ch, err := child.Start(sctx, cmd, nil)
	if err != nil {
		return sessionEnd{}, fmt.Errorf("cannot start %s: %w", cmd.Path, err)
	}
	hello, _ := json.Marshal(sshHello{
		URL: fmt.Sprintf("nats://127.0.0.1:%d", rport), Token: h.c.token,
		Slots: h.login.Slots, Jobs: h.c.cfg.Jobs, Host: h.login.Spec, Tags: h.login.Tags, AckWait: h.c.cfg.AckWait,
	})
	// A write error means the session is gone: Wait says why.
	_, _ = stdin.Write(append(hello, '\n'))

	ended := make(chan struct{})
	var closing sync.WaitGroup
	closing.Go(func() {
		select {
		case <-ended:
			return
		case <-ctx.Done():
		}
		// The run is over, or crew is going. A session still logging in
		// (a slow host's rc files) holds no jobs: end it now. Otherwise
		// the end of its input tells the worker to stop its jobs (it has
		// none left after a run) and exit, which ends the session; if it
		// does not, kill ssh.
		select {
		case <-outBuf.ready:
		default:
			kill()
			return
		}
		stdin.Close()
		select {
		case <-ended:
		case <-time.After(drainTimeout):
			kill()
		}
	})
	_, werr := ch.Wait()
	close(ended)
	closing.Wait()
	stdin.Close()
	if ctx.Err() != nil {
		return sessionEnd{}, nil
	}
	if out, ok := strings.CutPrefix(outBuf.String(), missingMark+"\n"); ok {
		return sessionEnd{missing: strings.TrimSpace(out)}, errors.New("no crew of this build there")
	}
	msg := errBuf.String()
	if strings.Contains(msg, "remote port forwarding failed") {
		return sessionEnd{portTaken: true}, fmt.Errorf("%w (port %d)", errForward, rport)
	}
	select {
	case <-outBuf.ready:
	default:
		if loaderFailed(msg) {
			return sessionEnd{}, fmt.Errorf("%w: %w", ErrCannotRun, sshError(werr, msg))
		}
	}
	return sessionEnd{}, fmt.Errorf("went away: %w", sshError(werr, msg))
}

// loaderFailed reports whether a worker's session, which found crew in
// the cache, says the system could not run it: glibc too old for it, or
// no loader for a dynamically linked binary at all (the host's C library
// is another, musl say), which sh reports as the binary "not found".
func loaderFailed(stderr string) bool {
	return strings.Contains(stderr, "GLIBC_") ||
		strings.Contains(stderr, "/crew/") && strings.Contains(stderr, "not found")
}

// runLocal serves ":" with a worker in this process.
func (h *sshHost) runLocal(ctx context.Context) error {
	if !h.c.waitBroker(ctx) {
		return nil
	}
	cfg := h.c.ConnConfig()
	w, err := NewWorker(WorkerConfig{
		ConnConfig:  cfg,
		Executor:    h.c.cfg.LocalExecutor,
		Concurrency: h.c.slotsFor(h.login, runtime.NumCPU()),
		Host:        ":",
		Tags:        h.login.Tags,
		AckWait:     h.c.cfg.AckWait,
		Logger:      slog.New(slog.DiscardHandler),
		ephemeral:   true,
	})
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// sshError words a failed ssh: its own last message when it left one
// ("Permission denied (publickey).", "Could not resolve hostname ..."),
// else the exit status.
func sshError(err error, stderr string) error {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last != "" {
		return errors.New(last)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 255 {
		return errors.New("ssh failed with status 255 and no message")
	}
	if err == nil {
		return errors.New("the session ended")
	}
	return err
}

// remoteSh wraps a script for the login shell on the far side, whatever
// it is (sh, bash, zsh, csh, fish all take this): the script itself then
// runs under /bin/sh. Scripts here never hold a single quote.
func remoteSh(script string) string {
	return "exec /bin/sh -c '" + script + "'"
}

// cacheDir is the per-user directory of crew binaries on a host.
const cacheDir = `"${XDG_CACHE_HOME:-$HOME/.cache}/crew"`

// missingMark is what the worker's session prints, followed by uname
// -sm, when the host has no crew of this build.
const missingMark = "crew: not in the cache"

// copyScript receives the binary on stdin into the cache directory id,
// and keeps it only if its sha256 is sum.
func copyScript(id, sum string) string {
	return `set -e; umask 077; d=` + cacheDir + `/` + id + `; mkdir -p "$d"; t="$d/crew.$$"; ` +
		`cat >"$t"; chmod 700 "$t"; ` +
		`if command -v sha256sum >/dev/null; then h=$(sha256sum <"$t"); ` +
		`case "$h" in ` + sum + `*) ;; *) rm -f "$t"; echo "crew: the copy of crew arrived damaged (sha256 differs)" >&2; exit 3;; esac; fi; ` +
		`mv -f "$t" "$d/crew"`
}

// workerScript starts the cached binary as the host's worker, or says it
// is missing and what the host is.
func workerScript(id string, args []string) string {
	return `b=` + cacheDir + `/` + id + `/crew; if test -x "$b"; then exec "$b" ` + strings.Join(args, " ") + `; fi; ` +
		`echo "` + missingMark + `"; uname -sm`
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_=./:-]+$`)

// checkWorkerArgs refuses arguments the scripts above could not carry.
func checkWorkerArgs(args []string) error {
	for _, a := range args {
		if !plainWord.MatchString(a) {
			return fmt.Errorf("cluster: worker argument %q: only letters, digits and _=./:- are carried to hosts", a)
		}
	}
	return nil
}

// hashes remembers the hashes of binaries by path, size and time of
// change, so a program that starts SSH runs one after another reads its
// binary once.
var hashes sync.Map // hashKey → string

type hashKey struct {
	path        string
	size, ctime int64
}

// binaryID names the binary at path in the hosts' caches: its Go build
// ID, hashed (the linker's hash of what went into it, which differs
// between any two builds that differ), read from the ELF note in a few
// microseconds; a binary without one is named by its sha256. The copy
// itself is always checked against the sha256 (copyScript).
func binaryID(path string) (string, error) {
	if id := goBuildID(path); id != "" {
		sum := sha256.Sum256([]byte(id))
		return "b" + hex.EncodeToString(sum[:20]), nil
	}
	return fileHash(path)
}

// goBuildID reads the Go build ID note of the ELF binary at path, or "".
func goBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	b, err := sec.Data()
	// namesz, descsz, type (4 bytes each), "Go\x00\x00", the ID.
	if err != nil || len(b) < 16 || string(b[12:16]) != "Go\x00\x00" {
		return ""
	}
	n := int(f.ByteOrder.Uint32(b[4:8]))
	if n <= 0 || 16+n > len(b) {
		return ""
	}
	return string(b[16 : 16+n])
}

// fileHash returns the hex sha256 of the file at path.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cluster: crew's own binary: %w", err)
	}
	defer f.Close()
	var key hashKey
	if st, err := f.Stat(); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			key = hashKey{path, st.Size(), sys.Ctim.Nano()}
			if h, ok := hashes.Load(key); ok {
				return h.(string), nil
			}
		}
	}
	hh := sha256.New()
	if _, err := io.Copy(hh, f); err != nil {
		return "", fmt.Errorf("cluster: crew's own binary: %w", err)
	}
	h := hex.EncodeToString(hh.Sum(nil))
	if key.path != "" {
		hashes.Store(key, h)
	}
	return h, nil
}

// readyMark is the line the worker's session writes once the worker
// watches its input (ServeSSHWorker).
const readyMark = "crew: worker ready"

// readyBuffer is a worker session's standard output: a tailBuffer whose
// ready is closed once readyMark has been written to it.
type readyBuffer struct {
	tailBuffer
	ready chan struct{}
	once  sync.Once
}

func (b *readyBuffer) Write(p []byte) (int, error) {
	n, err := b.tailBuffer.Write(p)
	select {
	case <-b.ready:
	default:
		if strings.Contains(b.String(), readyMark+"\n") {
			b.once.Do(func() { close(b.ready) })
		}
	}
	return n, err
}

// tailBuffer keeps the last 4 KiB written to it: enough for ssh's last
// messages, bounded however chatty a remote process is.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 4096 {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-4096:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
