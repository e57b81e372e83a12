package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writeResults stores a job's output under dir the way GNU parallel's
// --results does: dir/1/<arg1>/2/<arg2>/.../{seq,stdout,stderr}.
func writeResults(dir string, seq int64, args []string, out, errb *spillBuffer) error {
	p := dir
	for i, a := range args {
		p = filepath.Join(p, strconv.Itoa(i+1), resultName(a))
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return usageErr("results", err)
	}
	if err := os.WriteFile(filepath.Join(p, "seq"), []byte(strconv.FormatInt(seq, 10)+"\n"), 0o644); err != nil {
		return usageErr("results", err)
	}
	for name, b := range map[string]*spillBuffer{"stdout": out, "stderr": errb} {
		f, err := os.Create(filepath.Join(p, name))
		if err != nil {
			return usageErr("results", err)
		}
		err = b.writeTo(f, "")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return usageErr("results", err)
		}
	}
	return nil
}

// resultName makes an argument usable as one path element; GNU parallel
// writes a slash as \_ and so does crew.
func resultName(a string) string {
	a = strings.ReplaceAll(a, "\\", "\\\\")
	a = strings.ReplaceAll(a, "/", "\\_")
	switch a {
	case "", ".", "..":
		return "\\" + a
	}
	if len(a) > 255 {
		a = a[:255]
	}
	return a
}
