package lab

import "time"

// The verdict functions and their figures, for verdict_test.go.
type (
	RaceFigures   = raceFigures
	LockFigures   = lockFigures
	QueueFigures  = queueFigures
	ShareFigures  = shareFigures
	SemFigures    = semFigures
	GILFigures    = gilFigures
	CPUIOFigures  = cpuIOFigures
	IPCFigures    = ipcFigures
	SpawnFigures  = spawnFigures
	CrashFigures  = crashFigures
	SwitchFigures = switchFigures
)

var (
	RaceVerdict       = raceVerdict
	LockVerdict       = lockVerdict
	QueueVerdict      = queueVerdict
	ShareVerdict      = shareVerdict
	SemVerdict        = semVerdict
	GILVerdict        = gilVerdict
	GILInconclusive   = gilInconclusive
	CPUIOVerdict      = cpuIOVerdict
	CPUIOInconclusive = cpuIOInconclusive
	IPCVerdict        = ipcVerdict
	SpawnVerdict      = spawnVerdict
	CrashVerdict      = crashVerdict
	SwitchVerdict     = switchVerdict
	SignTest          = signTest
)

// Switch modes and placements, for building SwitchFigures.
const (
	SwitchCoroutine = switchCoroutine
	SwitchGoroutine = switchGoroutine
	SwitchThread    = switchThread
	SwitchProcess   = switchProcess
	SwitchOneCPU    = switchOneCPU
	SwitchTwoCPUs   = switchTwoCPUs
)

// SetSwitch records a switch figure.
func (f *switchFigures) SetSwitch(place, mode string, ns, spread float64) {
	f.set(place, mode, ns, spread)
}

// Share modes, for building ShareFigures.
const (
	ShareThreads = shareThreads
	ShareProcs   = shareProcs
	ShareAtomic  = shareAtomic
	SharePlain   = sharePlain
	ShareMutex   = shareMutex
)

// SetSeconds records a cpu-vs-io figure.
func (f *cpuIOFigures) SetSeconds(work, mode string, w int, s float64) { f.set(work, mode, w, s) }

// RaceDetector reports a -race build.
const RaceDetector = raceDetector

// SumThreads sums [0, n) with mix^rounds on w goroutines, under an emulated
// GIL with the given switch interval when interval > 0.
func SumThreads(n uint64, w, rounds int, interval time.Duration) uint64 {
	var g *gil
	if interval > 0 {
		g = newGIL(interval, time.Now())
	}
	t, _, _ := sumThreads(n, w, rounds, g)
	return t
}

// PythonTwins maps experiments to their Python twin's script.
var PythonTwins = pythonTwins

// PythonScripts lists the embedded Python scripts.
func PythonScripts() ([]string, error) {
	ents, err := pythonFS.ReadDir("python")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}
