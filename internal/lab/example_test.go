package lab_test

import (
	"context"
	"fmt"

	"crew/internal/lab"
)

// Example runs the notes' queue-fed worker pool, with threads and with
// processes (a row per item each), and prints the verdict.
func Example() {
	cfg := lab.Config{Params: map[string]string{"queue.work": "1ms"}}
	rep, err := lab.Run(context.Background(), cfg, "queue")
	if err != nil {
		fmt.Println(err)
		return
	}
	r := rep.Experiments[0]
	fmt.Println(r.Name, r.Holds, len(r.Rows))
	// Output: queue true 40
}
