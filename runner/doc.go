// Package runner is the command engine behind crew run: it runs a command
// for each input, many at once, with GNU parallel's syntax and semantics.
//
// A run is described by a Config and started with Run:
//
//	sum, err := runner.Run(ctx, runner.Config{
//		Command:  []string{"gzip", "-9", "{}"},
//		Inputs:   []runner.Input{{Values: []string{"a.log", "b.log"}}},
//		Jobs:     4,
//		Executor: runner.Local{},
//		Stdout:   os.Stdout,
//		Stderr:   os.Stderr,
//	})
//	os.Exit(sum.ExitStatus()) // the number of failed jobs, as GNU parallel
//
// Inputs flow through four stages. The inputs (":::" values, "::::" files,
// standard input) are combined as a cross product and streamed, so a
// million input lines never sit in memory at once. Each combination is
// expanded into a command line by a template ({}, {.}, {/}, {//}, {/.},
// {#}, {%}, {n}), with values shell-quoted. Jobs are scheduled on Jobs
// slots, honouring Delay, MaxLoad and MemFree. The Executor the Config
// names runs each job: Local on this machine, with its own termination
// sequence and working directory, or the executor of package cluster.
//
// A command that is a simple command with no shell syntax once expanded
// (a real shell parser decides it) is executed directly;
// anything else runs through "sh -c". That saves a shell per job, which is
// most of the cost of short jobs.
//
// Output is grouped per job by default and never interleaved; KeepOrder
// writes it in input order, holding back only jobs that finished early and
// spilling to temporary files past a memory bound. A JobLog is appended
// and synced after every job, so Resume after a crash or kill -9 runs
// exactly the jobs not yet recorded; jobs killed because the run was
// stopped (a cancelled context, Halt now) are not recorded either, so
// Resume runs them again, as GNU parallel does. Retries, Timeout and Halt
// behave as GNU parallel's --retries, --timeout and --halt. With no
// Command, the inputs are the commands.
//
// Every job runs in its own process group. Cancelling the context passed
// to Run starts no new job and signals the running jobs' groups along the
// termination sequence (TERM, 200 ms, TERM, 100 ms, TERM, 50 ms, KILL),
// so nothing a job started outlives it. A program that calls Main first
// thing in main also keeps that promise when it dies itself, even by
// kill -9: a small guard process, started with the first job, then kills
// the process groups of the jobs that were still running.
package runner
