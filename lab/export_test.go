package lab

// The verdict functions and their figures, for verdict_test.go.
type (
	RaceFigures  = raceFigures
	LockFigures  = lockFigures
	QueueFigures = queueFigures
	ShareFigures = shareFigures
	SemFigures   = semFigures
	GILFigures   = gilFigures
	CPUIOFigures = cpuIOFigures
	IPCFigures   = ipcFigures
	SpawnFigures = spawnFigures
	CrashFigures = crashFigures
)

var (
	RaceVerdict  = raceVerdict
	LockVerdict  = lockVerdict
	QueueVerdict = queueVerdict
	ShareVerdict = shareVerdict
	SemVerdict   = semVerdict
	GILVerdict   = gilVerdict
	CPUIOVerdict = cpuIOVerdict
	IPCVerdict   = ipcVerdict
	SpawnVerdict = spawnVerdict
	CrashVerdict = crashVerdict
)

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
