package ipc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"crew/internal/testproc"
	"crew/ipc"
)

// The queue benchmark's helper processes take: dir, queue name, ring
// capacity, then their own arguments. Each says "ready" once the queue is
// open and, where it waits for a start signal, reads a line from stdin.
func init() {
	testproc.Register("queue-producer", func(args []string) int {
		return queueRole(args, func(q *ipc.Queue, a []int) error {
			item := make([]byte, a[0])
			fmt.Println("ready")
			if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
				return err
			}
			for range a[1] {
				if err := q.Put(context.Background(), item); err != nil {
					return err
				}
			}
			return nil
		})
	})
	testproc.Register("queue-consumer", func(args []string) int {
		return queueRole(args, func(q *ipc.Queue, a []int) error {
			fmt.Println("ready")
			var buf []byte
			for range a[0] {
				var err error
				if a[1] == 1 {
					buf, err = q.GetAppend(context.Background(), buf[:0])
				} else {
					_, err = q.Get(context.Background())
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	testproc.Register("queue-worker", func(args []string) int {
		return queueRole(args, func(q *ipc.Queue, _ []int) error {
			fmt.Println("ready")
			for {
				_, err := q.Get(context.Background())
				if errors.Is(err, ipc.ErrClosed) {
					return nil
				}
				if err != nil {
					return err
				}
				if err := q.TaskDone(); err != nil {
					return err
				}
			}
		})
	})
}

func queueRole(args []string, fn func(q *ipc.Queue, a []int) error) int {
	capacity, _ := strconv.Atoi(args[2])
	q, err := ipc.OpenQueue(args[1], capacity, ipc.WithDir(args[0]))
	if err == nil {
		var a []int
		for _, s := range args[3:] {
			n, _ := strconv.Atoi(s)
			a = append(a, n)
		}
		err = fn(q, a)
		q.Detach()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// queueProc is a running helper with its stdin.
type queueProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startQueueProc(b *testing.B, env []string, role string, args ...string) *queueProc {
	b.Helper()
	cmd := testproc.Command(role, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("%s said %q", role, line)
	}
	return &queueProc{cmd: cmd, stdin: stdin}
}

func (p *queueProc) wait(b *testing.B) {
	b.Helper()
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		b.Fatalf("helper: %v", err)
	}
}

// queueCapacity is the ring for size-byte items: 1 MiB, or 64 items.
func queueCapacity(size int) int { return max(1<<20, 64*(size+8)) }

// crewP2P is one producer process putting n items of size bytes and one
// consumer process getting them, in items per second, timed from the
// producer's start signal to the consumer's exit, as pyqueue.py does.
func crewP2P(b *testing.B, size, n int, reuse bool, consumerEnv []string) float64 {
	dir := b.TempDir()
	capacity := strconv.Itoa(queueCapacity(size))
	q, err := ipc.OpenQueue("q", queueCapacity(size), ipc.WithDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer q.Detach()
	c := startQueueProc(b, consumerEnv, "queue-consumer", dir, "q", capacity, strconv.Itoa(n), strconv.Itoa(boolInt(reuse)))
	p := startQueueProc(b, nil, "queue-producer", dir, "q", capacity, strconv.Itoa(size), strconv.Itoa(n))
	t := time.Now()
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		b.Fatal(err)
	}
	c.wait(b)
	d := time.Since(t)
	p.wait(b)
	return float64(n) / d.Seconds()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// crewJoinable is this process putting n 8-byte items, two worker
// processes getting and marking them done, and Join, in items per second.
func crewJoinable(b *testing.B, n int) float64 {
	dir := b.TempDir()
	const capacity = 1 << 20
	q, err := ipc.OpenQueue("q", capacity, ipc.WithDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer q.Detach()
	var ws []*queueProc
	for range 2 {
		ws = append(ws, startQueueProc(b, nil, "queue-worker", dir, "q", strconv.Itoa(capacity)))
	}
	ctx := context.Background()
	item := make([]byte, 8)
	t := time.Now()
	for range n {
		if err := q.Put(ctx, item); err != nil {
			b.Fatal(err)
		}
	}
	if err := q.Join(ctx); err != nil {
		b.Fatal(err)
	}
	d := time.Since(t)
	q.Close()
	for _, w := range ws {
		w.wait(b)
	}
	return float64(n) / d.Seconds()
}

func pyQueue(b *testing.B, args ...string) float64 {
	b.Helper()
	out, err := exec.Command("python3", append([]string{"pyqueue.py"}, args...)...).Output()
	if err != nil {
		b.Fatalf("python3 pyqueue.py %v: %v", args, err)
	}
	var r struct{ Rate float64 }
	if err := json.Unmarshal(out, &r); err != nil || r.Rate <= 0 {
		b.Fatalf("python3 pyqueue.py %v said %q: %v", args, out, err)
	}
	return r.Rate
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// BenchmarkQueueVsPython prints ipc.Queue against Python's
// multiprocessing.Queue and JoinableQueue, measured in the same run, each
// the median of three rounds taken in turn. Run it with -benchtime 1x:
//
//	cd bench && go test -run '^$' -bench QueueVsPython -benchtime 1x ./ipc/
func BenchmarkQueueVsPython(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 not installed")
	}
	rows := []struct {
		name   string
		size   int // 0: the joinable pattern
		reuse  bool
		env    []string // the consumer's extra environment
		n, pyN int
		target float64
	}{
		{"1 producer -> 1 consumer, 8 B", 8, false, nil, 1_000_000, 100_000, 10},
		{"1 producer -> 1 consumer, 1 KiB", 1024, false, nil, 500_000, 100_000, 10},
		{"  the same, consumer uses GetAppend", 1024, true, nil, 500_000, 100_000, 10},
		{"1 producer -> 1 consumer, 64 KiB", 64 << 10, false, nil, 40_000, 10_000, 2},
		{"  the same, consumer with GOGC=400", 64 << 10, false, []string{"GOGC=400"}, 40_000, 10_000, 2},
		{"  the same, consumer uses GetAppend", 64 << 10, true, nil, 40_000, 10_000, 2},
		{"joinable: put, 2 workers get+task_done", 0, false, nil, 1_000_000, 100_000, 10},
	}
	const rounds = 3
	for b.Loop() {
		fmt.Printf("%-42s %14s %14s %8s %7s\n", "items/s, median of 3", "ipc.Queue", "python", "ratio", "target")
		pyP2P := map[int]float64{}
		for _, r := range rows {
			var crew, py []float64
			for range rounds {
				if r.size == 0 {
					crew = append(crew, crewJoinable(b, r.n))
					py = append(py, pyQueue(b, "joinable", strconv.Itoa(r.pyN)))
					continue
				}
				crew = append(crew, crewP2P(b, r.size, r.n, r.reuse, r.env))
				if _, ok := pyP2P[r.size]; !ok {
					py = append(py, pyQueue(b, "p2p", strconv.Itoa(r.size), strconv.Itoa(r.pyN)))
				}
			}
			c := median(crew)
			p, ok := pyP2P[r.size]
			if !ok {
				p = median(py)
				pyP2P[r.size] = p
			}
			fmt.Printf("%-42s %14.0f %14.0f %7.1fx %6.0fx\n", r.name, c, p, c/p, r.target)
		}
	}
}
