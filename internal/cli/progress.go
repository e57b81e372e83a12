package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"crew/runner"
)

// barProgress shows --bar, --eta and --progress with progressbar; the
// bar is a spinner until the number of jobs is known. The finished bar
// stays on screen, as GNU parallel's does, so the user sees that every
// job ran.
type barProgress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

var _ runner.Progress = (*barProgress)(nil)

func newBarProgress(w io.Writer, eta bool) *barProgress {
	return &barProgress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("crew run"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(eta),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (b *barProgress) Total(n int64) {
	b.mu.Lock()
	b.bar.ChangeMax64(n)
	b.mu.Unlock()
}

func (b *barProgress) Started(*runner.Job) {}

func (b *barProgress) Finished(*runner.Job, runner.Result) {
	b.mu.Lock()
	_ = b.bar.Add(1)
	b.mu.Unlock()
}

func (b *barProgress) finish() {
	b.mu.Lock()
	_ = b.bar.Finish()
	b.mu.Unlock()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
