//go:build race

package proc_test

// The race detector's shadow memory counts against RLIMIT_DATA, so a
// memory-limited worker cannot even start under -race.
const raceEnabled = true
