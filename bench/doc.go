// Package bench holds crew's benchmarks against its peers (ants, pond, conc,
// errgroup, Python's multiprocessing, xargs, GNU parallel). It is its own
// module so that crew's users never download the peers.
package bench
