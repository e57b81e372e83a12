package cluster

// Files that travel with jobs through the object store (crew run
// --transferfile, --return, --basefile, --cleanup, --workdir): the
// submitter's side uploads and writes back, the worker's side places,
// collects and cleans up. The wire format is in protocol.go.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"crew/runner"
)

// jobFiles is what travels with a job that names files (see the protocol).
type jobFiles struct {
	Transfer []fileRef `json:"transfer,omitempty"`
	Base     []fileRef `json:"base,omitempty"`
	Return   []string  `json:"return,omitempty"`
	Cleanup  bool      `json:"cleanup,omitempty"`
	WorkDir  string    `json:"workdir,omitempty"`
}

// fileRef is one file in the object store and where it goes, or came
// from, where the job runs.
type fileRef struct {
	Path   string `json:"path"`
	Object string `json:"object"`
	Mode   uint32 `json:"mode,omitempty"`
}

// fileObjectPrefix starts the names of transferred files' objects, which
// are named by their content (SHA-256): a file many jobs need, or that
// two runs send, is stored once.
const fileObjectPrefix = "file."

// splitPath reads a --transferfile or --return path as GNU parallel does
// (rsync's -R): in "dir/./rest" the file is dir/rest here and rest,
// relative to the work dir, where the job runs; any other path is the
// same on both sides, a relative one relative to crew's directory here
// and to the work dir there.
func splitPath(p string) (here, there string) {
	if i := strings.Index(p, "/./"); i >= 0 {
		return filepath.Clean(p[:i] + "/" + p[i+3:]), filepath.Clean(p[i+3:])
	}
	return filepath.Clean(p), filepath.Clean(p)
}

// uploads remembers the files an Executor has stored, so a file is
// hashed and uploaded once per run however many jobs name it.
type uploads struct {
	mu   sync.Mutex
	refs map[string]fileRef // by path here and its size and mtime
}

// encodeFiles uploads the files a job sends and returns what its message
// carries; nil for a job without files. A file that cannot be read fails
// the job before it is queued: the error names the flag and the file.
func (e *Executor) encodeFiles(ctx context.Context, f *runner.Files) (*jobFiles, error) {
	if f == nil {
		return nil, nil
	}
	m := &jobFiles{Cleanup: f.Cleanup, WorkDir: f.WorkDir}
	if m.WorkDir == "." {
		// GNU parallel's ".": this directory, as a path under the home
		// directory when it is one, so it means the same on a worker
		// whose home is elsewhere.
		m.WorkDir = homeRelativeCwd()
	}
	for _, p := range f.Transfer {
		ref, err := e.upload(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("--transferfile %s: %w", p, err)
		}
		m.Transfer = append(m.Transfer, ref)
	}
	for _, p := range f.Base {
		ref, err := e.upload(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("--basefile %s: %w", p, err)
		}
		m.Base = append(m.Base, ref)
	}
	for _, p := range f.Return {
		_, there := splitPath(p)
		m.Return = append(m.Return, there)
	}
	return m, nil
}

func homeRelativeCwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	if home, err := os.UserHomeDir(); err == nil {
		if rel, err := filepath.Rel(home, wd); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.Join("~", rel)
		}
	}
	return wd
}

