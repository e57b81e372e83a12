package runner_test

import (
	"context"
	"os"
	"strings"

	"crew/runner"
)

// Standard input cut into blocks of two lines (4 bytes), each block the
// standard input of one wc -l, as with GNU parallel's --pipe.
func ExamplePipe() {
	_, err := runner.Run(context.Background(), runner.Config{
		Command:   []string{"wc", "-l"},
		Pipe:      &runner.Pipe{Input: strings.NewReader("a\nb\nc\nd\ne\n"), BlockSize: 4},
		Jobs:      2,
		KeepOrder: true,
		Executor:  runner.Local{},
		Stdout:    os.Stdout,
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// 2
	// 2
	// 1
}
