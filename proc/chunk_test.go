package proc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"crew/proc"
)

// mixed panics on x%3 == 1, fails with a result on x%3 == 2 and doubles
// the rest, so that a batch holds all three outcomes side by side.
var mixed = proc.Register("mixed", func(_ context.Context, x int) (int, error) {
	switch x % 3 {
	case 1:
		panic(fmt.Sprintf("mixed %d", x))
	case 2:
		return x * 100, fmt.Errorf("mixed %d", x)
	}
	return 2 * x, nil
})

// A panic fails its own input only, wherever it falls in a batch (first,
// middle, last, several in one batch): the inputs after it still run.
func TestChunkPanicIsolation(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ins := make([]int, 30)
	for i := range ins {
		ins[i] = i
	}
	for _, chunk := range []int{1, 7, 30} {
		t.Run(fmt.Sprint("chunk", chunk), func(t *testing.T) {
			seen := make([]bool, len(ins))
			for r := range mixed.MapUnordered(context.Background(), p, slices.Values(ins), proc.WithChunk(chunk)) {
				if r.Index < 0 || seen[r.Index] {
					t.Fatalf("bad or repeated result %+v", r)
				}
				seen[r.Index] = true
				x := ins[r.Index]
				want := fmt.Sprintf("mixed %d", x)
				var pe *proc.PanicError
				var re *proc.RemoteError
				switch x % 3 {
				case 0:
					if r.Err != nil || r.Out != 2*x {
						t.Errorf("input %d: %d, %v; want %d", x, r.Out, r.Err, 2*x)
					}
				case 1:
					// Out is checked too: workers reuse their output
					// slices from batch to batch.
					if !errors.As(r.Err, &pe) || pe.Value != want || r.Out != 0 {
						t.Errorf("input %d: %d, %v; want 0 and its own panic %q", x, r.Out, r.Err, want)
					}
				case 2:
					if !errors.As(r.Err, &re) || re.Msg != want {
						t.Errorf("input %d: %v, want its own error %q", x, r.Err, want)
					}
				}
			}
			if i := slices.Index(seen, false); i >= 0 {
				t.Fatalf("no result for input %d", i)
			}
		})
	}
}

// Map decodes each batch into its place in the result: the inputs before
// the first failure keep their results, and a failed input's slot holds
// the zero value, not what the function returned beside its error.
func TestMapChunkedFailure(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ins := []int{0, 3, 6, 9, 12, 15, 5, 18, 21, 4, 24}
	outs, err := mixed.Map(context.Background(), p, ins, proc.WithChunk(4))
	var re *proc.RemoteError
	if !errors.As(err, &re) || re.Msg != "mixed 5" || !errContains(err, "input 6:") {
		t.Fatalf("err = %v, want input 6's error", err)
	}
	if len(outs) != len(ins) {
		t.Fatalf("%d results for %d inputs", len(outs), len(ins))
	}
	for i, x := range ins[:6] {
		if outs[i] != 2*x {
			t.Errorf("outs[%d] = %d, want %d", i, outs[i], 2*x)
		}
	}
	if outs[6] != 0 {
		t.Errorf("failed input's result = %d, want 0", outs[6])
	}
}

// Parent and workers reuse frame buffers from batch to batch; strings and
// byte slices decoded from one must not change when the next is read into
// it.
func TestMapChunkedReusesNoResult(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	words := make([]string, 5000)
	for i := range words {
		words[i] = fmt.Sprintf("word-%d-%s", i, strings.Repeat("x", i%50))
	}
	got, err := upper.Map(context.Background(), p, words, proc.WithChunk(100))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range words {
		if got[i] != strings.ToUpper(w) {
			t.Fatalf("got[%d] = %q, want %q", i, got[i], strings.ToUpper(w))
		}
	}
	blobs := make([][]byte, 3000)
	for i := range blobs {
		blobs[i] = []byte(words[i])
	}
	rs, err := rev.Map(context.Background(), p, blobs, proc.WithChunk(64))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range rs {
		if string(b) != reverse(words[i]) {
			t.Fatalf("rs[%d] = %q, want %q", i, b, reverse(words[i]))
		}
	}
}
