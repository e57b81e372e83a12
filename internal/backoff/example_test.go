package backoff_test

import (
	"fmt"
	"time"

	"crew/internal/backoff"
)

func Example() {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for range 6 {
		fmt.Print(b.Next(), " ")
	}
	b.Reset() // the last attempt succeeded
	fmt.Println(b.Next())
	// Output: 100ms 200ms 400ms 800ms 1s 1s 100ms
}
