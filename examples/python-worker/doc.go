// Package pythonworker shows a crew proc worker written in Python 3
// (worker.py): any program that speaks the wire protocol documented in
// package proc can serve a Pool started with proc.WithCommand.
package pythonworker
