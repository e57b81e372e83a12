//go:build race

package lab

const raceDetector = true

func racyCount(goroutines, n int) int64 { return 0 }
