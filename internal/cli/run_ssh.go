package cli

// crew run -S: the jobs run on hosts reached over SSH, through a cluster
// of the run's own (cluster.StartSSH); --nonall and --onall run a
// command on every host.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/spf13/pflag"
	"mvdan.cc/sh/v3/syntax"

	"crew/cluster"
	"crew/runner"
)

// sshFlags are crew run's SSH flags as given.
type sshFlags struct {
	logins, loginFiles []string
	ssh                string
	controlMaster      bool
	nonall, onall      bool
}

// sshOptions is what the SSH flags ask for.
type sshOptions struct {
	logins []cluster.Login
	ssh    []string
	// jobs is -j as given, which with -S sets each host's slots.
	jobs          string
	nonall, onall bool
}

func (o sshOptions) active() bool { return len(o.logins) > 0 }

func (fl *sshFlags) define(f *pflag.FlagSet) {
	f.StringArrayVarP(&fl.logins, "sshlogin", "S", nil,
		"run the jobs on these hosts over SSH: [@tag+tag/][N/][user@]host[,...]; N/ sets the host's job slots (default: -j, else its CPUs); ':' is this machine; '..' reads ~/.parallel/sshloginfile")
	f.StringArrayVar(&fl.loginFiles, "sshloginfile", nil, "read -S hosts from this file, one per line ('..' for ~/.parallel/sshloginfile, '-' for stdin)")
	f.StringArrayVar(&fl.loginFiles, "slf", nil, "same as --sshloginfile")
	f.StringVar(&fl.ssh, "ssh", "", `command that replaces ssh for -S, e.g. "ssh -F ~/.ssh/lab_config" (default $PARALLEL_SSH, else ssh)`)
	f.BoolVarP(&fl.controlMaster, "controlmaster", "M", false, "share one SSH connection per host (crew always does when the ssh command is OpenSSH's)")
	f.BoolVar(&fl.nonall, "nonall", false, "run the command, with no arguments, once on every -S host")
	f.BoolVar(&fl.onall, "onall", false, "run every job on every -S host")
}

// parse completes o.ssh; jobs is -j as given when it was.
func (fl *sshFlags) parse(f *pflag.FlagSet, o *runOptions, jobs string) error {
	if o.server != "" {
		for _, name := range []string{"sshlogin", "sshloginfile", "slf", "ssh", "controlmaster", "nonall", "onall"} {
			if f.Changed(name) {
				return &userError{msg: fmt.Sprintf("--%s cannot be used with --server: it is for -S runs, which start a cluster of their own", name)}
			}
		}
	}
	for _, spec := range fl.logins {
		ls, err := cluster.ExpandLogins(spec, o.streams.In)
		if err != nil {
			return &userError{msg: "-S: " + strings.TrimPrefix(err.Error(), "cluster: "), err: err}
		}
		o.ssh.logins = append(o.ssh.logins, ls...)
	}
	for _, name := range fl.loginFiles {
		ls, err := cluster.ReadLoginFile(name, o.streams.In)
		if err != nil {
			return &userError{msg: "--sshloginfile: " + strings.TrimPrefix(err.Error(), "cluster: "), err: err}
		}
		if len(ls) == 0 {
			return &userError{msg: fmt.Sprintf("--sshloginfile %s: no hosts in it", name)}
		}
		o.ssh.logins = append(o.ssh.logins, ls...)
	}
	if (len(fl.logins) > 0 || len(fl.loginFiles) > 0) && len(o.ssh.logins) == 0 {
		return &userError{msg: "-S: no hosts given"}
	}
	o.ssh.nonall, o.ssh.onall = fl.nonall, fl.onall
	sshCmd := fl.ssh
	if sshCmd == "" {
		sshCmd = os.Getenv("PARALLEL_SSH")
	}
	if sshCmd != "" {
		words, err := shellWords(sshCmd)
		if err != nil || len(words) == 0 {
			return &userError{msg: fmt.Sprintf("--ssh %q: want a command such as \"ssh -p 2222\"", sshCmd)}
		}
		o.ssh.ssh = words
	}
	if !o.ssh.active() {
		switch {
		case fl.nonall || fl.onall:
			return &userError{msg: "--nonall and --onall need hosts: give them with -S or --sshloginfile"}
		case f.Changed("ssh") || fl.controlMaster:
			return &userError{msg: "--ssh and --controlmaster only apply to -S hosts; give them with -S or --sshloginfile"}
		}
		return nil
	}
	if fl.nonall && fl.onall {
		return &userError{msg: "--nonall and --onall cannot be used together"}
	}
	if fl.nonall && len(o.inputs) > 0 {
		return &userError{msg: "--nonall takes no arguments (:::, ::::, -a); use --onall to run jobs on every host"}
	}
	if fl.nonall && len(o.command) == 0 {
		return &userError{msg: "--nonall needs a command"}
	}
	o.ssh.jobs = jobs
	if !fl.onall && !fl.nonall {
		// The hosts' slots bound what runs; this bounds what waits in the
		// run's queue, as with --server: enough for every slot, twice,
		// counting 64 for a host whose CPUs are not known yet.
		slots := 0
		for _, l := range o.ssh.logins {
			slots += cmp.Or(l.Slots, 64)
		}
		o.jobs = max(defaultInFlight, 2*slots)
	}
	return nil
}

