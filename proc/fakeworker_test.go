package proc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"crew/internal/wire"
	"crew/proc"
)

// fakeWorkerArg, as the first argument, makes the test binary the scripted
// wire-protocol worker below instead of a Go worker (see TestMain).
const fakeWorkerArg = "crew-fake-worker"

// fake is served by fakeWorker only.
var fake = proc.Declare[string, string]("fake")

// fakeWorker speaks the wire protocol as a foreign program would, and
// answers each call with its argument, except that it holds back the
// replies to "hold:..." calls and, on "die", writes the held replies and
// exits with status 3 in the same breath: replies the parent has not read
// when the worker dies, which must count as answered.
func fakeWorker() int {
	in := bufio.NewReader(os.NewFile(3, "calls"))
	out := os.NewFile(4, "replies")
	buf, _ := wire.AppendFrame(nil, &wire.Message{Kind: wire.KindHello})
	if _, err := out.Write(buf); err != nil {
		return 1
	}
	buf = buf[:0]
	for {
		body, err := wire.ReadFrame(in, wire.DefaultMaxFrame, nil)
		if err != nil {
			out.Write(buf)
			return 0
		}
		m, err := wire.Parse(body)
		if err != nil {
			return 2
		}
		var args []string
		if m.Kind != wire.KindCall || json.Unmarshal(m.Payload, &args) != nil || len(args) != 1 {
			continue
		}
		if args[0] == "die" {
			out.Write(buf)
			syscall.Exit(3)
		}
		res, _ := json.Marshal(args)
		buf, _ = wire.AppendFrame(buf, &wire.Message{Kind: wire.KindReply, ID: m.ID, Codec: wire.CodecJSON, Payload: res})
		if !strings.HasPrefix(args[0], "hold:") {
			if _, err := out.Write(buf); err != nil {
				return 1
			}
			buf = buf[:0]
		}
	}
}

// TestCrashIsolationForeignWorker runs scripts through one foreign worker
// that queues four calls behind the running one.
func TestCrashIsolationForeignWorker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := [][]string{
		{"hold:a", "hold:b", "die", "c", "d"},
		{"die", "die", "a"},
		{"hold:a", "die", "hold:b", "die", "c"},
	}
	for _, ins := range tests {
		t.Run(strings.Join(ins, ","), func(t *testing.T) {
			p := newPool(t, proc.Workers(1), proc.Prefetch(4), proc.Command(exe, fakeWorkerArg), proc.Stderr(nil))
			n := 0
			for r := range fake.MapUnordered(context.Background(), p, slices.Values(ins)) {
				n++
				var ce *proc.CrashError
				switch in := ins[r.Index]; {
				case in == "die" && (!errors.As(r.Err, &ce) || ce.ExitCode != 3):
					t.Errorf("input %d (die): %q, %v; want a crash with exit status 3", r.Index, r.Out, r.Err)
				case in != "die" && (r.Err != nil || r.Out != in):
					t.Errorf("input %d (%s): %q, %v", r.Index, in, r.Out, r.Err)
				}
			}
			if n != len(ins) {
				t.Fatalf("%d results for %d inputs", n, len(ins))
			}
		})
	}
}
