package cli

import (
	"strings"
	"testing"
)

// TestLabBar drives the bar as lab.Run does and checks that it names the
// running experiment and its latest step, counts experiments and ends its
// line when the run is done.
func TestLabBar(t *testing.T) {
	var out strings.Builder
	b := newLabBar(&out, 0)
	b.step("gil", 0, 2)
	if _, err := b.Write([]byte("lab: gil: ceiling (run 1 of 3)\nlab: gil: 2 thr")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("eads (run 1 of 3)\n")); err != nil {
		t.Fatal(err)
	}
	mid := out.String()
	b.step("cpu-vs-io", 1, 2)
	b.step("", 2, 2)
	all := out.String()
	for _, want := range []string{"lab: gil", "2/2"} {
		if !strings.Contains(all, want) {
			t.Errorf("bar output lacks %q: %q", want, all)
		}
	}
	if !strings.Contains(mid, "lab: gil: 2 threads (run 1 of 3) ") || strings.Contains(mid, "2 thr ") {
		t.Errorf("a progress line split over two writes was not shown whole: %q", mid)
	}
	long := strings.Repeat("x", 200)
	b.step(long, 0, 1)
	if strings.Contains(out.String(), long[:barDescription+1]) {
		t.Errorf("a description longer than %d runes was not cut", barDescription)
	}
	if !strings.HasSuffix(all, "\n") {
		t.Errorf("the finished bar does not end its line: %q", all)
	}
}
