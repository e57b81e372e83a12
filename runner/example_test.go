package runner_test

import (
	"context"
	"fmt"
	"os"

	"crew/runner"
)

// Run a command for every combination of two input groups, four at a
// time, with the output in input order.
func Example() {
	sum, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"echo", "{1}-{2}", "job {#}"},
		Inputs: []runner.Input{
			{Values: []string{"a", "b"}},
			{Values: []string{"1", "2"}},
		},
		Jobs:      4,
		Executor:  runner.Local{},
		KeepOrder: true,
		Stdout:    os.Stdout,
	})
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println("failed:", sum.Failed, "exit status:", sum.ExitStatus())
	// Output:
	// a-1 job 1
	// a-2 job 2
	// b-1 job 3
	// b-2 job 4
	// failed: 0 exit status: 0
}

// Stop at the first failure, as --halt now,fail=1 does: the run's exit
// status becomes the failing job's own.
func ExampleHalt() {
	halt, _ := runner.ParseHalt("now,fail=1")
	sum, _ := runner.Run(context.Background(), runner.Config{
		Command:  []string{"echo {}; exit {}"},
		Inputs:   []runner.Input{{Values: []string{"0", "3", "4"}}},
		Jobs:     1,
		Executor: runner.Local{},
		Halt:     halt,
		Stdout:   os.Stdout,
	})
	fmt.Println("exit status:", sum.ExitStatus())
	// Output:
	// 0
	// 3
	// exit status: 3
}

// ExampleSelectEnv picks the variables --env names from an environment,
// to hand to Config.Env: they travel with every job, also to cluster
// workers, whose own environment lacks them.
func ExampleSelectEnv() {
	environ := []string{"HOME=/home/me", "PGHOST=db1", "PGUSER=app", "TERM=xterm"}
	env, err := runner.SelectEnv([]string{"PGHOST,PGUSER"}, environ, runner.IgnoredVarsFile())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env)
	// Output: [PGHOST=db1 PGUSER=app]
}
