package lab

import (
	"time"
)

// mix is the SplitMix64 finaliser: a few multiplies and shifts the compiler
// cannot fold across a loop, so summing mix(i) costs real CPU per item where
// summing i alone would be done in tens of milliseconds.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// sumRange is the CPU-bound workload: the sum over [a, b) of i mixed rounds
// times (rounds 0 is the notes' plain sum of i).
func sumRange(a, b uint64, rounds int) uint64 {
	var t uint64
	for i := a; i < b; i++ {
		x := i
		for range rounds {
			x = mix(x)
		}
		t += x
	}
	return t
}

// gilCheckEvery is how many items a GIL-emulated worker sums between two
// looks at the drop request: tens of microseconds, far below the 5 ms
// switch interval, as CPython checks at every backward jump.
const gilCheckEvery = 4096

// sumRangeGIL is sumRange run while holding g, checking for a drop request
// every gilCheckEvery items.
func sumRangeGIL(g *gil, worker int, a, b uint64, rounds int) uint64 {
	since := g.acquire()
	var t uint64
	for lo := a; lo < b; lo += gilCheckEvery {
		t += sumRange(lo, min(lo+gilCheckEvery, b), rounds)
		since = g.check(worker, since)
	}
	g.release(worker, since)
	return t
}

// split cuts [0, n) into k contiguous parts.
func split(n uint64, k int) [][2]uint64 {
	parts := make([][2]uint64, k)
	for i := range k {
		parts[i] = [2]uint64{n * uint64(i) / uint64(k), n * uint64(i+1) / uint64(k)}
	}
	return parts
}

// span builds a timeline span from wall-clock times relative to epoch.
func span(worker int, epoch, start, end time.Time) Span {
	return Span{Worker: worker, Start: start.Sub(epoch).Seconds(), End: end.Sub(epoch).Seconds()}
}

// speedup is base/t, or 0 when t is not positive.
func speedup(base, t float64) float64 {
	if t <= 0 {
		return 0
	}
	return base / t
}