// upload stores the file at path p (see splitPath) under its content's
// name, unless this run or an earlier one stored it already.
func (e *Executor) upload(ctx context.Context, p string) (fileRef, error) {
	here, there := splitPath(p)
	fi, err := os.Stat(here)
	if err != nil {
		return fileRef{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileRef{}, errors.New("not a regular file (only files travel, not directories)")
	}
	id := here + "\x00" + strconv.FormatInt(fi.Size(), 10) + "\x00" + fi.ModTime().String()
	e.files.mu.Lock()
	ref, ok := e.files.refs[id]
	e.files.mu.Unlock()
	if ok {
		ref.Path = there
		return ref, nil
	}
	f, err := os.Open(here)
	if err != nil {
		return fileRef{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fileRef{}, err
	}
	ref = fileRef{Path: there, Object: fileObjectPrefix + hex.EncodeToString(h.Sum(nil)), Mode: uint32(fi.Mode().Perm())}
	if _, err := e.sp.output.GetInfo(ctx, ref.Object); err != nil {
		err := withRetries(ctx, func() error {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			_, err := e.sp.output.Put(ctx, jetstream.ObjectMeta{Name: ref.Object}, f)
			return err
		})
		if err != nil {
			return fileRef{}, fmt.Errorf("store: %w", err)
		}
	}
	e.files.mu.Lock()
	if e.files.refs == nil {
		e.files.refs = map[string]fileRef{}
	}
	e.files.refs[id] = ref
	e.files.mu.Unlock()
	return ref, nil
}

// writeBack writes the files a job returned to their paths here (see
// splitPath), creating directories as needed, and deletes their objects.
// Each file is written whole or not at all.
func (e *Executor) writeBack(ctx context.Context, f *runner.Files, got []fileRef) error {
	var errs []error
	for i, ref := range got {
		if f == nil || i >= len(f.Return) {
			break
		}
		if ref.Object == "" {
			continue // not there; the worker said so
		}
		here, _ := splitPath(f.Return[i])
		if err := fetchObject(ctx, e.sp, ref, here); err != nil {
			errs = append(errs, fmt.Errorf("--return %s: %w", f.Return[i], err))
		}
		_ = e.sp.output.Delete(ctx, ref.Object)
	}
	return errors.Join(errs...)
}

// objectTries bounds the attempts to move one file to or from the object
// store: a busy server may time one out.
const objectTries = 3

// withRetries calls f until it succeeds, up to objectTries times, with
// the cluster's back-off between tries.
func withRetries(ctx context.Context, f func() error) error {
	retry := retryBackoff()
	for i := 1; ; i++ {
		err := f()
		if err == nil || i == objectTries || ctx.Err() != nil || retry.Sleep(ctx) != nil {
			return err
		}
	}
}

// fetchObject writes object ref to path (see writeWhole), retrying.
func fetchObject(ctx context.Context, sp *space, ref fileRef, path string) error {
	return withRetries(ctx, func() error { return fetchOnce(ctx, sp, ref, path) })
}

func fetchOnce(ctx context.Context, sp *space, ref fileRef, path string) error {
	r, err := sp.output.Get(ctx, ref.Object)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", ref.Object, err)
	}
	defer r.Close()
	return writeWhole(path, ref.Mode, r)
}

// writeWhole writes r to path with mode's permission bits (0644 for
// none), creating its directory if needed, through a temporary file in
// that directory renamed into place: path is whole or untouched.
func writeWhole(path string, mode uint32, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".crew-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, r)
	if err == nil {
		perm := fs.FileMode(mode).Perm()
		if perm == 0 {
			perm = 0o644
		}
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// A fileCache holds a worker's copies of the base files of jobs, by
// object name (their content), in a directory of its own that close
// removes. Its zero value is ready to use; it is safe for concurrent use.
type fileCache struct {
	mu    sync.Mutex
	dir   string
	files map[string]*cachedFile
}

// A cachedFile is one object being fetched (ready open) or fetched.
type cachedFile struct {
	ready chan struct{}
	path  string
	err   error
}

// get returns the path of ref's cached copy, fetching it first if no
// other job has; jobs that want it meanwhile wait for that fetch.
func (c *fileCache) get(ctx context.Context, sp *space, ref fileRef) (string, error) {
	c.mu.Lock()
	if c.dir == "" {
		d, err := os.MkdirTemp("", "crew-basefiles-")
		if err != nil {
			c.mu.Unlock()
			return "", err
		}
		c.dir, c.files = d, map[string]*cachedFile{}
	}
	f, ok := c.files[ref.Object]
	if ok {
		c.mu.Unlock()
		select {
		case <-f.ready:
			return f.path, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f = &cachedFile{ready: make(chan struct{}), path: filepath.Join(c.dir, ref.Object)}
	c.files[ref.Object] = f
	c.mu.Unlock()
	if f.err = fetchObject(ctx, sp, ref, f.path); f.err != nil {
		c.mu.Lock()
		delete(c.files, ref.Object) // the next job tries again
		c.mu.Unlock()
	}
	close(f.ready)
	return f.path, f.err
}

// close removes the cached files.
func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
		c.dir, c.files = "", nil
	}
}

// copyFile copies src to dst with mode's permission bits, through a
// temporary file renamed into place.
func copyFile(src, dst string, mode uint32) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeWhole(dst, mode, in)
}

// A jobDir is where a worker runs a job that names files or a work dir.
type jobDir struct {
	dir    string   // the job's working directory
	fresh  bool     // made for this job alone: cleanup removes it whole
	placed []string // files put there for the job, absolute
}

// freshDir makes the work dir of a job that names files but no
// --workdir, or --workdir ...: in the system's temporary directory, as
// runner.Local does for "...".
func freshDir() (string, error) { return os.MkdirTemp("", "crew-wd-") }

// placeFiles prepares job m's working directory: made if missing (a fresh
// one when the job names none or "..."), then its base and transferred
// files fetched into it. A relative work dir is relative to the worker's
// own directory.
func (w *Worker) placeFiles(ctx context.Context, m *jobMsg) (*jobDir, error) {
	f := m.Files
	jd := &jobDir{}
	switch wd := f.WorkDir; {
	case wd == "" || wd == runner.UniqueWorkDir:
		d, err := freshDir()
		if err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
		jd.dir, jd.fresh = d, true
	default:
		if wd == "~" || strings.HasPrefix(wd, "~/") {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("work dir %s: %w", wd, err)
			}
			wd = filepath.Join(home, wd[1:])
		}
		if err := os.MkdirAll(wd, 0o755); err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
		jd.dir = wd
	}
	var err error
	for _, ref := range f.Base {
		// Every job needs the base files: the worker fetches each once
		// and copies it into each job's directory.
		var src string
		if src, err = w.files.get(ctx, w.sp, ref); err == nil {
			err = copyFile(src, jd.path(ref.Path), ref.Mode)
		}
		if err != nil {
			err = fmt.Errorf("--basefile %s: %w", ref.Path, err)
			break
		}
		jd.placed = append(jd.placed, jd.path(ref.Path))
	}
	for _, ref := range f.Transfer {
		if err != nil {
			break
		}
		if err = fetchObject(ctx, w.sp, ref, jd.path(ref.Path)); err != nil {
			err = fmt.Errorf("--transferfile %s: %w", ref.Path, err)
			break
		}
		jd.placed = append(jd.placed, jd.path(ref.Path))
	}
	if err != nil {
		w.cleanFiles(jd)
		return nil, err
	}
	return jd, nil
}

// path is where a file named p (relative or absolute) is for the job.
func (jd *jobDir) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(jd.dir, p)
}

