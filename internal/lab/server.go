package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crew/proc"
)

var serverParams = []Param{{"clients", ParamInt}, {"cpu", ParamDuration}, {"io", ParamDuration}, {"load", ParamDuration}, {"reps", ParamInt}, {"switch", ParamDuration}, {"ceiling", ParamDuration}}

var serverExperiment = Experiment{
	Name:   "server",
	Claim:  "A web server handles many independent requests in parallel (task parallelism): more clients at once, more requests served per second.",
	Run:    runServer,
	Params: serverParams,
}

// The server modes: how one HTTP server serves its requests.
const (
	serverGoroutines = "goroutine per request"
	serverOneThread  = "one OS thread (GOMAXPROCS=1)"
	serverGIL        = "threads + GIL"
	serverProcs      = "process pool"
)

var serverModes = []string{serverGoroutines, serverOneThread, serverGIL, serverProcs}

// serverPoint is what one mode did under one closed-loop load.
type serverPoint struct {
	Requests int
	// PerSec is requests completed per second; P50 and P99 are latency
	// percentiles in milliseconds.
	PerSec, P50, P99 float64
}

// serverFigures are what the server verdict is computed from: a point per
// mode and number of concurrent clients, and the ceiling measured in the
// same run.
type serverFigures struct {
	Clients []int
	Points  map[string]map[int]serverPoint
	Ceiling Ceiling
	// Others is the share of the machine's CPUs that other processes used
	// while the servers were measured with the most clients.
	Others float64
	// Saturate is the fewest clients that can keep every core busy: each
	// request waits on I/O, so a core needs (cpu+io)/cpu clients; 0 when
	// unknown.
	Saturate int
	// CPU is the CPU time one request with the most clients cost, per
	// mode; missing when not measured.
	CPU map[string]serverCPU
}

// serverCPU is what one request cost in CPU seconds: on the server's side
// (its process and its pool's) and on lab's (the clients and backend).
type serverCPU struct {
	Server, Clients float64
}

// reach is the share of the ceiling a server on every core can reach over
// one on a single thread, with the clients on the same cores: the
// one-thread server's bottleneck is its own CPU per request, while the
// cores of a parallel server also run the clients and backend. It is
// goroutine per request's S / (S + C), S its CPU per request and C the
// clients', or 1 when they were not measured.
func (f *serverFigures) reach() float64 {
	g := f.CPU[serverGoroutines]
	if g.Server <= 0 || g.Clients < 0 {
		return 1
	}
	return g.Server / (g.Server + g.Clients)
}

// reachable is the ceiling scaled by reach: the most a server mode can gain
// over one OS thread in this run.
func (f *serverFigures) reachable() Ceiling {
	c := f.Ceiling
	c.Speedup *= f.reach()
	return c
}

func (f *serverFigures) set(mode string, n int, p serverPoint) {
	if f.Points == nil {
		f.Points = map[string]map[int]serverPoint{}
	}
	if f.Points[mode] == nil {
		f.Points[mode] = map[int]serverPoint{}
	}
	f.Points[mode][n] = p
}

// rate is mode's throughput with n clients.
func (f *serverFigures) rate(mode string, n int) float64 { return f.Points[mode][n].PerSec }

// over is mode's throughput with n clients over one OS thread's.
func (f *serverFigures) over(mode string, n int) float64 {
	if f.rate(serverOneThread, n) <= 0 {
		return 0
	}
	return f.rate(mode, n) / f.rate(serverOneThread, n)
}

