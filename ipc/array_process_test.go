package ipc_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/ipc"
)

// The array-add helper adds to a shared counter array, with Add and with a
// CompareAndSwap loop, alongside other processes:
//
//	array-add DIR TYPE N
//
// opens the int64 array "ctl" (element 0: helpers ready, element 1: set to
// start them) and the array "count" of TYPE, then does N Adds of 1 to
// count[1] and N CompareAndSwap increments of count[0].
func init() {
	testproc.Register("array-add", func(args []string) int {
		if err := arrayAdd(args); err != nil {
			fmt.Fprintf(os.Stderr, "array-add: %v\n", err)
			return 2
		}
		return 0
	})
}

func arrayAdd(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("want DIR TYPE N, got %q", args)
	}
	dir, typ := args[0], args[1]
	n, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	ctl, err := ipc.OpenArray[int64]("ctl", ipc.WithDir(dir))
	if err != nil {
		return err
	}
	defer ctl.Close()
	start := func() {
		ctl.Add(0, 1)
		// Spin rather than sleep: the helpers must start within
		// microseconds of each other for their loops to overlap.
		for v, _ := ctl.Load(1); v == 0; v, _ = ctl.Load(1) {
			runtime.Gosched()
		}
	}
	switch typ {
	case "int32":
		return addLoop[int32](dir, n, start)
	case "uint32":
		return addLoop[uint32](dir, n, start)
	case "int64":
		return addLoop[int64](dir, n, start)
	case "uint64":
		return addLoop[uint64](dir, n, start)
	}
	return fmt.Errorf("unknown type %q", typ)
}

func addLoop[T ipc.Number](dir string, n int, start func()) error {
	c, err := ipc.OpenArray[T]("count", ipc.WithDir(dir))
	if err != nil {
		return err
	}
	defer c.Close()
	start()
	for range n {
		if _, err := c.Add(1, 1); err != nil {
			return err
		}
		for {
			old, err := c.Load(0)
			if err != nil {
				return err
			}
			if ok, err := c.CompareAndSwap(0, old, old+1); err != nil {
				return err
			} else if ok {
				break
			}
		}
	}
	return nil
}

// Two processes adding to the same elements at once reach the exact total,
// for every element type with atomics.
func TestArrayAtomicAddAcrossProcesses(t *testing.T) {
	const procs, iters = 2, 100_000
	tests := []struct {
		typ    string
		create func(t *testing.T, dir string) (func(i int) (uint64, error), error)
	}{
		{"int32", createCounter[int32]},
		{"uint32", createCounter[uint32]},
		{"int64", createCounter[int64]},
		{"uint64", createCounter[uint64]},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			dir := t.TempDir()
			ctl, err := ipc.CreateArray[int64]("ctl", 2, ipc.WithDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			defer ctl.Close()
			load, err := tt.create(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			hs := make([]*helper, procs)
			for i := range hs {
				hs[i] = startProc(t, "array-add", dir, tt.typ, strconv.Itoa(iters))
			}
			wait.For(t, "helpers ready", func() bool { v, _ := ctl.Load(0); return v == procs })
			ctl.Store(1, 1)
			for _, h := range hs {
				h.wait(t)
			}
			for i, what := range []string{"CompareAndSwap", "Add"} {
				got, err := load(i)
				if err != nil {
					t.Fatal(err)
				}
				if want := uint64(procs * iters); got != want {
					t.Errorf("%s counter = %d, want %d (%d lost)", what, got, want, want-got)
				}
			}
		})
	}
}

// createCounter creates the 2-element "count" array of type T, closed when
// the test ends, and returns a loader of its elements.
func createCounter[T ipc.Number](t *testing.T, dir string) (func(i int) (uint64, error), error) {
	c, err := ipc.CreateArray[T]("count", 2, ipc.WithDir(dir))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return func(i int) (uint64, error) {
		v, err := c.Load(i)
		return uint64(v), err
	}, nil
}

