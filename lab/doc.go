// Package lab runs the study notes' experiments on threads, processes,
// locks and the GIL on this machine, and says for each whether the notes'
// claim holds, from the measured figures.
package lab
