package ipc_test

import (
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