func runServer(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("server", serverParams, cfg)
	maxN := p.Int("clients", 16, 32)
	cpu := p.Duration("cpu", time.Millisecond, time.Millisecond)
	ioWait := p.Duration("io", 2*time.Millisecond, 2*time.Millisecond)
	load := p.Duration("load", 20*time.Millisecond, 200*time.Millisecond)
	reps := p.Int("reps", 5, 10)
	interval := p.Duration("switch", 5*time.Millisecond, 5*time.Millisecond)
	ceilWork := p.Duration("ceiling", 20*time.Millisecond, 100*time.Millisecond)
	w := cfg.workers()
	p.used["workers"] = w
	if p.err != nil {
		return nil, p.err
	}
	// A core stays busy only with (cpu+io)/cpu requests in flight on it.
	fig := serverFigures{Saturate: int(math.Ceil(float64(w) * float64(cpu+ioWait) / float64(cpu)))}
	step := 4
	if cfg.Full {
		step = 2
	}
	for n := 1; n <= maxN; n *= step {
		fig.Clients = append(fig.Clients, n)
	}
	if last := fig.Clients[len(fig.Clients)-1]; last != maxN {
		fig.Clients = append(fig.Clients, maxN)
	}
	nMax := maxN

	dir, err := os.MkdirTemp("", "crew-lab-server-")
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	defer os.RemoveAll(dir)
	backend, err := startEcho(ioWait, serverMsg)
	if err != nil {
		return nil, err
	}
	defer backend.Close()
	// The request's CPU part is the ceiling's own pure loop, sized here to
	// take about cpu on one thread, so the two are the same kind of work.
	items := calibrateLoop(cpu)
	meter := NewCeilingMeter(w, ceilWork)
	var stderr lockedBuffer
	// WithPrefetch(0): a server call never returns until told to quit, so
	// none may queue behind another on one worker.
	servers, err := proc.New(ctx, proc.WithWorkers(len(serverModes)), proc.WithPrefetch(0), proc.WithStderr(&stderr))
	if err != nil {
		return nil, err
	}
	defer servers.Close()

	// Every mode's server runs at once, each in its own worker process,
	// idle while another is loaded, so that the loads can be interleaved
	// in short rounds (loadRounds) and every mode meets the same machine.
	var tasks []serverTask
	for i, mode := range serverModes {
		tasks = append(tasks, serverTask{Mode: mode, AddrFile: filepath.Join(dir, fmt.Sprintf("addr%d", i)), Backend: backend.Addr(),
			Items: items, Workers: w, Switch: interval})
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Keep-alive connections, as many as clients, so each request costs a
	// round trip and not a TCP handshake.
	tr := &http.Transport{MaxIdleConnsPerHost: maxN, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	running, err := startServers(sctx, servers, tasks)
	if err == nil {
		err = loadRounds(ctx, cfg, client, running, fig.Clients, reps, load, meter, &fig)
	}
	if serr := stopServers(client, running, cancel); err == nil {
		err = serr
	}
	if err != nil {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w (servers' stderr: %s)", err, s)
		}
		return nil, err
	}
	fig.Ceiling = meter.Ceiling()
	var pyRows []Row
	if cfg.Python != "" {
		var counts []string
		for _, n := range fig.Clients {
			counts = append(counts, strconv.Itoa(n))
		}
		var out []struct {
			Mode              string
			Clients, Requests int
			PerSec, P50, P99  float64
		}
		if err := runPython(ctx, cfg, "server", &out, backend.Addr(), strconv.FormatFloat(cpu.Seconds(), 'f', -1, 64), strconv.Itoa(w),
			strings.Join(counts, ","), strconv.FormatFloat(max(load, 200*time.Millisecond).Seconds(), 'f', -1, 64)); err != nil {
			return nil, err
		}
		for _, r := range out {
			pyRows = append(pyRows, Row{"mode": r.Mode, "clients": r.Clients, "requests": r.Requests, "req_per_s": r.PerSec, "p50_ms": r.P50, "p99_ms": r.P99})
		}
	}

	res := &Result{
		Columns: []string{"mode", "clients", "requests", "req_per_s", "p50_ms", "p99_ms", "cpu_us", "clients_cpu_us", "speedup", "of_ceiling", "of_reachable"},
		Params:  p.used,
		Ceiling: &fig.Ceiling,
		Charts: []Chart{
			{Title: "throughput against concurrent clients", Kind: "line", X: "clients", Y: "req_per_s", Series: "mode", XLabel: "concurrent clients", YLabel: "requests per second", LogX: true},
			{Title: "median latency", Kind: "line", X: "clients", Y: "p50_ms", Series: "mode", XLabel: "concurrent clients", YLabel: "p50 latency, ms", LogX: true, LogY: true},
			{Title: "99th percentile latency", Kind: "line", X: "clients", Y: "p99_ms", Series: "mode", XLabel: "concurrent clients", YLabel: "p99 latency, ms", LogX: true, LogY: true},
			{Title: fmt.Sprintf("throughput over one OS thread's with %d clients, beside the ceilings", nMax), Kind: "bar", X: "mode", Y: "speedup", YLabel: "x one OS thread"},
		},
	}
	for _, mode := range serverModes {
		for _, n := range fig.Clients {
			pt := fig.Points[mode][n]
			row := Row{"mode": mode, "clients": n, "requests": pt.Requests, "req_per_s": pt.PerSec, "p50_ms": pt.P50, "p99_ms": pt.P99}
			if n == nMax {
				x := fig.over(mode, n)
				row["speedup"], row["of_ceiling"], row["of_reachable"] = x, fig.Ceiling.Share(x), fig.reachable().Share(x)
				if c, ok := fig.CPU[mode]; ok {
					row["cpu_us"], row["clients_cpu_us"] = 1e6*c.Server, 1e6*c.Clients
				}
			}
			res.Rows = append(res.Rows, row)
		}
	}
	res.Rows = append(res.Rows, pyRows...)
	ceil := fig.Ceiling.Row()
	delete(ceil, "workers")
	delete(ceil, "seconds")
	rc := fig.reachable()
	ceil["of_reachable"] = rc.Share(fig.Ceiling.Speedup)
	res.Rows = append(res.Rows, ceil, Row{"mode": serverReachableMode, "speedup": rc.Speedup, "of_ceiling": fig.reach(), "of_reachable": 1.0})
	res.Holds, res.Verdict = serverVerdict(fig)
	res.Inconclusive = serverInconclusive(fig)
	res.Notes = []string{
		fmt.Sprintf("each request: one round trip to a backend on loopback TCP that answers after %v (I/O), then about %v of the ceiling's pure CPU loop (%d items); the server is a real net/http server in a child process (a proc worker) on loopback", ioWait, cpu, items),
		"load: N clients in lab's own process, each sending its next request as soon as the last one is answered (closed loop), over kept-alive connections",
		"goroutine per request: net/http as it is; one OS thread: the same server with GOMAXPROCS=1 (one thread runs Go code: async on Go's netpoller); " +
			fmt.Sprintf("threads + GIL: the emulated GIL (%v switch interval) held for the handler's Python-like code and its CPU part, released around the backend call, as CPython does; ", interval) +
			fmt.Sprintf("process pool: the handler does the backend call itself and hands the CPU part to a proc pool of %d worker processes, as a Python server hands CPU work to a ProcessPoolExecutor", w),
		fmt.Sprintf("speedup: requests per second over one OS thread's, with %d clients; of_ceiling and of_reachable: that as a share of the ceiling and of the reachable ceiling; the verdict judges goroutine per request (parallel) and threads + GIL (serial); the process pool's figure is reported, not judged, as its messages cost CPU per request (cpu_us) the others do not spend", nMax),
		fig.Ceiling.Describe(),
		fmt.Sprintf("cpu_us and clients_cpu_us: the CPU time one request cost the server (its process and its pool's) and lab's clients and backend, from the threads' scheduler counts; reachable ceiling: the ceiling times goroutine per request's share of each request's CPU time (%.0f%%): the clients share the cores with a parallel server but not the one thread of a one-thread server, so no server mode can gain the whole ceiling over it", 100*fig.reach()),
		fmt.Sprintf("with %d clients each mode ran %d times for %v, interleaved in rounds that each begin with a ceiling sample and visit the modes in a rotating order; its figures are over all its runs (fewer clients: the first %d rounds); other processes used %.0f%% of the CPUs meanwhile", nMax, reps, load, serverCurveRounds, 100*fig.Others),
	}
	if len(pyRows) > 0 {
		res.Notes = append(res.Notes, "python rows: the same requests on the same backend, the CPU part a pure Python loop of about the same time, served by a ThreadingHTTPServer (threads under the real GIL), by asyncio on one thread, and by a ThreadingHTTPServer handing the CPU part to a ProcessPoolExecutor; each server a child process, loaded by threads of another")
	}
	return res, nil
}

// serverReachableMode labels the reachable ceiling's row.
const serverReachableMode = "reachable ceiling (clients share the cores)"

// serverCurveRounds is how many rounds measure the loads of fewer clients
// than the most, which only draw the curves.
const serverCurveRounds = 2

// serverMsg is the size of a backend request and answer.
const serverMsg = 64

// serverTask tells a worker process how to serve.
type serverTask struct {
	Mode string
	// AddrFile receives the server's address and process ids (its own,
	// then its pool's) once it listens.
	AddrFile string
	// Backend is the address of the I/O backend (an echo server).
	Backend string
	// Items is the size of the CPU part (items of the pure loop).
	Items uint64
	// Workers is the process pool's size; Switch the GIL's interval.
	Workers int
	Switch  time.Duration
}

// serverOut is what a server reports when it stops.
type serverOut struct {
	Served     int64
	GOMAXPROCS int
}

var procServe = proc.Register("lab.server", func(ctx context.Context, t serverTask) (serverOut, error) {
	return serve(ctx, t)
})

var procServerCPU = proc.Register("lab.server.cpu", func(ctx context.Context, items uint64) (uint64, error) {
	return sumRange(0, items, ceilingRounds), nil
})

// serve runs an HTTP server in mode t.Mode until a request for /quit or the
// end of ctx. /req serves one request: a backend round trip, then the CPU
// part.
func serve(ctx context.Context, t serverTask) (serverOut, error) {
	if t.Mode == serverOneThread {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	out := serverOut{GOMAXPROCS: runtime.GOMAXPROCS(0)}
	var (
		g    *gil
		pool *proc.Pool
	)
	switch t.Mode {
	case serverGoroutines, serverOneThread:
	case serverGIL:
		g = newGIL(t.Switch, time.Now())
	case serverProcs:
		var err error
		if pool, err = proc.New(ctx, proc.WithWorkers(t.Workers)); err != nil {
			return out, err
		}
		defer pool.Close()
	default:
		return out, fmt.Errorf("server: unknown mode %q", t.Mode)
	}
	backends := &backendConns{addr: t.Backend}
	defer backends.close()

	var served atomic.Int64
	quit := make(chan struct{})
	var quitOnce sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/req", func(w http.ResponseWriter, r *http.Request) {
		if g != nil {
			// The handler's own code (parsing, routing) is Python code.
			g.release(1, g.acquire())
		}
		if err := backends.roundTrip(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var sum uint64
		switch {
		case g != nil:
			sum = sumRangeGIL(g, 1, 0, t.Items, ceilingRounds)
		case pool != nil:
			var err error
			if sum, err = procServerCPU.Call(r.Context(), pool, t.Items); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		default:
			sum = sumRange(0, t.Items, ceilingRounds)
		}
		served.Add(1)
		fmt.Fprintf(w, "%d\n", sum)
	})
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		quitOnce.Do(func() { close(quit) })
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return out, fmt.Errorf("server: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// Written whole under a temporary name, then renamed: the parent never
	// reads half an address.
	tmp := t.AddrFile + ".tmp"
	line := fmt.Sprintf("%s %d", ln.Addr(), os.Getpid())
	if pool != nil {
		for _, pid := range pool.PIDs() {
			line += fmt.Sprintf(" %d", pid)
		}
	}
	if err := os.WriteFile(tmp, []byte(line), 0o644); err == nil {
		err = os.Rename(tmp, t.AddrFile)
	}
	if err != nil {
		srv.Close()
		<-errc
		return out, fmt.Errorf("server: %w", err)
	}
	select {
	case <-quit:
	case <-ctx.Done():
	case err := <-errc:
		return out, fmt.Errorf("server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc
	out.Served = served.Load()
	return out, err
}

// backendConns keeps idle connections to the backend for reuse, as a
// database client's pool does, so a request costs a round trip, not a dial.
type backendConns struct {
	addr string
	mu   sync.Mutex
	idle []net.Conn
}

func (b *backendConns) roundTrip(ctx context.Context) error {
	b.mu.Lock()
	var c net.Conn
	if n := len(b.idle); n > 0 {
		c, b.idle = b.idle[n-1], b.idle[:n-1]
	}
	b.mu.Unlock()
	if c == nil {
		var d net.Dialer
		var err error
		if c, err = d.DialContext(ctx, "tcp", b.addr); err != nil {
			return fmt.Errorf("backend: %w", err)
		}
	}
	buf := make([]byte, serverMsg)
	if _, err := c.Write(buf); err != nil {
		c.Close()
		return fmt.Errorf("backend: %w", err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		c.Close()
		return fmt.Errorf("backend: %w", err)
	}
	b.mu.Lock()
	b.idle = append(b.idle, c)
	b.mu.Unlock()
	return nil
}

func (b *backendConns) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.idle {
		c.Close()
	}
	b.idle = nil
}

// runningServer is one mode's server, serving in a worker process.
type runningServer struct {
	mode string
	base string // http://host:port
	// pids are the server's process id and its process pool's, if any.
	pids    []int
	out     serverOut
	err     error
	stopped chan struct{} // closed once out and err are set
}

// startServers starts one server per task, each in a worker of servers,
// and waits until all listen. On error it stops those that started.
func startServers(ctx context.Context, servers *proc.Pool, tasks []serverTask) ([]*runningServer, error) {
	var all []*runningServer
	for _, t := range tasks {
		s := &runningServer{mode: t.Mode, stopped: make(chan struct{})}
		all = append(all, s)
		go func() {
			s.out, s.err = procServe.Call(ctx, servers, t)
			close(s.stopped)
		}()
	}
	for i, s := range all {
		addr, pids, err := waitAddr(ctx, tasks[i].AddrFile, s.stopped)
		if err != nil {
			return all, err
		}
		s.base, s.pids = "http://"+addr, pids
	}
	return all, nil
}

// stopServers asks every server to quit, or cancels its call with cancel
// when it cannot be asked, waits for all and returns the first failure.
func stopServers(client *http.Client, all []*runningServer, cancel context.CancelFunc) error {
	for _, s := range all {
		if s.base == "" {
			cancel()
			continue
		}
		resp, err := client.Get(s.base + "/quit")
		if err != nil {
			cancel()
			continue
		}
		resp.Body.Close()
	}
	var errs []error
	for _, s := range all {
		<-s.stopped
		if s.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.mode, s.err))
		}
		if s.mode == serverOneThread && s.err == nil && s.out.GOMAXPROCS != 1 {
			errs = append(errs, fmt.Errorf("%s ran with GOMAXPROCS %d, want 1", s.mode, s.out.GOMAXPROCS))
		}
	}
	return errors.Join(errs...)
}

// loadRounds measures every server under each load of clients in reps
// short runs (fewer clients than the most only in the first
// serverCurveRounds), interleaved in rounds that each begin with a ceiling
// sample and visit the modes in a rotating order, so that every mode meets
// the same machine on average; a point sums all its runs. It
// also measures, over those rounds, the CPU time the goroutine-per-request
// server and lab's clients and backend spent per request, and the share of
// the CPUs that other processes used.
func loadRounds(ctx context.Context, cfg Config, client *http.Client, running []*runningServer, clients []int, reps int, load time.Duration, meter *CeilingMeter, fig *serverFigures) error {
	nMax := slices.Max(clients)
	run := func(s *runningServer, n int) (loadRun, error) {
		r, err := closedLoop(ctx, client, s.base+"/req", n, load)
		if err != nil {
			return r, fmt.Errorf("%s, %d clients: %w", s.mode, n, err)
		}
		return r, nil
	}
	var ours []int
	for _, s := range running {
		ours = append(ours, s.pids...)
	}
	ours = append(ours, os.Getpid())
	busy0, ours0, t0 := machineBusy(), processesCPU(ours), time.Now()
	serverCPUs := make([]time.Duration, len(running))
	labCPUs := make([]time.Duration, len(running))
	requests := make([]int, len(running))
	sums := make([]loadRun, len(running))
	fewer := map[int][]loadRun{} // by client count, per server
	for _, n := range clients {
		if n != nMax {
			fewer[n] = make([]loadRun, len(running))
		}
	}
	for rep := range reps {
		if err := meter.Sample(ctx); err != nil {
			return err
		}
		progress(cfg, "lab: server: round %d of %d", rep+1, reps)
		for k := range running {
			i := (k + rep) % len(running)
			s := running[i]
			// Fewer clients only draw the curve: the first rounds suffice.
			for _, n := range clients {
				if n == nMax || rep >= serverCurveRounds {
					continue
				}
				r, err := run(s, n)
				if err != nil {
					return err
				}
				fewer[n][i].add(r)
			}
			cpu0, lab0 := processesCPU(s.pids), processCPU(os.Getpid())
			r, err := run(s, nMax)
			if err != nil {
				return err
			}
			serverCPUs[i] += processesCPU(s.pids) - cpu0
			labCPUs[i] += processCPU(os.Getpid()) - lab0
			requests[i] += len(r.lat)
			sums[i].add(r)
		}
	}
	wall := time.Since(t0)
	if busy0 >= 0 {
		if busy := machineBusy(); busy >= 0 {
			others := busy - busy0 - (processesCPU(ours) - ours0)
			fig.Others = max(others.Seconds(), 0) / (wall.Seconds() * float64(runtime.NumCPU()))
		}
	}
	for i, s := range running {
		pt, err := sums[i].point()
		if err != nil {
			return fmt.Errorf("%s: %w", s.mode, err)
		}
		fig.set(s.mode, nMax, pt)
		for n, runs := range fewer {
			pt, err := runs[i].point()
			if err != nil {
				return fmt.Errorf("%s, %d clients: %w", s.mode, n, err)
			}
			fig.set(s.mode, n, pt)
		}
	}
	fig.CPU = map[string]serverCPU{}
	for i, s := range running {
		if requests[i] > 0 {
			fig.CPU[s.mode] = serverCPU{Server: serverCPUs[i].Seconds() / float64(requests[i]), Clients: labCPUs[i].Seconds() / float64(requests[i])}
		}
	}
	return nil
}

// machineBusy returns the CPU time every CPU of the machine has spent
// busy so far, stolen time included (/proc/stat), or -1 where it cannot
// be read.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	// cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		ticks += v
	}
	// /proc/stat counts in USER_HZ, 100 per second on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond
}

