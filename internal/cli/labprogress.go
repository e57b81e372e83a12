package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// fullNote is printed before crew lab --full runs: the notes' own sizes
// take minutes on two cores, and a user should know before waiting.
const fullNote = "crew lab --full: the notes' own sizes take a few minutes on two cores (quick sizes: crew lab without --full)"

// labBar draws crew lab's progress on a terminal: one step per
// experiment, described by the experiment's latest progress line, since
// at --full sizes one experiment runs for a minute and a still terminal
// looks hung. It is the lab.Config's Step and Progress at once.
type labBar struct {
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	name string
	part []byte // a progress line not yet ended
}

// newLabBar draws on w at most once per throttle (100 ms on a terminal;
// tests pass 0 to see every step).
func newLabBar(w io.Writer, throttle time.Duration) *labBar {
	return &labBar{bar: progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("crew lab"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(20),
		progressbar.OptionSetElapsedTime(true),
		// The experiments differ tenfold in length, so an estimate from
		// the ones done would mislead.
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

// barDescription is the most runes of description the bar shows, so that
// the bar stays on one line of an 80-column terminal: a wrapped line
// cannot be redrawn in place.
const barDescription = 36

func (b *labBar) describe(s string) {
	if r := []rune(s); len(r) > barDescription {
		s = string(r[:barDescription-1]) + "…"
	}
	b.bar.Describe(s)
}

// step is lab.Config.Step.
func (b *labBar) step(name string, i, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar.GetMax() != n {
		b.bar.ChangeMax(n)
	}
	b.name = name
	if i >= n {
		b.describe("crew lab")
		_ = b.bar.Finish()
		return
	}
	b.describe("lab: " + name)
	_ = b.bar.Set(i)
}

// Write takes lab's progress lines and shows the latest as the bar's
// description.
func (b *labBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.part = append(b.part, p...)
	for {
		i := bytes.IndexByte(b.part, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimPrefix(string(b.part[:i]), "lab: ")
		b.part = b.part[i+1:]
		if line != "" && b.name != "" {
			b.describe("lab: " + line)
		}
	}
	return len(p), nil
}
