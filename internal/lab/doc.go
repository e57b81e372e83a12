// Package lab runs the study notes' experiments on threads, processes,
// locks and the GIL on this machine, and says for each whether the notes'
// claim holds, from the measured figures.
//
// Each [Experiment] has a name, the claim it tests and a Run function. Run
// all of them, or some by name, with [Run]:
//
//	rep, err := lab.Run(ctx, lab.Config{Progress: os.Stderr}, "gil", "race")
//
// A [Result] holds the figures as rows, the verdict (Holds, computed from the
// figures against thresholds stated in the verdict), notes on the workload,
// charts and timelines for package report to draw. Sizes default to quick
// ones (the whole lab takes under 30 s on two cores); Config.Full selects
// the notes' sizes (a few minutes) and Config.Params overrides one
// parameter ("gil.rounds=5", see [ParseParams]).
//
// A speed-up is judged against what this machine's CPUs did in the same
// run, not against the core count: a shared VM's CPUs may run at different
// speeds or slow each other down, so 2 threads may reach only 1.3x however
// well a program runs. An experiment takes one [CeilingMeter] sample per
// round of its own modes (the same pure loop on one and on N locked OS
// threads) and judges each speed-up as a share of the resulting [Ceiling]:
// parallel from [ParallelShare] of it, serial up to [Ceiling.SerialMax],
// and inconclusive, saying so, under [MinCeiling] or when a figure lands
// between the two. The ceiling is a row of the experiment's table and
// Result.Ceiling in its JSON.
//
// Experiments that use processes run registered functions in worker
// processes that re-execute the current program, so a program using lab
// must call proc.Main first thing in main (or TestMain). Config.Python, when
// set, also runs the Python twins (embedded from python/) of these
// experiments: race, lock, gil, cpu-vs-io, join, memory and server, and
// adds their rows.
//
// The race experiment is compiled only into builds without -race: under the
// race detector it reports that it cannot run.
package lab
