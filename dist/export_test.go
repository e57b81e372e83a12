package dist

// Decoders reached by the fuzz tests.
var (
	DecodeJob    = func(b []byte) error { _, _, _, err := decodeJobs(b); return err }
	DecodeResult = func(b []byte) error { _, err := decodeResult(b); return err }
	UnpackOutput = unpackOutput
	PackOutput   = packOutput
	LoopbackOnly = loopbackOnly
)

// Unfinished is how many jobs e has sent and still expects a result for.
func Unfinished(e *Executor) int64 { return e.unfinished.Load() }
