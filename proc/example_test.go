package proc_test

import (
	"context"
	"fmt"

	"crew/proc"
)

// double is registered at package level, so the workers (this program,
// re-executed) know it too.
var double = proc.Register("double", func(_ context.Context, x int) (int, error) { return 2 * x, nil })

func Example() {
	// proc.Main() runs first in TestMain here, as it would in main.
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	y, err := double.Call(ctx, p, 21)
	fmt.Println(y, err)
	ys, err := double.Map(ctx, p, []int{1, 2, 3, 4}, proc.WithChunk(2))
	fmt.Println(ys, err)
	// Output:
	// 42 <nil>
	// [2 4 6 8] <nil>
}
