package ipc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultDir returns the directory lock files live in when no WithDir option is
// given, creating it (0700) when missing. It is the first of these that can
// be created and written:
//
//   - $XDG_RUNTIME_DIR/crew/locks, a per-user tmpfs cleared at logout;
//   - crew/locks under os.UserCacheDir ($XDG_CACHE_HOME or ~/.cache);
//   - crew-<uid>/locks under os.TempDir, for users with no usable home,
//     such as daemons running as nobody.
//
// Anyone can create names in a shared /tmp, so a crew-<uid> found there is
// used only if it is a real directory (not a symbolic link) owned by this
// user and not writable by group or others; otherwise another user could
// read, hold or replace our locks.
//
// Processes share a lock only if they pick the same directory, which they
// do when run by the same user with the same environment; pass them the same WithDir
// otherwise. When no directory can be used, the error matches ErrNoLockDir
// and says why each was refused.
func DefaultDir() (string, error) {
	var errs []error
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if !filepath.IsAbs(d) {
			// The XDG spec tells us to ignore a relative path; say so only if
			// nothing else works either.
			errs = append(errs, fmt.Errorf("$XDG_RUNTIME_DIR %q is not absolute", d))
		} else {
			dir := filepath.Join(d, "crew", "locks")
			if err := makeLockDir(dir); err != nil {
				errs = append(errs, fmt.Errorf("$XDG_RUNTIME_DIR: %w", err))
			} else {
				return dir, nil
			}
		}
	}
	if d, err := os.UserCacheDir(); err != nil {
		errs = append(errs, fmt.Errorf("user cache directory: %w", err))
	} else {
		dir := filepath.Join(d, "crew", "locks")
		if err := makeLockDir(dir); err != nil {
			errs = append(errs, fmt.Errorf("user cache directory: %w", err))
		} else {
			return dir, nil
		}
	}
	dir, err := tempLockDir()
	if err == nil {
		return dir, nil
	}
	errs = append(errs, fmt.Errorf("temporary directory: %w", err))
	return "", &noDirError{errs: errs}
}

// makeLockDir creates dir (0700) and its missing parents, and checks that
// this process can make files in it: an existing read-only directory would
// otherwise pass here and fail at the first lock file, with no fallback.
func makeLockDir(dir string) error {
	// MkdirAll leaves existing directories alone; new ones get 0700 less the
	// umask, which can only make them stricter.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return &os.PathError{Op: "access", Path: dir, Err: err}
	}
	return nil
}

// tempLockDir returns <os.TempDir>/crew-<uid>/locks, creating both levels
// 0700 and refusing either when it is not private to this user.
func tempLockDir() (string, error) {
	uid := os.Getuid()
	base := filepath.Join(os.TempDir(), "crew-"+strconv.Itoa(uid))
	dir := filepath.Join(base, "locks")
	for _, d := range []string{base, dir} {
		// Mkdir, not MkdirAll: MkdirAll follows a symbolic link planted in
		// our place, and whether we made the directory or found it, it is
		// checked below.
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if err := checkPrivate(d, uid); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// checkPrivate refuses path unless it is a directory, not a symbolic link,
// owned by uid and writable by nobody else.
func checkPrivate(path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("refusing %s: a symbolic link", path)
	case !mode.IsDir():
		return fmt.Errorf("refusing %s: not a directory", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("refusing %s: owner unknown", path)
	}
	if int(st.Uid) != uid {
		return fmt.Errorf("refusing %s: owned by uid %d, not %d", path, st.Uid, uid)
	}
	if mode.Perm()&0o022 != 0 {
		return fmt.Errorf("refusing %s: writable by group or others (mode %v)", path, mode.Perm())
	}
	return nil
}

// noDirError lists why each default lock directory was refused.
type noDirError struct {
	errs []error
}

func (e *noDirError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return ErrNoLockDir.Error() + ": " + strings.Join(msgs, "; ")
}

func (e *noDirError) Unwrap() []error {
	return append([]error{ErrNoLockDir}, e.errs...)
}

// lockDir returns the lock directory, creating it 0700 when missing.
func (o *options) lockDir() (string, error) {
	if o.dir == "" {
		return DefaultDir()
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return "", fmt.Errorf("ipc: lock directory: %w", err)
	}
	return o.dir, nil
}
