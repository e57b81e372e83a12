package cli

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestStderrSerialized: job output, progress lines and the runner's own
// messages reach a caller's standard error from several goroutines; a
// plain buffer must see them one at a time (the race detector says when
// not) and lose none of them.
func TestStderrSerialized(t *testing.T) {
	args := []string{"run", "--progress", "-j4", "echo e{} >&2; exit $(( {} % 7 == 0 ))", ":::"}
	const n = 40
	for i := 1; i <= n; i++ {
		args = append(args, strconv.Itoa(i))
	}
	var out, errb bytes.Buffer
	code := MainArgs(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != n/7 {
		t.Errorf("exit %d, want %d", code, n/7)
	}
	for i := 1; i <= n; i++ {
		if !strings.Contains(errb.String(), "e"+strconv.Itoa(i)+"\n") {
			t.Errorf("stderr lacks job %d's line:\n%s", i, errb.String())
		}
	}
	if !strings.Contains(errb.String(), "40/40 jobs done") {
		t.Errorf("stderr lacks the last progress line:\n%s", errb.String())
	}
}
