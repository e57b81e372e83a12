// Package natstest starts real NATS JetStream servers for tests: one
// in-process (always available) and, when the nats-server binary is
// installed, one external process. Each gets a random loopback port and a
// temporary store directory, and is stopped when the test ends. There is
// no mock: the tests of package cluster run against the real server.
package natstest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// A Server is a running JetStream server for one test.
type Server struct {
	// URL is the address to dial.
	URL string
	// StoreDir is the JetStream store directory.
	StoreDir string
	// Kind is "embedded" or "external".
	Kind string

	srv *server.Server
	cmd *exec.Cmd
}

// Start starts an in-process server with JetStream and stops it when t
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	opts := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: dir,
		NoSigs: true, NoLog: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("natstest: server not ready")
	}
	s := &Server{URL: srv.ClientURL(), StoreDir: dir, Kind: "embedded", srv: srv}
	t.Cleanup(s.stop)
	return s
}

// Binary returns the path of an installed nats-server: on PATH or in
// $(go env GOPATH)/bin.
func Binary() (string, bool) {
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p, true
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "nats-server")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// StartExternal starts the nats-server binary with JetStream, skipping t
// when it is not installed, and kills it when t ends.
func StartExternal(t testing.TB) *Server {
	t.Helper()
	bin, ok := Binary()
	if !ok {
		t.Skip("natstest: nats-server not installed")
	}
	dir := t.TempDir()
	ports := t.TempDir()
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", dir, "--ports_file_dir", ports)
	if err := cmd.Start(); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	s := &Server{StoreDir: dir, Kind: "external", cmd: cmd}
	t.Cleanup(s.stop)
	url, err := readPorts(ports, cmd.Process.Pid, 10*time.Second)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	s.URL = url
	return s
}

// readPorts waits for the ports file nats-server writes once listening.
func readPorts(dir string, pid int, wait time.Duration) (string, error) {
	name := filepath.Join(dir, fmt.Sprintf("nats-server_%d.ports", pid))
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(name)
		if err == nil {
			var p struct {
				Nats []string `json:"nats"`
			}
			if err := json.Unmarshal(b, &p); err == nil && len(p.Nats) > 0 {
				return p.Nats[0], nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no ports file %s after %v", name, wait)
}

// Run runs f as a subtest against an embedded server and, when the binary
// is installed, against an external one.
func Run(t *testing.T, f func(t *testing.T, s *Server)) {
	t.Run("embedded", func(t *testing.T) { f(t, Start(t)) })
	t.Run("external", func(t *testing.T) { f(t, StartExternal(t)) })
}

func (s *Server) stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	}
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}
