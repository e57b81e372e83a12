package ipc_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"crew/ipc"
)

// FuzzName checks that a name either is refused as bad or names a file
// directly inside the lock directory: no name may reach outside it.
func FuzzName(f *testing.F) {
	for _, s := range []string{"render", "a.b", "..", "a/../b", "", "x\x00", ".hidden", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		dir := t.TempDir()
		m, err := ipc.NewMutex(name, ipc.WithDir(dir))
		if err != nil {
			if !errors.Is(err, ipc.ErrBadName) {
				t.Fatalf("NewMutex(%q) = %v, want ErrBadName or success", name, err)
			}
			return
		}
		defer m.Close()
		if got := filepath.Dir(m.Path()); got != dir {
			t.Fatalf("NewMutex(%q) made %s, outside %s", name, m.Path(), dir)
		}
		if ok, err := m.TryLock(); !ok || err != nil {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
	})
}

// FuzzSemaphoreHeader feeds arbitrary header files to NewSemaphore: it may
// accept only a header that records the same slot count.
func FuzzSemaphoreHeader(f *testing.F) {
	for _, s := range []string{"3\n", "3", "03\n", "4\n", "\n", "-3\n", "3\n3\n", "99999999999999999999\n", " 3\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, header []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "s.sem"), header, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := ipc.NewSemaphore("s", 3, ipc.WithDir(dir))
		if err != nil {
			return
		}
		defer s.Close()
		if n, err := strconv.Atoi(string(header[:len(header)-1])); err != nil || n != 3 {
			t.Fatalf("header %q accepted for 3 slots", header)
		}
	})
}

// FuzzQueueFile feeds damaged queue files to OpenQueue and the calls
// that decode them: a damaged header, state, journal, lease table or
// message length must give an error (ErrCorrupt, ErrMismatch), never a
// panic, a hang or an out-of-range read. Three inputs overwrite a valid
// queue file of capacity 64: head from offset 0 (magic, version, capacity,
// kind), state from the mutable state on (state, journal, leases), ring
// the messages. The lock word is left clear, as a live pid in it would
// rightly make the opener wait for that process.
func FuzzQueueFile(f *testing.F) {
	dir := f.TempDir()
	seed, err := ipc.OpenQueue("seed", 64, ipc.WithDir(dir))
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	seed.Put(ctx, []byte("hello"))
	seed.Put(ctx, []byte("0123456789abcdef"))
	seed.TryGet()
	valid, err := os.ReadFile(filepath.Join(dir, "seed.queue"))
	if err != nil {
		f.Fatal(err)
	}
	seed.Detach()
	state := valid[ipc.QueueStateOffset:]
	state = bytes.TrimRight(state, "\x00")
	ring := valid[ipc.QueueHeaderSize:]
	f.Add([]byte(nil), state, ring)
	f.Add(valid[:ipc.QueueLockOffset], []byte(nil), []byte(nil))
	f.Add([]byte("crewipcr"), []byte{1}, []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, head, state, ring []byte) {
		file := append([]byte(nil), valid...)
		copy(file[:ipc.QueueLockOffset], head)
		copy(file[ipc.QueueStateOffset:ipc.QueueHeaderSize], state)
		copy(file[ipc.QueueHeaderSize:], ring)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "q.queue"), file, 0o600); err != nil {
			t.Fatal(err)
		}
		q, err := ipc.OpenQueue("q", 64, ipc.WithDir(dir))
		if err != nil {
			if !errors.Is(err, ipc.ErrCorrupt) && !errors.Is(err, ipc.ErrMismatch) {
				t.Fatalf("OpenQueue: %v, want ErrCorrupt or ErrMismatch", err)
			}
			return
		}
		defer q.Detach()
		for range 10 {
			b, err := q.TryGet()
			if err != nil {
				break
			}
			if len(b) > q.Cap() {
				t.Fatalf("got %d bytes from a %d-byte ring", len(b), q.Cap())
			}
			q.TaskDone()
		}
		q.TryPut([]byte("more"))
		q.Len()
		q.Close()
		q.TryGet()
	})
}
