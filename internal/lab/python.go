package lab

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The Python twins of the experiments: each prints one JSON document on
// standard output.
//
//go:embed python/*.py
var pythonFS embed.FS

// pythonTwins names, for each experiment that has a Python twin, its script
// in pythonFS. The package doc lists these experiments; a test keeps the
// two, the registered experiments and the embedded scripts in step.
var pythonTwins = map[string]string{
	"race":      "race.py",
	"lock":      "lock.py",
	"gil":       "gil.py",
	"cpu-vs-io": "cpuio.py",
	"join":      "join.py",
	"server":    "server.py",
	"memory":    "memory.py",
}

// runPython runs the Python twin of the experiment called exp with
// cfg.Python and decodes its standard output into out.
func runPython(ctx context.Context, cfg Config, exp string, out any, args ...string) error {
	name, ok := pythonTwins[exp]
	if !ok {
		return fmt.Errorf("lab: no python twin for %s", exp)
	}
	src, err := pythonFS.ReadFile("python/" + name)
	if err != nil {
		return fmt.Errorf("python twin %s: %w", name, err)
	}
	dir, err := os.MkdirTemp("", "crew-lab-py-")
	if err != nil {
		return fmt.Errorf("python twin: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return fmt.Errorf("python twin: %w", err)
	}
	progress(cfg, "lab: running python %s", name)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cfg.Python, append([]string{path}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("python %s: %w: %s", name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("python %s: bad output: %w", name, err)
	}
	return nil
}
