package lab

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A mapping is one line of /proc/PID/maps: a range of virtual addresses,
// its permissions and what backs it.
type mapping struct {
	Lo, Hi uint64
	Perms  string
	Path   string
}

// readMaps parses /proc/self/maps.
func readMaps() ([]mapping, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := parseMapsLine(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMapsLine reads "lo-hi perms offset dev inode [path]"; a line it
// cannot read is reported as not ok.
func parseMapsLine(line string) (mapping, bool) {
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return mapping{}, false
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return mapping{}, false
	}
	l, err1 := strconv.ParseUint(lo, 16, 64)
	h, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || h < l || len(fields[1]) != 4 {
		return mapping{}, false
	}
	m := mapping{Lo: l, Hi: h, Perms: fields[1]}
	if len(fields) >= 6 {
		m.Path = strings.Join(fields[5:], " ")
	}
	return m, true
}

// findMapping returns the mapping holding address a.
func findMapping(maps []mapping, a uint64) (mapping, bool) {
	for _, m := range maps {
		if a >= m.Lo && a < m.Hi {
			return m, true
		}
	}
	return mapping{}, false
}

// Kinds of mapping, as the notes' diagram names the parts of a process.
const (
	kindCode   = "code"
	kindData   = "data"
	kindRodata = "read-only data"
	kindAnon   = "anonymous (Go heap arena, goroutine stacks, runtime)"
	kindStack  = "[stack] (the main thread's)"
	kindKernel = "kernel-provided ([vdso], [vvar], [vsyscall])"
	kindBrk    = "[heap] (brk, C's malloc)"
	kindFile   = "another file"
)

// mappingKind names what a mapping is, for a process whose program is exe.
func mappingKind(m mapping, exe string) string {
	switch {
	case m.Path == exe && m.Perms[2] == 'x':
		return kindCode
	case m.Path == exe && m.Perms[1] == 'w':
		return kindData
	case m.Path == exe:
		return kindRodata
	case m.Path == "":
		return kindAnon
	case m.Path == "[stack]":
		return kindStack
	case m.Path == "[heap]":
		return kindBrk
	case strings.HasPrefix(m.Path, "[v"):
		return kindKernel
	}
	return kindFile
}

// describeAddr says which mapping of maps holds a, as "code (r-xp crew)".
func describeAddr(maps []mapping, a uint64, exe string) string {
	m, ok := findMapping(maps, a)
	if !ok {
		return "not mapped"
	}
	if m.Path == "" {
		return fmt.Sprintf("%s (%s)", shortKind(mappingKind(m, exe)), m.Perms)
	}
	return fmt.Sprintf("%s (%s %s)", shortKind(mappingKind(m, exe)), m.Perms, filepath.Base(m.Path))
}

// shortKind drops a kind's explanation in parentheses.
func shortKind(k string) string {
	if i := strings.Index(k, " ("); i > 0 {
		return k[:i]
	}
	return k
}

// userSpaceTop returns the smallest power of two above every mapping in the
// lower half of the address space: the size of the user address space
// (2^47 on x86-64 with 4-level page tables). The kernel's [vsyscall] page
// sits in the upper half and is left out.
func userSpaceTop(maps []mapping) uint64 {
	var top uint64
	for _, m := range maps {
		if m.Hi <= 1<<63 {
			top = max(top, m.Hi)
		}
	}
	if top == 0 {
		return 0
	}
	return 1 << bits.Len64(top-1)
}

// virtualBits returns the "bits virtual" of /proc/cpuinfo's address sizes,
// or 0 when it does not say.
func virtualBits() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		_, v, ok := strings.Cut(line, "address sizes")
		if !ok {
			continue
		}
		_, v, _ = strings.Cut(v, ",")
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d bits virtual", &n); err == nil {
			return n
		}
	}
	return 0
}

// readWord reads the 8 bytes at address a of this process through
// /proc/self/mem, which reports an unmapped address as an error instead of
// faulting as a pointer would.
func readWord(a uint64) (int64, error) {
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf [8]byte
	if _, err := f.ReadAt(buf[:], int64(a)); err != nil {
		return 0, err
	}
	return int64(binary.NativeEndian.Uint64(buf[:])), nil
}

// statusKiB returns a field of /proc/pid/status given in kB ("VmRSS"),
// or 0 when it cannot be read.
func statusKiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n
		}
	}
	return 0
}

// fmtBytes prints a size in the largest binary unit that keeps it at 1 or
// more: "4 GiB", "1.5 GiB".
func fmtBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if n == float64(int64(n)) {
		return fmt.Sprintf("%d %s", int64(n), units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
