package runner

// GuardEnv marks the guard process in its environment, so tests can find it.
const GuardEnv = guardEnv + "=1"

// ReadGuard and GuardRecord expose the guard's record decoder and encoder
// to the fuzz test.
var (
	ReadGuard   = readGuard
	GuardRecord = guardRecord
)

// The template parser, the direct-exec test and the -j bound are internals
// the tests check on their own.
var (
	ParseTemplate = parseTemplate
	SimpleArgv    = simpleArgv
)

const MaxJobs = jobsLimit
