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

// runPython runs the embedded script name with cfg.Python and decodes its
// standard output into out.
func runPython(ctx context.Context, cfg Config, name string, out any, args ...string) error {
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
