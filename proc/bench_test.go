package proc_test

import (
	"context"
	"testing"

	"crew/proc"
)

// BenchmarkMapChunked maps add1 over 1M ints in chunks of 1000 on two
// workers: the shape of the VsPython "chunk 1000" row, small enough to
// repeat. tasks/s is the figure to compare; ns/op is one whole Map.
func BenchmarkMapChunked(b *testing.B) {
	const n = 1_000_000
	p, err := proc.New(context.Background(), proc.WithWorkers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ins := make([]int, n)
	for i := range ins {
		ins[i] = i
	}
	ctx := context.Background()
	if _, err := add1.Map(ctx, p, ins[:1000], proc.WithChunk(1000)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := add1.Map(ctx, p, ins, proc.WithChunk(1000))
		if err != nil {
			b.Fatal(err)
		}
		if out[0] != 1 || out[n-1] != n {
			b.Fatalf("out[0], out[%d] = %d, %d", n-1, out[0], out[n-1])
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tasks/s")
}
