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
	FSFigures     = fsFigures
	MemFigures    = memFigures
	PyMemory      = pyMemory
	Mapping       = mapping
)

var (
	RaceVerdict       = raceVerdict
	RaceInconclusive  = raceInconclusive
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
	FalseShareVerdict = falseShareVerdict
	MemoryVerdict     = memoryVerdict
	ParseMapsLine     = parseMapsLine
	UserSpaceTop      = userSpaceTop
	FmtBytes          = fmtBytes
)

// Mapping kinds, for building MemFigures.
const (
	KindCode = kindCode
	KindData = kindData
	KindAnon = kindAnon
)

// Falseshare modes, for building FSFigures.
const (
	FSOne    = fsOne
	FSPadded = fsPadded
	FSPacked = fsPacked
	FSAtomic = fsAtomic
)

// The join verdict and its figures, for join_test.go.
type (
	JoinFigures = joinFigures
	JoinOutcome = joinOutcome
)

var (
	JoinVerdict      = joinVerdict
	JoinInconclusive = joinInconclusive
)

// Join modes, for building JoinFigures.
const (
	JoinGoroutines      = joinGoroutines
	JoinPoolWait        = joinPoolWait
	JoinDetached        = joinDetached
	JoinProc            = joinProc
	JoinProcClose       = joinProcClose
	JoinPyThreads       = joinPyThreads
	JoinPyDaemonThreads = joinPyDaemonThreads
	JoinPyProcs         = joinPyProcs
	JoinPyDaemonProcs   = joinPyDaemonProcs
)

// JoinLog is what ParseJoinLog read: items in all and before the end
// mark, the pids, and the timeline's spans.
type JoinLog struct {
	Items, AtEnd int
	Pids         []int
	Spans        []Span
}

// ParseJoinLog parses a join record.
func ParseJoinLog(b []byte) (JoinLog, error) {
	l, err := parseJoinLog(b)
	if err != nil {
		return JoinLog{}, err
	}
	return JoinLog{Items: l.items(), AtEnd: l.atEnd, Pids: l.pids, Spans: l.spans()}, nil
}

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

// The server verdict and its figures, for server_test.go.
type (
	ServerFigures = serverFigures
	ServerPoint   = serverPoint
	ServerCPU     = serverCPU
)

var (
	ServerVerdict      = serverVerdict
	ServerInconclusive = serverInconclusive
)

// Server modes, for building ServerFigures.
const (
	ServerGoroutines = serverGoroutines
	ServerOneThread  = serverOneThread
	ServerGIL        = serverGIL
	ServerProcs      = serverProcs
)

// SetPoint records a server figure.
func (f *serverFigures) SetPoint(mode string, clients int, p serverPoint) { f.set(mode, clients, p) }
