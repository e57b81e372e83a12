package pool_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"crew/pool"
)

func Example() {
	p, err := pool.New(3)
	if err != nil {
		fmt.Println(err)
		return
	}
	var (
		mu   sync.Mutex
		seen []string
	)
	for _, name := range []string{"a.txt", "b.txt", "bad.txt", "c.txt"} {
		p.Go(func(ctx context.Context) error {
			if strings.HasPrefix(name, "bad") {
				return fmt.Errorf("%s: unreadable", name)
			}
			mu.Lock()
			seen = append(seen, name)
			mu.Unlock()
			return nil
		})
	}
	err = p.Wait() // runs everything queued, then joins the workers
	slices.Sort(seen)
	fmt.Println(seen)
	fmt.Println(err)
	// Output:
	// [a.txt b.txt c.txt]
	// bad.txt: unreadable
}

func ExampleMap() {
	p, _ := pool.New(4)
	defer p.Close()
	lengths, err := pool.Map(context.Background(), p, []string{"go", "crew", "pool"},
		func(_ context.Context, s string) (int, error) { return len(s), nil })
	fmt.Println(lengths, err)
	// Output: [2 4 4] <nil>
}

func ExampleStream() {
	p, _ := pool.New(4)
	defer p.Close()
	naturals := func(yield func(int) bool) {
		for i := 1; ; i++ { // endless: Stream pulls only what it needs
			if !yield(i) {
				return
			}
		}
	}
	half := func(_ context.Context, n int) (int, error) {
		if n%2 == 1 {
			return 0, errors.New("odd")
		}
		return n / 2, nil
	}
	for v, err := range pool.Stream(context.Background(), p, naturals, half) {
		if err != nil {
			continue
		}
		fmt.Print(v, " ")
		if v == 5 {
			break // stops the inputs and waits for calls in flight
		}
	}
	fmt.Println()
	// Output: 1 2 3 4 5
}

func ExamplePanicError() {
	p, _ := pool.New(1)
	p.Go(func(context.Context) error { panic("bad input") })
	err := p.Wait()
	var pe *pool.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	// Output: true bad input
}