// collectFiles uploads the files job m asked back (--return) and returns
// their references in m's order. A file the job did not create is an
// error naming it; the others still travel.
func (w *Worker) collectFiles(ctx context.Context, m *jobMsg, jd *jobDir) ([]fileRef, error) {
	var refs []fileRef
	var missing []string
	for i, p := range m.Files.Return {
		src := jd.path(p)
		fi, err := os.Stat(src)
		if err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, p)
			refs = append(refs, fileRef{Path: p})
			continue
		}
		f, err := os.Open(src)
		if err != nil {
			return refs, fmt.Errorf("--return %s: %w", p, err)
		}
		obj := "ret." + m.Key + "." + strconv.Itoa(i) + "." + nuid.Next()
		err = withRetries(ctx, func() error {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			_, err := w.sp.output.Put(ctx, jetstream.ObjectMeta{Name: obj}, f)
			return err
		})
		f.Close()
		if err != nil {
			return refs, fmt.Errorf("--return %s: store: %w", p, err)
		}
		refs = append(refs, fileRef{Path: p, Object: obj, Mode: uint32(fi.Mode().Perm())})
		if m.Files.Cleanup {
			jd.placed = append(jd.placed, src)
		}
	}
	if len(missing) > 0 {
		return refs, fmt.Errorf("--return %s: job %d did not create it in %s", strings.Join(missing, ", "), m.Seq, jd.dir)
	}
	return refs, nil
}

// cleanFiles removes what --cleanup removes: a fresh work dir whole, or
// else the files placed or returned, and the directories that held them
// once empty (up to the work dir, which stays).
func (w *Worker) cleanFiles(jd *jobDir) {
	if jd.fresh {
		_ = os.RemoveAll(jd.dir)
		return
	}
	for _, p := range jd.placed {
		_ = os.Remove(p)
		for d := filepath.Dir(p); strings.HasPrefix(d, jd.dir+string(filepath.Separator)); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
}