// startProc runs the test binary as helper role with args, as startHelper
// does for the helpers of main_test.go.
func startProc(t *testing.T, role string, args ...string) *helper {
	t.Helper()
	cmd := testproc.Command(role, args...)
	// A -race binary sleeps a second on exit so that late race reports get
	// printed; the helpers' work is done by then.
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	h := &helper{role: role, cmd: cmd}
	cmd.Stderr = &h.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return h
}

// pyArray is a running testdata/shared_array.py.
type pyArray struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr strings.Builder
}

func startPython(t *testing.T, args ...string) *pyArray {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	p := &pyArray{cmd: exec.Command(py, append([]string{"testdata/shared_array.py"}, args...)...)}
	p.cmd.Stderr = &p.stderr
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewScanner(out)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// call sends one command line (none if cmd is "") and returns the words of
// the answer after its first, which must be want.
func (p *pyArray) call(t *testing.T, cmd, want string) []string {
	t.Helper()
	if cmd != "" {
		if _, err := io.WriteString(p.in, cmd+"\n"); err != nil {
			t.Fatalf("python: %v; stderr:\n%s", err, p.stderr.String())
		}
	}
	if !p.out.Scan() {
		p.cmd.Wait()
		t.Fatalf("python ended (%v) before answering %q; stderr:\n%s", p.out.Err(), cmd, p.stderr.String())
	}
	words := strings.Fields(p.out.Text())
	if len(words) == 0 || words[0] != want {
		t.Fatalf("python answered %q to %q, want %q", p.out.Text(), cmd, want)
	}
	return words[1:]
}

// quit ends Python's input, which makes it exit.
func (p *pyArray) quit(t *testing.T) {
	t.Helper()
	p.in.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("python: %v; stderr:\n%s", err, p.stderr.String())
	}
	if p.stderr.Len() > 0 {
		// The resource tracker warns here when it removes the segment.
		t.Errorf("python wrote to stderr:\n%s", p.stderr.String())
	}
}

// parseNum reads a number Python printed as a T.
func parseNum[T ipc.Number](s string) (T, error) {
	var zero T
	switch any(zero).(type) {
	case float32, float64:
		f, err := strconv.ParseFloat(s, 64)
		return T(f), err
	case uint8, uint16, uint32, uint64:
		u, err := strconv.ParseUint(s, 10, 64)
		return T(u), err
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return T(i), err
}

func checkWords[T ipc.Number](t *testing.T, what string, words []string, want []T) {
	t.Helper()
	if len(words) != len(want) {
		t.Fatalf("%s: python has %q, want %v", what, words, want)
	}
	for i, w := range words {
		v, err := parseNum[T](w)
		if err != nil || v != want[i] {
			t.Errorf("%s: python element %d = %q, want %v", what, i, w, want[i])
		}
	}
}

func join[T ipc.Number](vals []T) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, " ")
}

// pyShare has the Python process p and this one write to the same array
// in turn, each reading the other's values, while both have it mapped. With
// pyCreates Python makes the array, else Go does and Python attaches.
func pyShare[T ipc.Number](t *testing.T, p *pyArray, name string, pyCreates bool, goVals, pyVals []T) {
	var a *ipc.Array[T]
	var err error
	if pyCreates {
		hello := p.call(t, fmt.Sprintf("create %s %s %d", name, pyCode[T](), len(goVals)), "hello")
		checkWords(t, "new array", hello[2:], make([]T, len(goVals)))
		if a, err = ipc.OpenArray[T](name); err != nil {
			t.Fatal(err)
		}
	} else {
		if a, err = ipc.CreateArray[T](name, len(goVals)); err != nil {
			t.Fatal(err)
		}
		copy(a.Slice(), goVals)
		hello := p.call(t, "attach "+name, "hello")
		if hello[0] != pyCode[T]() || hello[1] != strconv.Itoa(len(goVals)) {
			t.Fatalf("python read the header as type %s, length %s", hello[0], hello[1])
		}
		checkWords(t, "Go's first write", hello[2:], goVals)
	}
	defer a.Close()
	if a.Len() != len(goVals) {
		t.Fatalf("Len = %d, want %d", a.Len(), len(goVals))
	}

	p.call(t, fmt.Sprintf("put %s %s", name, join(pyVals)), "done")
	for i, want := range pyVals {
		if got, _ := a.At(i); got != want {
			t.Errorf("Go reads element %d = %v after Python's write, want %v", i, got, want)
		}
	}
	for i, v := range goVals {
		a.Set(i, v)
	}
	checkWords(t, "Go's write", p.call(t, "get "+name, "values"), goVals)
	p.call(t, "close "+name, "closed")
}