// shellWords splits an --ssh value as sh would.
func shellWords(s string) ([]string, error) {
	f, err := syntax.NewParser().Parse(strings.NewReader(s), "")
	if err != nil || len(f.Stmts) != 1 {
		return nil, fmt.Errorf("not one command")
	}
	call, ok := f.Stmts[0].Cmd.(*syntax.CallExpr)
	if !ok || len(call.Assigns) > 0 {
		return nil, fmt.Errorf("not a simple command")
	}
	var words []string
	for _, w := range call.Args {
		lit := w.Lit()
		if lit == "" {
			// Quoted words: take their literal parts.
			var b strings.Builder
			for _, p := range w.Parts {
				switch p := p.(type) {
				case *syntax.Lit:
					b.WriteString(p.Value)
				case *syntax.SglQuoted:
					b.WriteString(p.Value)
				case *syntax.DblQuoted:
					for _, q := range p.Parts {
						l, ok := q.(*syntax.Lit)
						if !ok {
							return nil, fmt.Errorf("expansions are not supported")
						}
						b.WriteString(l.Value)
					}
				default:
					return nil, fmt.Errorf("expansions are not supported")
				}
			}
			lit = b.String()
		}
		words = append(words, lit)
	}
	return words, nil
}

// newSSHExecutor starts the run's cluster and returns an executor on it
// and a function that ends both.
func newSSHExecutor(ctx context.Context, opts *runOptions, run *runner.Config) (runner.Executor, func() error, error) {
	if err := checkRemote(run, "-S"); err != nil {
		return nil, nil, err
	}
	errOut := opts.streams.Err
	c, err := cluster.StartSSH(ctx, cluster.SSHConfig{
		Logins:        opts.ssh.logins,
		SSH:           opts.ssh.ssh,
		Jobs:          opts.ssh.jobs,
		LocalExecutor: runner.Local{TermSeq: opts.termSeq},
		OnHost: func(l cluster.Login, msg string, err error) {
			switch {
			case err != nil:
				fmt.Fprintf(errOut, "crew: host %s: %s\n", l.Spec, strings.TrimPrefix(err.Error(), "cluster: "))
			case strings.HasPrefix(msg, "copied"):
				fmt.Fprintf(errOut, "crew: host %s: %s\n", l.Spec, msg)
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	ecfg := cluster.ExecutorConfig{ConnConfig: c.ConnConfig(), TermSeq: opts.termSeq}
	// checkRequire made sure that a host has the tags.
	ecfg.Require = opts.require
	e, err := cluster.NewExecutor(ctx, ecfg)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c.Executor(e), func() error {
		e.Close()
		return c.Close()
	}, nil
}

// runOnAll runs --onall and --nonall: the whole run once per host, each
// host one job at a time, -j hosts at once; each host's output is
// written in one piece when its jobs are done (with -k in the hosts'
// order). As GNU parallel's, the exit status counts the hosts where a
// job failed.
func runOnAll(ctx context.Context, opts *runOptions, base runner.Config) error {
	if opts.ssh.nonall {
		// The command itself is the one input, run through the shell.
		base.Command = nil
		base.Inputs = []runner.Input{{Values: []string{strings.Join(opts.command, " ")}}}
	} else {
		// Every host reads the same inputs: read them once.
		for i, in := range base.Inputs {
			if in.Reader != nil {
				b, err := io.ReadAll(in.Reader)
				if err != nil {
					return fmt.Errorf("%s: %w", in.Name, err)
				}
				base.Inputs[i].Reader = readAgain(b)
			}
		}
	}
	type hostRun struct {
		out, err bytes.Buffer
		failed   bool
		runErr   error
	}
	runs := make([]hostRun, len(opts.ssh.logins))
	var mu sync.Mutex
	var wg sync.WaitGroup
	// As GNU parallel, -j is how many hosts are worked at once.
	hosts := make(chan struct{}, max(opts.jobs, 1))
	for i, l := range opts.ssh.logins {
		hosts <- struct{}{}
		wg.Go(func() {
			defer func() { <-hosts }()
			cfg := base
			cfg.Jobs = 1
			cfg.Inputs = make([]runner.Input, len(base.Inputs))
			for k, in := range base.Inputs {
				if r, ok := in.Reader.(readAgain); ok {
					in.Reader = bytes.NewReader(r)
				}
				cfg.Inputs[k] = in
			}
			hr := &runs[i]
			cfg.Stdout, cfg.Stderr = &hr.out, &hr.err
			cfg.Log = func(line string) { fmt.Fprintf(&hr.err, "crew: %s\n", line) }
			cfg.Progress = nil
			cfg.Executor = onHost(l, opts)
			sum, err := runner.Run(ctx, cfg)
			hr.runErr, hr.failed = err, err != nil || sum.ExitStatus() != 0
			if !opts.keepOrder {
				mu.Lock()
				writeHost(opts, hr.out.Bytes(), hr.err.Bytes())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	failed := 0
	for i := range runs {
		if opts.keepOrder {
			writeHost(opts, runs[i].out.Bytes(), runs[i].err.Bytes())
		}
		if runs[i].runErr != nil && ctx.Err() != nil {
			return plain("", runs[i].runErr)
		}
		if runs[i].failed {
			failed++
		}
	}
	if failed > 0 {
		return &exitStatusError{Code: min(failed, 101)}
	}
	return nil
}

// readAgain is an input read into memory, which every host reads anew.
type readAgain []byte

func (readAgain) Read([]byte) (int, error) { return 0, io.EOF }

func writeHost(opts *runOptions, out, errOut []byte) {
	_, _ = opts.streams.Out.Write(out)
	_, _ = opts.streams.Err.Write(errOut)
}

// onHost returns the executor of --onall's jobs on host l: ssh per job,
// as GNU parallel runs them, or this machine for ":".
func onHost(l cluster.Login, opts *runOptions) runner.Executor {
	local := runner.Local{TermSeq: opts.termSeq}
	if l.Local() {
		return hostLabel{local, ":"}
	}
	words := opts.ssh.ssh
	if l.SSH != nil {
		words = l.SSH
	}
	if len(words) == 0 {
		words = []string{"ssh"}
	}
	words = append([]string(nil), words...)
	if l.Port != 0 {
		words = append(words, "-p", fmt.Sprint(l.Port))
	}
	if strings.HasSuffix(words[0], "ssh") {
		words = append(words, "-o", "BatchMode=yes", "-T", "-x")
	}
	return sshJobs{local: local, words: append(words, l.Host), host: l.Spec}
}

// sshJobs runs each job as `ssh host COMMAND`.
type sshJobs struct {
	local runner.Local
	words []string
	host  string
}

func (s sshJobs) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	cmd := job.Command
	if len(job.Argv) > 0 {
		q := make([]string, len(job.Argv))
		for i, a := range job.Argv {
			q[i], _ = syntax.Quote(a, syntax.LangPOSIX)
		}
		cmd = strings.Join(q, " ")
	}
	var env strings.Builder
	for _, kv := range job.Env {
		k, v, _ := strings.Cut(kv, "=")
		qv, _ := syntax.Quote(v, syntax.LangPOSIX)
		fmt.Fprintf(&env, "export %s=%s; ", k, qv)
	}
	j := *job
	j.Env = nil
	j.Argv = append(append([]string(nil), s.words...), env.String()+cmd)
	res := s.local.Exec(ctx, &j, stdout, stderr)
	res.Host = s.host
	return res
}

// hostLabel names the host in results.
type hostLabel struct {
	local runner.Local
	host  string
}

func (h hostLabel) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	res := h.local.Exec(ctx, job, stdout, stderr)
	res.Host = h.host
	return res
}