// processesCPU sums processCPU over pids.
func processesCPU(pids []int) time.Duration {
	var t time.Duration
	for _, pid := range pids {
		t += processCPU(pid)
	}
	return t
}

// processCPU returns the CPU time process pid's threads have run so far,
// from the scheduler's nanosecond counts (/proc/PID/task/*/schedstat), or
// 0 where they cannot be read.
func processCPU(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var t time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		var ns int64
		if _, err := fmt.Sscan(string(b), &ns); err == nil {
			t += time.Duration(ns)
		}
	}
	return t
}

// waitAddr waits for the server to write its address and process ids, or
// to stop first.
func waitAddr(ctx context.Context, path string, stopped <-chan struct{}) (string, []int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			f := strings.Fields(string(b))
			var pids []int
			for _, v := range f[min(1, len(f)):] {
				pid, err := strconv.Atoi(v)
				if err != nil || pid < 2 {
					return "", nil, fmt.Errorf("server wrote %q", b)
				}
				pids = append(pids, pid)
			}
			if len(pids) == 0 {
				return "", nil, fmt.Errorf("server wrote %q", b)
			}
			return f[0], pids, nil
		}
		if time.Now().After(deadline) {
			return "", nil, errors.New("server did not start listening in 30 s")
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-stopped:
			return "", nil, errors.New("server stopped before it listened")
		case <-time.After(time.Millisecond):
		}
	}
}

