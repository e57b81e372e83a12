package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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
	w   *gatedWriter
	bar *progressbar.ProgressBar
}

// gatedWriter passes writes on to w until it is shut, then drops them:
// the bar's spinner goroutine (started while the number of jobs is not
// known) goes on drawing after Exit, over what crew writes next.
type gatedWriter struct {
	w    io.Writer
	shut atomic.Bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	if g.shut.Load() {
		return len(p), nil
	}
	return g.w.Write(p)
}

var _ runner.Progress = (*barProgress)(nil)

func newBarProgress(w io.Writer, eta bool) *barProgress {
	g := &gatedWriter{w: w}
	return &barProgress{w: g, bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(g),
		progressbar.OptionSetDescription("crew run"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(eta),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(g) }),
	)}
}

func (b *barProgress) Total(n int64) {
	b.mu.Lock()
	b.bar.ChangeMax64(n)
	b.mu.Unlock()
}

func (b *barProgress) Started(*runner.Job) {}

func (b *barProgress) Finished(_ *runner.Job, r runner.Result) {
	if r.Stopped {
		return // not done: the bar stays where the run stopped
	}
	b.mu.Lock()
	_ = b.bar.Add(1)
	b.mu.Unlock()
}

// finish leaves the bar on screen: full when every job ran, else (an
// interrupted or halted run) drawn once more where it stands.
func (b *barProgress) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Both end the line (OptionOnCompletion); nothing is drawn after.
	defer b.w.shut.Store(true)
	if st := b.bar.State(); st.Max > 0 && st.CurrentNum < st.Max {
		_ = b.bar.RenderBlank() // the last count, past the throttle
		_ = b.bar.Exit()
		return
	}
	_ = b.bar.Finish()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lineProgress shows --bar, --eta and --progress when standard error is
// not a terminal (a CI log, a file): GNU parallel redraws its line with
// carriage returns there too, which a log turns into one endless line;
// crew writes a whole line instead, at every tenth of the jobs when their
// number is known, at most every lineEvery otherwise, and once at the
// end. Its methods may be called from several goroutines at once.
type lineProgress struct {
	w        io.Writer
	eta, bar bool
	now      func() time.Time

	mu                     sync.Mutex
	start, last            time.Time
	total                  int64 // -1 until known
	running, done, failed  int64
	shownDone, shownTenths int64 // what the last line showed
}

// lineEvery bounds the silence of a long run whose size is unknown, or
// whose tenths come slowly.
const lineEvery = 10 * time.Second

var _ runner.Progress = (*lineProgress)(nil)

func newLineProgress(w io.Writer, eta, bar bool) *lineProgress {
	now := time.Now()
	return &lineProgress{w: w, eta: eta, bar: bar, now: time.Now, start: now, last: now, total: -1, shownDone: -1}
}

func (p *lineProgress) Total(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

func (p *lineProgress) Started(*runner.Job) {
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
}

func (p *lineProgress) Finished(_ *runner.Job, r runner.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	if r.Stopped {
		return
	}
	p.done++
	if r.Err != nil || r.Exit != 0 || r.Signal != 0 {
		p.failed++
	}
	now := p.now()
	tenths := int64(-1)
	if p.total > 0 {
		tenths = p.done * 10 / p.total
	}
	if tenths > p.shownTenths || now.Sub(p.last) >= lineEvery {
		p.line(now)
		p.shownTenths = max(tenths, p.shownTenths)
	}
}

// finish writes the last line, unless the last one written says the same.
func (p *lineProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != p.shownDone {
		p.line(p.now())
	}
}

// line writes the state as one line; p.mu is held.
func (p *lineProgress) line(now time.Time) {
	p.last, p.shownDone = now, p.done
	elapsed := now.Sub(p.start)
	var b strings.Builder
	b.WriteString("crew: ")
	if p.total >= 0 {
		pct := int64(100)
		if p.total > 0 {
			pct = p.done * 100 / p.total
		}
		if p.bar {
			const width = 20
			fill := int(pct * width / 100)
			fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", fill), strings.Repeat(".", width-fill))
		}
		fmt.Fprintf(&b, "%d/%d jobs done (%d%%)", p.done, p.total, pct)
	} else {
		fmt.Fprintf(&b, "%d jobs done", p.done)
	}
	fmt.Fprintf(&b, ", %d running, %d failed, %s elapsed", p.running, p.failed, roundDuration(elapsed))
	if p.eta && p.total >= 0 && p.done > 0 && p.done < p.total {
		left := time.Duration(float64(elapsed) / float64(p.done) * float64(p.total-p.done))
		fmt.Fprintf(&b, ", about %s left", roundDuration(left))
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(p.w, b.String())
}

// roundDuration shows a duration to a tenth of a second, or to the second
// from a minute on, which is all a progress line needs.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// progresses tells several runner.Progress the same news.
type progresses []runner.Progress

func (ps progresses) Total(n int64) {
	for _, p := range ps {
		p.Total(n)
	}
}

func (ps progresses) Started(j *runner.Job) {
	for _, p := range ps {
		p.Started(j)
	}
}

func (ps progresses) Finished(j *runner.Job, r runner.Result) {
	for _, p := range ps {
		p.Finished(j, r)
	}
}
