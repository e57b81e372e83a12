package lab

// The verdict functions and their figures, for verdict_test.go.
type (
	RaceFigures = raceFigures
	LockFigures = lockFigures
)

var (
	RaceVerdict = raceVerdict
	LockVerdict = lockVerdict
)
