package ipc

import "unsafe"

// SetQueueHook makes every queue operation of this process call f at its
// named points ("written", "locked", "journaled" in Put, "copied" in Get), so a test can kill the
// process there. Only helper processes set it.
func SetQueueHook(f func(point string)) { testHook = f }

// Offsets in a queue file, for the fuzz targets.
const (
	QueueLockOffset  = int(unsafe.Offsetof(qheader{}.lock))
	QueueStateOffset = int(unsafe.Offsetof(qheader{}.st))
	QueueHeaderSize  = queueHeader
)