func pyCode[T ipc.Number]() string {
	var zero T
	return map[any]string{
		int8(0): "b", uint8(0): "B", int16(0): "h", uint16(0): "H", int32(0): "i",
		uint32(0): "I", int64(0): "q", uint64(0): "Q", float32(0): "f", float64(0): "d",
	}[any(zero)]
}

// A Python process maps Arrays by name with the standard library, as the
// Array doc shows, and each side sees the other's writes; in both
// directions of creation, for every element type. One Python process
// serves every case, as Python starts slowly.
func TestArrayPython(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, p *pyArray, name string, pyCreates bool)
	}{
		{"int8", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []int8{-128, 5, 127}, []int8{1, -2, 3})
		}},
		{"uint8", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []uint8{255, 0, 7}, []uint8{1, 2, 3})
		}},
		{"int16", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []int16{-32768, 1}, []int16{32767, -1})
		}},
		{"uint16", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []uint16{65535, 1}, []uint16{2, 3})
		}},
		{"int32", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []int32{-1 << 31, 9, 1<<31 - 1}, []int32{-7, 8, 9})
		}},
		{"uint32", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []uint32{1<<32 - 1, 0}, []uint32{4, 5})
		}},
		{"int64", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []int64{-1 << 63, 1<<63 - 1, 0, 3}, []int64{1, 2, -3, 1 << 40})
		}},
		{"uint64", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []uint64{1<<64 - 1, 2}, []uint64{1 << 63, 0})
		}},
		{"float32", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []float32{1.5, -0.25}, []float32{3, 0.125})
		}},
		{"float64", func(t *testing.T, p *pyArray, name string, c bool) {
			pyShare(t, p, name, c, []float64{1.5, -1e300, 0.1}, []float64{2.5e-300, 7, -0.1})
		}},
	}
	p := startPython(t)
	var goMade, pyMade []string
	t.Cleanup(func() {
		for _, name := range append(goMade, pyMade...) {
			ipc.RemoveSegment(name)
		}
	})
	for _, tt := range tests {
		for _, by := range []string{"go-creates", "python-creates"} {
			// The default directory, /dev/shm: Python finds the array by
			// name only there.
			name := fmt.Sprintf("crew-test-%d-%s-%s", os.Getpid(), tt.name, by)
			if by == "python-creates" {
				pyMade = append(pyMade, name)
			} else {
				goMade = append(goMade, name)
			}
			t.Run(tt.name+"/"+by, func(t *testing.T) { tt.run(t, p, name, by == "python-creates") })
		}
	}
	p.quit(t)

	// Whoever made a segment decides when it goes: Python's exit must not
	// remove the ones Go made, and the ones Python made and unlinked are
	// gone.
	for _, name := range goMade {
		if err := ipc.RemoveSegment(name); err != nil {
			t.Errorf("array made by Go, after Python exited: %v", err)
		}
	}
	for _, name := range pyMade {
		if _, err := ipc.OpenSegment(name); !errors.Is(err, ipc.ErrNotExist) {
			t.Errorf("array Python made and unlinked: OpenSegment = %v", err)
		}
	}
}
