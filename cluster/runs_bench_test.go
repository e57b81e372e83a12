package cluster_test

import (
	"context"
	"testing"

	"crew/cluster"
	"crew/internal/natstest"
)

// BenchmarkRuns measures what crew runs costs with 1,000 finished runs
// retained (#15 asks for under 100 ms): reading them all through a
// connected Client, and the whole command's work, which dials first.
func BenchmarkRuns(b *testing.B) {
	s := natstest.Start(b)
	ctx := context.Background()
	c, err := cluster.Dial(ctx, cluster.ConnConfig{URL: s.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := cluster.AddFinishedRuns(ctx, c, 1000, 100); err != nil {
		b.Fatal(err)
	}
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			runs, err := c.Runs(ctx)
			if err != nil || len(runs) != 1000 {
				b.Fatalf("%d runs, %v", len(runs), err)
			}
		}
	})
	b.Run("dial+read", func(b *testing.B) {
		for b.Loop() {
			c, err := cluster.Dial(ctx, cluster.ConnConfig{URL: s.URL})
			if err != nil {
				b.Fatal(err)
			}
			runs, err := c.Runs(ctx)
			if err != nil || len(runs) != 1000 {
				b.Fatalf("%d runs, %v", len(runs), err)
			}
			c.Close()
		}
	})
}