// closedLoop runs n clients against url for about d, each sending its next
// request as soon as its last one is answered, and returns the throughput
// and latency percentiles. Every client first sends one request that is
// not counted, so connections are open before the clock starts.
func closedLoop(ctx context.Context, client *http.Client, url string, n int, d time.Duration) (loadRun, error) {
	get := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("server answered %s", resp.Status)
		}
		return err
	}
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		lat         = make([][]time.Duration, n)
		errs        = make([]error, n)
		deadline    time.Time
	)
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			err := get()
			ready.Done()
			<-start
			if err != nil {
				errs[i] = err
				return
			}
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := get(); err != nil {
					errs[i] = err
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	ready.Wait()
	t0 := time.Now()
	deadline = t0.Add(d)
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return loadRun{}, err
	}
	return loadRun{lat: slices.Concat(lat...), elapsed: elapsed}, nil
}

// loadRun is what one or more closed-loop runs measured: every request's
// latency and the wall time they took.
type loadRun struct {
	lat     []time.Duration
	elapsed time.Duration
}

func (r *loadRun) add(o loadRun) {
	r.lat = append(r.lat, o.lat...)
	r.elapsed += o.elapsed
}

// point summarises the runs: requests per second over their whole time,
// and latency percentiles over all their requests.
func (r loadRun) point() (serverPoint, error) {
	if len(r.lat) == 0 || r.elapsed <= 0 {
		return serverPoint{}, errors.New("no request completed")
	}
	all := slices.Sorted(slices.Values(r.lat))
	ms := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))].Nanoseconds()) / 1e6
	}
	return serverPoint{Requests: len(all), PerSec: float64(len(all)) / r.elapsed.Seconds(), P50: ms(0.50), P99: ms(0.99)}, nil
}

