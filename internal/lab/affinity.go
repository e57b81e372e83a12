package lab

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// allowedCPUs returns the CPUs this thread may run on, in order.
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// pinThread binds the calling OS thread to cpu. The caller must hold its
// thread (runtime.LockOSThread) and should exit still holding it, so that
// the runtime ends the pinned thread instead of running other goroutines on
// it.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// pinProcess binds every thread of this process to cpu, for modes whose
// goroutines the runtime moves between threads at will; threads started
// meanwhile inherit the binding from the thread that starts them. restore
// gives every thread there is by then the CPUs in allowed again.
func pinProcess(cpu int, allowed []int) (restore func(), err error) {
	var one unix.CPUSet
	one.Set(cpu)
	var all unix.CPUSet
	for _, c := range allowed {
		all.Set(c)
	}
	restore = func() { _ = setAllThreads(&all) }
	if err := setAllThreads(&one); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}

// setAllThreads applies set to every thread listed in /proc/self/task; a
// thread that ended in between is skipped.
func setAllThreads(set *unix.CPUSet) error {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	return nil
}
