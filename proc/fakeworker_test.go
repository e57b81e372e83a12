package proc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/proc"
	"crew/proc/internal/wire"
)

// fake is served by fakeWorker only.
var fake = proc.Declare[string, string]("fake")

// fakeWorker, the testproc helper "fake-worker" (see TestMain), speaks the
// wire protocol as a foreign program would, and answers each call with its
// argument, except that it holds back the replies to "hold:..." calls and,
// on "die", writes the held replies and exits with status 3 in the same
// breath: replies the parent has not read when the worker dies, which must
// count as answered. On "late" it hands its reply pipe to a helper outside
// its process group, which answers once the pool has killed the worker, and
// waits to be killed: a reply that arrives after the timeout's kill, as one
// written just before it does.
func fakeWorker([]string) int {
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
		switch args[0] {
		case "die":
			out.Write(buf)
			syscall.Exit(3)
		case "late":
			late := testproc.Command("fake-late", strconv.FormatUint(m.ID, 10), strconv.Itoa(os.Getpid()))
			late.ExtraFiles = []*os.File{out}
			late.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if late.Start() != nil {
				return 4
			}
			time.Sleep(time.Hour)
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

// fakeLate, the helper "fake-late", answers call args[0] with "late" on fd 3 once process args[1]
// is gone.
func fakeLate(args []string) int {
	id, _ := strconv.ParseUint(args[0], 10, 64)
	parent := atoi(args[1])
	if !wait.Until(10*time.Second, func() bool { return os.Getppid() != parent }) {
		return 1
	}
	frame, _ := wire.AppendFrame(nil, &wire.Message{Kind: wire.KindReply, ID: id, Codec: wire.CodecJSON, Payload: []byte(`["late"]`)})
	os.NewFile(3, "replies").Write(frame)
	return 0
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// When a task past its deadline answers as its worker is being killed, the
// worker dies under the next call, which had not timed out: it must run
// again elsewhere, not fail with ErrTimeout, and the late task keeps its
// result.
func TestTimeoutLateReplyBlamesNoInnocent(t *testing.T) {
	argv := testproc.Argv("fake-worker")
	p := newPool(t, proc.WithWorkers(1), proc.WithPrefetch(2), proc.WithTimeout(100*time.Millisecond),
		proc.WithCommand(argv[0], argv[1:]...), proc.WithStderr(nil))
	ins := []string{"late", "a", "b", "c"}
	before := p.PIDs()
	got := map[string]string{}
	for r := range fake.MapUnordered(context.Background(), p, slices.Values(ins)) {
		if r.Err != nil {
			t.Errorf("input %d (%s): %v", r.Index, ins[r.Index], r.Err)
		}
		got[ins[r.Index]] = r.Out
	}
	for _, in := range ins {
		if got[in] != in {
			t.Errorf("input %s: got %q", in, got[in])
		}
	}
	if slices.Equal(p.PIDs(), before) {
		t.Errorf("worker %v was not replaced: the timeout never fired", before)
	}
}

// TestCrashIsolationForeignWorker runs scripts through one foreign worker
// that queues four calls behind the running one.
func TestCrashIsolationForeignWorker(t *testing.T) {
	argv := testproc.Argv("fake-worker")
	tests := [][]string{
		{"hold:a", "hold:b", "die", "c", "d"},
		{"die", "die", "a"},
		{"hold:a", "die", "hold:b", "die", "c"},
	}
	for _, ins := range tests {
		t.Run(strings.Join(ins, ","), func(t *testing.T) {
			p := newPool(t, proc.WithWorkers(1), proc.WithPrefetch(4), proc.WithCommand(argv[0], argv[1:]...), proc.WithStderr(nil))
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