// serverGainMin is the least gain, from one client to the most, that shows
// a server serving requests side by side: each request waits on I/O for
// twice its CPU time, so even one thread overlapping the waits gains about
// 3x, and a server that handled one request at a time would gain nothing.
const serverGainMin = 2.0

// serverBusyMax is the largest share of the machine's CPUs other processes
// may use while the servers are measured for the figures to decide
// anything: beyond it the modes competed with strangers for the cores, and
// that, not the mode, may have decided (the ceiling keeps its quietest
// samples, the modes' figures are over all their runs).
const serverBusyMax = 0.25

// serverVerdict holds when the goroutine-per-request server served the most
// clients at least serverGainMin times as fast as one client (requests
// were handled side by side), and, over one OS thread with the most
// clients, goroutine per request reached the parallel share of the
// reachable ceiling (Ceiling.Parallel) while threads under the emulated GIL
// stayed serial (Ceiling.Serial). The reachable ceiling is the ceiling
// times goroutine per request's share of each request's CPU
// (serverFigures.reach): the clients and backend run on the same cores, so
// no server can gain the whole ceiling over one that leaves them the other
// core. The process pool's figure is reported, not judged: its messages
// cost CPU per request the other modes do not spend (about a fifth more
// for these requests), so its speed-up says as much about the request's
// size as about parallelism. A figure between the thresholds, a reachable
// ceiling under MinCeiling, or one beyond it (the one-thread baseline was
// slowed) cannot be judged, nor can any figure while other processes used
// more than serverBusyMax of the CPUs: serverInconclusive tells those
// apart.
func serverVerdict(f serverFigures) (bool, string) {
	holds, _, v := serverJudge(f)
	return holds, v
}

