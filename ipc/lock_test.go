package ipc_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crew/ipc"
)

func newMutex(t *testing.T, dir, name string) *ipc.Mutex {
	t.Helper()
	m, err := ipc.NewMutex(name, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newSemaphore(t *testing.T, dir, name string, n int) *ipc.Semaphore {
	t.Helper()
	s, err := ipc.NewSemaphore(name, n, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustTry(t *testing.T, l interface{ TryLock() (bool, error) }, want bool) {
	t.Helper()
	ok, err := l.TryLock()
	if err != nil || ok != want {
		t.Fatalf("TryLock = %v, %v; want %v, nil", ok, err, want)
	}
}

// flock locks belong to open files, not processes: two Mutex values in one
// process must still exclude each other, and so must goroutines sharing
// one value.
func TestMutexExcludesWithinProcess(t *testing.T) {
	dir := t.TempDir()
	a, b := newMutex(t, dir, "m"), newMutex(t, dir, "m")
	other := newMutex(t, dir, "other")

	mustTry(t, a, true)
	mustTry(t, a, false) // the same value, as a second goroutine would see it
	mustTry(t, b, false)
	mustTry(t, other, true) // names are independent
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	mustTry(t, b, true)
	mustTry(t, a, false)
	if err := b.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestMutexGoroutines(t *testing.T) {
	tests := []struct {
		name   string
		shared bool // one Mutex value for all goroutines, or one each
	}{
		{"shared value", true},
		{"value each", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			shared := newMutex(t, dir, "m")
			var inside, overlaps atomic.Int32
			var wg sync.WaitGroup
			for range 4 {
				m := shared
				if !tt.shared {
					m = newMutex(t, dir, "m")
				}
				wg.Go(func() {
					for range 100 {
						if err := m.Lock(context.Background()); err != nil {
							t.Error(err)
							return
						}
						if inside.Add(1) != 1 {
							overlaps.Add(1)
						}
						time.Sleep(10 * time.Microsecond)
						inside.Add(-1)
						if err := m.Unlock(); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if n := overlaps.Load(); n > 0 {
				t.Fatalf("%d times two goroutines held the mutex at once", n)
			}
		})
	}
}

func TestLockHonoursContext(t *testing.T) {
	dir := t.TempDir()
	m := newMutex(t, dir, "m")
	s := newSemaphore(t, dir, "s", 1)
	mustTry(t, m, true)
	mustTry(t, s, true)

	tests := []struct {
		name string
		lock func(context.Context) error
	}{
		{"mutex, another value holds", newMutex(t, dir, "m").Lock},
		{"mutex, same value held by another goroutine", m.Lock},
		{"semaphore, another value holds", newSemaphore(t, dir, "s", 1).Lock},
		{"semaphore, same value holds every slot", s.Lock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- tt.lock(ctx) }()
			time.Sleep(20 * time.Millisecond) // let it start waiting; not required for correctness
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Lock = %v, want context.Canceled", err)
			}
		})
	}
	// A cancelled waiter must not have taken anything.
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(); err != nil {
		t.Fatal(err)
	}
	mustTry(t, newMutex(t, dir, "m"), true)
	mustTry(t, newSemaphore(t, dir, "s", 1), true)
}

func TestSemaphoreSlots(t *testing.T) {
	dir := t.TempDir()
	a, b := newSemaphore(t, dir, "s", 3), newSemaphore(t, dir, "s", 3)
	mustTry(t, a, true)
	mustTry(t, a, true) // one value may hold several slots
	mustTry(t, b, true)
	mustTry(t, b, false)
	mustTry(t, a, false)
	if got := a.Held(); got != 2 {
		t.Fatalf("a.Held() = %d, want 2", got)
	}
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	mustTry(t, b, true)
	for _, s := range []*ipc.Semaphore{a, b, b} {
		if err := s.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Unlock(); !errors.Is(err, ipc.ErrNotLocked) {
		t.Fatalf("Unlock of a value holding nothing = %v, want ErrNotLocked", err)
	}
	if a.Slots() != 3 || a.Name() != "s" {
		t.Fatalf("Slots, Name = %d, %q", a.Slots(), a.Name())
	}
}

func TestSemaphoreSlotCountMustAgree(t *testing.T) {
	dir := t.TempDir()
	newSemaphore(t, dir, "s", 3)
	_, err := ipc.NewSemaphore("s", 4, ipc.WithDir(dir))
	if !errors.Is(err, ipc.ErrSlots) {
		t.Fatalf("NewSemaphore with another count = %v, want ErrSlots", err)
	}
	newSemaphore(t, dir, "one", 1)
	_, err = ipc.NewSemaphore("one", 2, ipc.WithDir(dir))
	if !errors.Is(err, ipc.ErrSlots) || !strings.Contains(err.Error(), `"one" has 1 slot, not 2`) {
		t.Fatalf("NewSemaphore with another count = %v, want ErrSlots saying it has 1 slot", err)
	}
	for _, n := range []int{0, -1, 1025} {
		if _, err := ipc.NewSemaphore("bad", n, ipc.WithDir(dir)); err == nil {
			t.Errorf("NewSemaphore(n=%d) succeeded", n)
		}
	}
}

func TestCloseReleases(t *testing.T) {
	dir := t.TempDir()
	m, s := newMutex(t, dir, "m"), newSemaphore(t, dir, "s", 1)
	mustTry(t, m, true)
	mustTry(t, s, true)
	for _, c := range []interface{ Close() error }{m, s} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); !errors.Is(err, ipc.ErrClosed) {
			t.Fatalf("second Close = %v, want ErrClosed", err)
		}
	}
	mustTry(t, newMutex(t, dir, "m"), true)
	mustTry(t, newSemaphore(t, dir, "s", 1), true)
	if err := m.Lock(context.Background()); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("Lock after Close = %v, want ErrClosed", err)
	}
	if err := s.Lock(context.Background()); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("Lock after Close = %v, want ErrClosed", err)
	}
}

func TestMutexUnlockNotLocked(t *testing.T) {
	m := newMutex(t, t.TempDir(), "m")
	if err := m.Unlock(); !errors.Is(err, ipc.ErrNotLocked) {
		t.Fatalf("Unlock = %v, want ErrNotLocked", err)
	}
}

func TestPermissions(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "locks")
	newMutex(t, dir, "m")
	newSemaphore(t, dir, "s", 2)
	seg, err := ipc.CreateSegment("seg", 64, ipc.WithDir(base))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()

	want := map[string]fs.FileMode{
		filepath.Join(base, "a"):     0o700 | fs.ModeDir,
		dir:                          0o700 | fs.ModeDir,
		filepath.Join(dir, "m.lock"): 0o600,
		filepath.Join(dir, "s.sem"):  0o600,
		filepath.Join(dir, "s.0"):    0o600,
		filepath.Join(dir, "s.1"):    0o600,
		filepath.Join(base, "seg"):   0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	// Nothing else: no temporary files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("lock dir holds %d files, want 4: %v", len(entries), entries)
	}
}

func TestDefaultDir(t *testing.T) {
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	got, err := ipc.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(run, "crew", "locks"); got != want {
		t.Fatalf("DefaultDir = %q, want %q", got, want)
	}
	m, err := ipc.NewMutex("m")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !strings.HasPrefix(m.Path(), got+string(filepath.Separator)) {
		t.Fatalf("lock file %s is not in %s", m.Path(), got)
	}
	fi, err := os.Stat(got)
	if err != nil || fi.Mode() != 0o700|fs.ModeDir {
		t.Fatalf("default dir: %v, %v; want mode drwx------", fi.Mode(), err)
	}
}

func TestBadNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{"", ".", "..", "a/b", "../escape", "/abs", "nul\x00byte", strings.Repeat("x", 201)}
	open := map[string]func(string) error{
		"NewMutex": func(n string) error { _, err := ipc.NewMutex(n, ipc.WithDir(dir)); return err },
		"NewSemaphore": func(n string) error {
			_, err := ipc.NewSemaphore(n, 2, ipc.WithDir(dir))
			return err
		},
		"CreateSegment": func(n string) error { _, err := ipc.CreateSegment(n, 8, ipc.WithDir(dir)); return err },
		"OpenSegment":   func(n string) error { _, err := ipc.OpenSegment(n, ipc.WithDir(dir)); return err },
		"RemoveSegment": func(n string) error { return ipc.RemoveSegment(n, ipc.WithDir(dir)) },
	}
	for fn, f := range open {
		for _, name := range names {
			err := f(name)
			var ne *ipc.NameError
			if !errors.Is(err, ipc.ErrBadName) || !errors.As(err, &ne) || ne.Name != name {
				t.Errorf("%s(%q) = %v, want a *NameError for it", fn, name, err)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad names created files: %v", entries)
	}
	if _, err := ipc.NewMutex("m", ipc.WithDir("")); err == nil {
		t.Error("WithDir(\"\") accepted")
	}
	if _, err := ipc.NewMutex("m", ipc.WithDir(dir), ipc.WithBackoff(time.Second, time.Millisecond)); err == nil {
		t.Error("WithBackoff with max < min accepted")
	}
}
