package proc_test

import (
	"context"
	"fmt"
	"time"

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

func ExampleFunc_Submit() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	fu, err := double.Submit(ctx, p, 21) // returns at once
	if err != nil {
		fmt.Println(err)
		return
	}
	<-fu.Done() // or select on it with other channels
	y, err := fu.Wait(ctx)
	fmt.Println(y, err)
	// Output: 42 <nil>
}

var greet = proc.Register("greet", func(_ context.Context, name string) (string, error) {
	return "hello, " + name, nil
})

func ExampleAsCompleted() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	// Calls of different functions, with different result types.
	n, _ := double.Submit(ctx, p, 21)
	s, _ := greet.Submit(ctx, p, "crew")
	for h := range proc.AsCompleted(ctx, n, s) {
		switch h {
		case n:
			fmt.Println(n.Wait(ctx))
		case s:
			fmt.Println(s.Wait(ctx))
		}
	}
	// Unordered output:
	// 42 <nil>
	// hello, crew <nil>
}

func ExampleWait() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	var hs []proc.Handle
	for _, x := range []int{1, 2, 3} {
		fu, _ := double.Submit(ctx, p, x)
		hs = append(hs, fu)
	}
	// Returns when a call fails, or when all are done if none does.
	done, pending, err := proc.Wait(ctx, proc.FirstError, hs...)
	fmt.Println(len(done), len(pending), err)
	// Output: 3 0 <nil>
}

func ExampleFunc_Stream() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	// Any iter.Seq, however long: inputs are taken as results are used.
	naturals := func(yield func(int) bool) {
		for i := 0; yield(i); i++ {
		}
	}
	for r := range double.Stream(ctx, p, naturals, proc.WithChunk(100)) {
		fmt.Println(r.Index, r.Out, r.Err)
		if r.Index == 2 {
			break
		}
	}
	// Output:
	// 0 0 <nil>
	// 1 2 <nil>
	// 2 4 <nil>
}

func ExampleWithProgress() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	last := 0
	progress := proc.WithProgress(func(done, total int) {
		last = done // a progress bar's Set(done) goes here
	})
	ys, err := double.Map(ctx, p, make([]int, 1000), proc.WithChunk(100), progress)
	fmt.Println(len(ys), err, last)
	// Output: 1000 <nil> 1000
}

// scale is every worker's multiplier, set by its initializer.
var scale int

var (
	setScale = proc.Register("setScale", func(_ context.Context, k int) (struct{}, error) {
		scale = k
		return struct{}{}, nil
	})
	scaled = proc.Register("scaled", func(_ context.Context, x int) (int, error) { return scale * x, nil })
)

func ExampleWithInitializerArg() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2), proc.WithInitializerArg(setScale, 10))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	fmt.Println(scaled.Map(ctx, p, []int{1, 2, 3}))
	// Output: [10 20 30] <nil>
}

func ExampleWithKillOnCancel() {
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(1), proc.WithKillOnCancel())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	fu, _ := nap.Submit(ctx, p, 60_000) // a minute, ignoring its context
	time.Sleep(100 * time.Millisecond)  // let it start
	fu.Cancel()                         // kills the worker; a new one starts
	_, err = fu.Wait(ctx)
	fmt.Println(err)
	fmt.Println(double.Call(ctx, p, 4)) // on the replacement
	// Output:
	// proc: call canceled
	// 8 <nil>
}
