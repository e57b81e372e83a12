package cli

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// The first SIGINT or SIGTERM cancels every command's context (MainArgs).
// The signals below are the ones some commands listen for beyond it.

// drainOnHangup returns a channel that the first SIGHUP closes (crew
// run's drain: start no new job, let the running ones finish) and a
// function that stops listening and joins the goroutine listening.
func drainOnHangup() (drain <-chan struct{}, stop func()) {
	c := make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-hup:
			close(c)
		case <-quit:
		}
	}()
	return c, func() {
		signal.Stop(hup)
		close(quit)
		<-done
	}
}

// killOnSecondSignal makes the second SIGINT or SIGTERM end crew at once,
// by that signal, for a command whose first one starts a drain that may
// last as long as its longest job (crew worker). Processes crew started
// in groups of their own are then the guard's to kill (runner.Main). It
// returns a function that stops listening and joins the goroutine
// listening.
func killOnSecondSignal() (stop func()) {
	// Each signal reaches this channel as well as MainArgs's, so both
	// count the first one, and no signal is lost between the two.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seen := 0; ; {
			select {
			case sig := <-sigs:
				if seen++; seen < 2 {
					continue
				}
				dieOf(sig.(syscall.Signal))
				return
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(quit)
		<-done
	}
}

// dieOf ends the process by sig, as if crew had never caught it, so that
// its parent sees what killed it; when sig was ignored when crew started
// (a background job of a non-interactive shell ignores SIGINT), it exits
// with the shell's status for that signal instead.
func dieOf(sig syscall.Signal) {
	signal.Reset(sig)
	if !signal.Ignored(sig) {
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second) // the signal is on its way
	}
	os.Exit(128 + int(sig))
}
