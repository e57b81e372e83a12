package ipc_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"crew/ipc"
)

// homeless points every default lock directory but the temporary one at
// paths that cannot be created, even by root (they lie under a regular
// file), and returns the temporary directory os.TempDir will report.
func homeless(t *testing.T) (base, tmp string) {
	t.Helper()
	base = t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(file, "run"))
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", filepath.Join(file, "home"))
	tmp = filepath.Join(base, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	return base, tmp
}

func checkOwnDir(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != fs.ModeDir|0o700 {
		t.Errorf("%s: mode %v, want drwx------", path, fi.Mode())
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
		t.Errorf("%s: owned by uid %d, want %d", path, uid, os.Getuid())
	}
}

func TestDefaultDirPrefersCacheToTemp(t *testing.T) {
	base, _ := homeless(t)
	cache := filepath.Join(base, "cache")
	t.Setenv("XDG_CACHE_HOME", cache)
	got, err := ipc.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "crew", "locks"); got != want {
		t.Fatalf("DefaultDir = %q, want %q", got, want)
	}
}

func TestDefaultDirFallsBackToTemp(t *testing.T) {
	_, tmp := homeless(t)
	base := filepath.Join(tmp, "crew-"+strconv.Itoa(os.Getuid()))
	want := filepath.Join(base, "locks")
	for _, round := range []string{"made", "found"} {
		got, err := ipc.DefaultDir()
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		if got != want {
			t.Fatalf("%s: DefaultDir = %q, want %q", round, got, want)
		}
		checkOwnDir(t, base)
		checkOwnDir(t, want)
	}
	// The library's users get the fallback without asking for it.
	s, err := ipc.NewSemaphore("s", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(want, "s.1")); err != nil {
		t.Fatalf("semaphore not in the fallback directory: %v", err)
	}
}

// A crew-<uid> directory in a shared /tmp that another user could have
// planted, or could write into, must be refused, and the error must say
// which and why.
func TestDefaultDirRefusesUnsafeTemp(t *testing.T) {
	tests := []struct {
		name  string
		root  bool // needs root to set up
		plant func(t *testing.T, path string)
		want  string
	}{
		{
			name: "owned by another user",
			root: true,
			plant: func(t *testing.T, path string) {
				mkdir(t, path, 0o700)
				if err := os.Chown(path, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			},
			want: "owned by uid 65534",
		},
		{
			name:  "world-writable",
			plant: func(t *testing.T, path string) { mkdir(t, path, 0o777) },
			want:  "writable by group or others",
		},
		{
			name:  "group-writable",
			plant: func(t *testing.T, path string) { mkdir(t, path, 0o770) },
			want:  "writable by group or others",
		},
		{
			name: "symbolic link to a private directory",
			plant: func(t *testing.T, path string) {
				target := filepath.Join(t.TempDir(), "elsewhere")
				mkdir(t, target, 0o700)
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
			},
			want: "a symbolic link",
		},
		{
			name: "regular file",
			plant: func(t *testing.T, path string) {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a directory",
		},
		{
			name: "locks inside is world-writable",
			plant: func(t *testing.T, path string) {
				mkdir(t, path, 0o700)
				mkdir(t, filepath.Join(path, "locks"), 0o777)
			},
			want: "locks: writable by group or others",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			_, tmp := homeless(t)
			path := filepath.Join(tmp, "crew-"+strconv.Itoa(os.Getuid()))
			tt.plant(t, path)
			dir, err := ipc.DefaultDir()
			if !errors.Is(err, ipc.ErrNoLockDir) {
				t.Fatalf("DefaultDir = %q, %v; want ErrNoLockDir", dir, err)
			}
			msg := err.Error()
			for _, want := range []string{"refusing " + path, tt.want, "$XDG_RUNTIME_DIR", "user cache directory"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if _, err := ipc.NewMutex("m"); !errors.Is(err, ipc.ErrNoLockDir) {
				t.Errorf("NewMutex = %v, want ErrNoLockDir", err)
			}
		})
	}
}

// Errors from below stay reachable through the ErrNoLockDir error.
func TestDefaultDirErrorUnwraps(t *testing.T) {
	base, _ := homeless(t)
	t.Setenv("TMPDIR", filepath.Join(base, "file", "tmp"))
	_, err := ipc.DefaultDir()
	if !errors.Is(err, ipc.ErrNoLockDir) || !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("DefaultDir = %v, want ErrNoLockDir wrapping ENOTDIR", err)
	}
}

// mkdir makes path with exactly mode, whatever the umask.
func mkdir(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
