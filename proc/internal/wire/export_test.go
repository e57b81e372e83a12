package wire

// Portable makes the binary codecs take their value-by-value loops, as on
// a big-endian machine, until the returned function is called: both paths
// must write and read the same bytes.
func Portable() (restore func()) {
	old := littleEndian
	littleEndian = false
	return func() { littleEndian = old }
}