// serverInconclusive reports that the figures could not decide the claim.
func serverInconclusive(f serverFigures) bool {
	_, inconclusive, _ := serverJudge(f)
	return inconclusive
}

func serverJudge(f serverFigures) (holds, inconclusive bool, verdict string) {
	if len(f.Clients) < 2 {
		return false, true, "cannot show with one load: set server.clients to 4 or more, so that more clients can be compared with one"
	}
	if slices.Max(f.Clients) < 4 {
		return false, true, fmt.Sprintf("cannot show with %d clients at most: side by side, %d clients can gain at most %dx over one, too close to the noise; set server.clients to 4 or more", slices.Max(f.Clients), slices.Max(f.Clients), slices.Max(f.Clients))
	}
	for _, m := range serverModes {
		for _, n := range f.Clients {
			if f.rate(m, n) <= 0 {
				return false, false, fmt.Sprintf("%s has no throughput with %d clients", m, n)
			}
		}
	}
	nMax := slices.Max(f.Clients)
	gain := f.rate(serverGoroutines, nMax) / f.rate(serverGoroutines, 1)
	oneGain := f.rate(serverOneThread, nMax) / f.rate(serverOneThread, 1)
	judged := []string{serverGoroutines, serverGIL}
	rc := f.reachable()
	var reads []string
	for _, m := range []string{serverGoroutines, serverProcs, serverGIL} {
		reads = append(reads, fmt.Sprintf("%s %.2fx (%.0f%%)", m, f.over(m, nMax), 100*rc.Share(f.over(m, nMax))))
	}
	costs := "CPU per request not measured"
	if g, ok := f.CPU[serverGoroutines]; ok {
		costs = fmt.Sprintf("CPU per request: goroutine per request %.0f µs", 1e6*g.Server)
		for _, m := range []string{serverOneThread, serverProcs, serverGIL} {
			costs += fmt.Sprintf(", %s %.0f µs", m, 1e6*f.CPU[m].Server)
		}
		costs += fmt.Sprintf(", the clients and backend %.0f µs", 1e6*g.Clients)
	}
	seen := fmt.Sprintf("from 1 to %d clients, goroutine per request went from %.0f to %.0f requests/s (%.1fx; one OS thread %.1fx); with %d clients, over one OS thread and as a share of the %.2fx reachable ceiling (the %.2fx ceiling times %.0f%%, goroutine per request's share of each request's CPU): %s; %s; other processes used %.0f%% of the CPUs",
		nMax, f.rate(serverGoroutines, 1), f.rate(serverGoroutines, nMax), gain, oneGain, nMax, rc.Speedup, f.Ceiling.Speedup, 100*f.reach(), strings.Join(reads, ", "), costs, 100*f.Others)
	if gain < serverGainMin {
		return false, false, fmt.Sprintf("not reproduced: more clients did not get more requests served (gain under %.1fx): %s", serverGainMin, seen)
	}
	if !rc.Conclusive() {
		return false, true, "requests were served side by side, but whether in parallel cannot be told: " + strings.Replace(rc.TooLow(), "the ceiling", "the reachable ceiling", 1) + "; " + seen
	}
	if nMax < f.Saturate {
		return false, true, fmt.Sprintf("requests were served side by side, but whether in parallel cannot be told: %d clients cannot keep %d cores busy when each request waits on I/O (at least %d can); %s",
			nMax, f.Ceiling.Threads, f.Saturate, seen)
	}
	thresholds := rc.Thresholds()
	var wrong, undecided []string
	for _, m := range judged {
		x := f.over(m, nMax)
		switch {
		case rc.Beyond(x):
			undecided = append(undecided, fmt.Sprintf("%s beyond the reachable ceiling (the one-thread run was slowed)", m))
		case m == serverGIL && !rc.Serial(x):
			if rc.Parallel(x) {
				wrong = append(wrong, m+" ran in parallel")
			} else {
				undecided = append(undecided, m+" between the thresholds")
			}
		case m == serverGoroutines && !rc.Parallel(x):
			if rc.Serial(x) {
				wrong = append(wrong, m+" stayed serial")
			} else {
				undecided = append(undecided, m+" between the thresholds")
			}
		}
	}
	switch {
	case f.Others > serverBusyMax:
		read := "every mode on its expected side"
		if len(wrong)+len(undecided) > 0 {
			read = strings.Join(append(wrong, undecided...), "; ")
		}
		return false, true, fmt.Sprintf("cannot tell in this run: other processes used %.0f%% of the machine's CPUs while the servers were measured (more than %.0f%%), so the modes did not have the cores to themselves and met a busier machine than the ceiling's quietest samples; the figures read %s (%s); %s",
			100*f.Others, 100*serverBusyMax, read, thresholds, seen)
	case len(wrong) > 0:
		return false, false, fmt.Sprintf("not reproduced (%s): %s; %s", thresholds, strings.Join(wrong, "; "), seen)
	case len(undecided) > 0:
		return false, true, fmt.Sprintf("requests were served side by side, but this run cannot tell parallel from serial for every mode (%s): %s; %s", thresholds, strings.Join(undecided, "; "), seen)
	}
	return true, false, fmt.Sprintf("requests were served side by side, in parallel by goroutine per request and serially under the GIL (%s): %s", thresholds, seen)
}
