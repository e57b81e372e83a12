package lab

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"crew/proc"
)

var memoryParams = []Param{{"goroutines", ParamInt}}

var memoryExperiment = Experiment{
	Name: "memory",
	Claim: "Threads of one process share its code, data and heap, and each has a stack of its own; processes have separate address spaces (4 GB each on 32 bits), " +
		"so one virtual address holds different values in two processes and a child's writes stay in the child.",
	Run:    runMemory,
	Params: memoryParams,
}

// memProbe is a package variable with a value in the program file, so it
// lives in the binary's data segment, at the same address in every process
// running this (position-dependent) binary.
var memProbe int64 = 0x5eed

// memProbeInit is memProbe's value in the program file.
const memProbeInit = 0x5eed

// memFigures are what the memory verdict is computed from.
type memFigures struct {
	// SawWrite: a goroutine read, at the same address, the value another
	// goroutine wrote into a heap object, and the writer read its reply.
	SawWrite bool
	// Goroutines ran at once; Stacks is how many distinct addresses their
	// locals had.
	Goroutines, Stacks int
	// CodeKind, DataKind and HeapKind name the mappings holding a function,
	// memProbe and a heap object.
	CodeKind, DataKind, HeapKind string

	// ProbeSameAddr: the child's memProbe is at the parent's address.
	ProbeSameAddr bool
	// ParentValue is what the parent stored in memProbe before starting
	// the child; ChildSaw what the child read there; ParentAfter what the
	// parent read after the child had stored ChildWrote.
	ParentValue, ChildSaw, ChildWrote, ParentAfter int64
	// HeapInChild: the parent's heap object's address is mapped in the
	// child too; ChildHeapValue is what the child read there, against
	// HeapValue in the parent.
	HeapInChild               bool
	HeapValue, ChildHeapValue int64

	// UserSpace is the size of this process's address space, in bytes.
	UserSpace uint64

	// Py is what the Python twin saw; nil when it did not run.
	Py *pyMemory
}

// pyMemory is the Python twin's output: a ctypes int64 at Addr in the
// parent, and what a forked child found at its own copy.
type pyMemory struct {
	PID         int    `json:"pid"`
	Addr        uint64 `json:"addr"`
	ParentValue int64  `json:"parent_value"`
	ThreadAddr  uint64 `json:"thread_addr"`
	SharedAddr  uint64 `json:"shared_addr"`
	ThreadSaw   int64  `json:"thread_saw"`
	Child       struct {
		PID           int    `json:"pid"`
		Addr          uint64 `json:"addr"`
		Before, After int64
	} `json:"child"`
	ParentAfter int64 `json:"parent_after"`
}

// memTask asks a worker process what it holds at the parent's addresses.
type memTask struct {
	HeapAddr uint64
	Write    int64
}

// memOut is what a worker process found.
type memOut struct {
	PID                     int
	ProbeAddr               uint64
	ProbeBefore, ProbeAfter int64
	ProbeWhere              string
	HeapMapped              bool
	HeapValue               int64
	HeapWhere               string
}

var procMemory = proc.Register("lab.memory", func(ctx context.Context, in memTask) (memOut, error) {
	exe, _ := os.Executable()
	maps, err := readMaps()
	if err != nil {
		return memOut{}, err
	}
	out := memOut{PID: os.Getpid(), ProbeAddr: addrOf(&memProbe), ProbeBefore: memProbe}
	out.ProbeWhere = describeAddr(maps, out.ProbeAddr, exe)
	memProbe = in.Write
	out.ProbeAfter = memProbe
	out.HeapWhere = describeAddr(maps, in.HeapAddr, exe)
	if m, ok := findMapping(maps, in.HeapAddr); ok && m.Perms[0] == 'r' {
		if v, err := readWord(in.HeapAddr); err == nil {
			out.HeapMapped, out.HeapValue = true, v
		}
	}
	return out, nil
})

// addrOf returns p's address as a number, for printing and comparing.
func addrOf[T any](p *T) uint64 { return uint64(uintptr(unsafe.Pointer(p))) }

func runMemory(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("memory", memoryParams, cfg)
	nG := p.Int("goroutines", 4, 16)
	if p.err != nil {
		return nil, p.err
	}
	if nG < 2 {
		return nil, fmt.Errorf("parameter goroutines=%d: want at least 2", nG)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	res := &Result{
		Columns: []string{"what", "process", "address", "mapping", "value", "size"},
		Params:  p.used,
	}
	var fig memFigures
	self := fmt.Sprintf("parent %d", os.Getpid())
	row := func(what, process string, addr uint64, where string, value any) Row {
		r := Row{"what": what, "process": process, "mapping": where}
		if addr != 0 {
			r["address"] = fmt.Sprintf("%#x", addr)
		}
		if value != nil {
			r["value"] = value
		}
		res.Rows = append(res.Rows, r)
		return r
	}

	// One process: where its code, data and heap are, and what its
	// goroutines share.
	heapObj := new(int64)
	*heapObj = 0x4ea9_0000 + int64(os.Getpid())
	parentValue := 0x9a4e_0000 + int64(os.Getpid())
	memProbe = parentValue
	defer func() { memProbe = memProbeInit }()
	codeAddr := uint64(reflect.ValueOf(runMemory).Pointer())
	shared, stacks := goroutineAddrs(nG)
	maps, err := readMaps()
	if err != nil {
		return nil, err
	}
	kindAt := func(a uint64) string {
		if m, ok := findMapping(maps, a); ok {
			return mappingKind(m, exe)
		}
		return "not mapped"
	}
	fig.CodeKind, fig.DataKind, fig.HeapKind = kindAt(codeAddr), kindAt(addrOf(&memProbe)), kindAt(addrOf(heapObj))
	row("code: the function runMemory", self, codeAddr, describeAddr(maps, codeAddr, exe), nil)
	row("data: the package variable memProbe", self, addrOf(&memProbe), describeAddr(maps, addrOf(&memProbe), exe), fmt.Sprintf("%#x", parentValue))
	row("heap: an object from new(int64)", self, addrOf(heapObj), describeAddr(maps, addrOf(heapObj), exe), fmt.Sprintf("%#x", *heapObj))
	fig.SawWrite = shared.sawWrite
	row("heap: one object, written and read by two goroutines", self, shared.addr, describeAddr(maps, shared.addr, exe),
		fmt.Sprintf("1 wrote %#x, 2 read %#x; 2 wrote %#x, 1 read %#x", shared.wrote, shared.read, shared.replied, shared.readBack))
	distinct := map[uint64]bool{}
	for i, a := range stacks {
		distinct[a] = true
		row(fmt.Sprintf("stack: a local variable of goroutine %d", i+1), self, a, describeAddr(maps, a, exe), nil)
	}
	fig.Goroutines, fig.Stacks = nG, len(distinct)

	// The process's map, grouped as the notes draw a process.
	for _, k := range groupMaps(maps, exe) {
		r := row("map: "+k.kind, self, k.lo, fmt.Sprintf("%d mapping(s), the lowest shown", k.count), nil)
		r["size"] = fmtBytes(float64(k.bytes))
	}

	// Two processes: the same addresses in a child.
	pool, err := proc.New(ctx, proc.WithWorkers(1))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	childWrite := int64(0xc41d_0000)
	out, err := procMemory.Call(ctx, pool, memTask{HeapAddr: addrOf(heapObj), Write: childWrite})
	if err != nil {
		return nil, err
	}
	child := fmt.Sprintf("child %d", out.PID)
	fig.ParentValue, fig.ChildSaw, fig.ChildWrote, fig.ParentAfter = parentValue, out.ProbeBefore, out.ProbeAfter, memProbe
	fig.ProbeSameAddr = out.ProbeAddr == addrOf(&memProbe)
	fig.HeapValue, fig.HeapInChild, fig.ChildHeapValue = *heapObj, out.HeapMapped, out.HeapValue
	row("data: memProbe in a child (re-executed)", child, out.ProbeAddr, out.ProbeWhere,
		fmt.Sprintf("read %#x, then wrote %#x", out.ProbeBefore, out.ProbeAfter))
	row("data: memProbe in the parent after the child wrote", self, addrOf(&memProbe), describeAddr(maps, addrOf(&memProbe), exe), fmt.Sprintf("%#x", memProbe))
	heapSeen := "not mapped in the child"
	if out.HeapMapped {
		heapSeen = fmt.Sprintf("%#x", out.HeapValue)
	}
	row("heap: the parent's object's address, in the child", child, addrOf(heapObj), out.HeapWhere, heapSeen)
	runtime.KeepAlive(heapObj)

	if cfg.Python != "" {
		var py pyMemory
		if err := runPython(ctx, cfg, "memory", &py, fmt.Sprintf("%#x", parentValue), fmt.Sprintf("%#x", childWrite)); err != nil {
			return nil, err
		}
		fig.Py = &py
		pyParent, pyChild := fmt.Sprintf("python %d", py.PID), fmt.Sprintf("python child %d", py.Child.PID)
		row("python: a ctypes int64 written by one thread, read by another", pyParent, py.SharedAddr, "", fmt.Sprintf("%#x", py.ThreadSaw))
		row("python: a ctypes int64 in the parent", pyParent, py.Addr, "", fmt.Sprintf("%#x", py.ParentValue))
		row("python: the same int64 in a forked child", pyChild, py.Child.Addr, "", fmt.Sprintf("read %#x, then wrote %#x", py.Child.Before, py.Child.After))
		row("python: the int64 in the parent after the child wrote", pyParent, py.Addr, "", fmt.Sprintf("%#x", py.ParentAfter))
	}

	// The size of an address space.
	maps, err = readMaps() // the proc pool mapped more since
	if err != nil {
		return nil, err
	}
	fig.UserSpace = userSpaceTop(maps)
	vbits := virtualBits()
	sizeRow := func(what, process, size string) { row(what, process, 0, "", nil)["size"] = size }
	sizeRow("address space of a 32-bit process (the notes)", "", "4 GiB")
	what := "user address space here (highest mapping, rounded up to a power of two)"
	if vbits > 0 {
		what = fmt.Sprintf("user address space here (%d-bit virtual, lower half)", vbits)
	}
	sizeRow(what, self, fmtBytes(float64(fig.UserSpace)))
	sizeRow("virtual memory this process has mapped (VmSize)", self, fmtBytes(statusKiB(os.Getpid(), "VmSize")*1024))
	sizeRow("of it resident in RAM (VmRSS)", self, fmtBytes(statusKiB(os.Getpid(), "VmRSS")*1024))

	res.Holds, res.Inconclusive, res.Verdict = memoryVerdict(fig)
	if !out.HeapMapped {
		defer func() {
			res.Notes = append(res.Notes, "the parent's heap object's address is not even mapped in the child: Go places its heap arena at a random address in each process")
		}()
	}
	res.Notes = []string{
		"addresses and mappings come from /proc/self/maps; the child is a proc worker, which re-executes this program (internal/child), and reads its own /proc/self/maps and, through /proc/self/mem, its own memory at the parent's addresses",
		"Go carves goroutine stacks out of the same heap arena as heap objects (anonymous mappings), so the notes' separate stack region shows here as distinct addresses in the arena; the [stack] mapping is only the main OS thread's",
		"a re-executed child starts from the program file's values (memProbe = 0x5eed), not from a copy of the parent's memory as a fork would give; either way its writes stay in it",
	}
	return res, nil
}

// sharedWrite is what two goroutines saw through one heap object.
type sharedWrite struct {
	addr                           uint64
	wrote, read, replied, readBack int64
	sawWrite                       bool
}

// goroutineAddrs has one goroutine write a heap object that another reads
// and answers through, and n goroutines report the address of a local
// variable while all of them are alive, so no stack is reused.
func goroutineAddrs(n int) (sharedWrite, []uint64) {
	var s sharedWrite
	objc, done := make(chan *int64), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		obj := new(int64)
		*obj = 0x1111
		s.addr, s.wrote = addrOf(obj), *obj
		objc <- obj
		<-done
		s.readBack = *obj
	})
	wg.Go(func() {
		obj := <-objc
		s.read = *obj
		*obj = 0x2222
		s.replied = 0x2222
		close(done)
	})
	wg.Wait()
	s.sawWrite = s.read == s.wrote && s.readBack == s.replied

	addrs := make([]uint64, n)
	var ready, release sync.WaitGroup
	ready.Add(n)
	release.Add(1)
	var all sync.WaitGroup
	for i := range n {
		all.Go(func() {
			local := int64(i) // stays on this goroutine's stack: only its number is taken
			addrs[i] = uint64(uintptr(unsafe.Pointer(&local)))
			ready.Done()
			release.Wait()
			runtime.KeepAlive(local)
		})
	}
	ready.Wait()
	release.Done()
	all.Wait()
	return s, addrs
}

// mapGroup is the mappings of one kind.
type mapGroup struct {
	kind      string
	count     int
	lo, bytes uint64
}

// groupMaps sums the mappings by kind, lowest address first.
func groupMaps(maps []mapping, exe string) []mapGroup {
	byKind := map[string]*mapGroup{}
	for _, m := range maps {
		k := mappingKind(m, exe)
		g := byKind[k]
		if g == nil {
			g = &mapGroup{kind: k, lo: m.Lo}
			byKind[k] = g
		}
		g.count++
		g.bytes += m.Hi - m.Lo
	}
	var out []mapGroup
	for _, g := range byKind {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lo < out[j].lo })
	return out
}

// memoryVerdict holds when goroutines shared a heap object and had distinct
// stacks, code and data lay in the program's mappings, the child held its
// own value at the parent's address (of memProbe, or failing that of the
// heap object) and its write did not reach the parent, and the address
// space is larger than 32 bits allow. When no address was mapped in both
// processes (a position-independent build, say), the separate address
// spaces cannot be shown: inconclusive.
func memoryVerdict(f memFigures) (holds, inconclusive bool, verdict string) {
	var bad []string
	if !f.SawWrite {
		bad = append(bad, "a goroutine did not read, at the same address, what another wrote into a heap object")
	}
	if f.Goroutines < 2 || f.Stacks != f.Goroutines {
		bad = append(bad, fmt.Sprintf("%d goroutines' locals had only %d distinct addresses", f.Goroutines, f.Stacks))
	}
	if f.CodeKind != kindCode {
		bad = append(bad, "the function was not in the program's code mapping but in "+f.CodeKind)
	}
	if f.DataKind != kindData {
		bad = append(bad, "the package variable was not in the program's data mapping but in "+f.DataKind)
	}
	if f.ChildSaw == f.ParentValue {
		bad = append(bad, fmt.Sprintf("the child read the parent's value %#x in its own variable", f.ParentValue))
	}
	if f.ParentAfter != f.ParentValue {
		bad = append(bad, fmt.Sprintf("the parent's variable changed to %#x after the child wrote %#x", f.ParentAfter, f.ChildWrote))
	}
	if f.HeapInChild && f.ChildHeapValue == f.HeapValue {
		bad = append(bad, fmt.Sprintf("the child read the parent's heap value %#x at the parent's address", f.HeapValue))
	}
	if f.UserSpace <= 4<<30 {
		bad = append(bad, fmt.Sprintf("the address space is only %s", fmtBytes(float64(f.UserSpace))))
	}
	if py := f.Py; py != nil {
		if py.Child.Addr == py.Addr && py.ParentAfter != py.ParentValue {
			bad = append(bad, fmt.Sprintf("Python's forked child's write reached the parent (%#x)", py.ParentAfter))
		}
		if py.ThreadSaw != 0x1111 || py.ThreadAddr != py.SharedAddr {
			bad = append(bad, "a Python thread's write to an object was not seen by another at its address")
		}
	}
	var same []string
	if f.ProbeSameAddr {
		same = append(same, fmt.Sprintf("the package variable's address held %#x in the parent and %#x in the child", f.ParentValue, f.ChildSaw))
	}
	if f.HeapInChild {
		same = append(same, fmt.Sprintf("the parent's heap object's address held %#x in the parent and %#x in the child", f.HeapValue, f.ChildHeapValue))
	}
	if len(bad) > 0 {
		return false, false, "not as the notes draw it: " + strings.Join(bad, "; ")
	}
	threads := fmt.Sprintf("goroutines of one process read and wrote one heap object at one address and had %d distinct stacks; code and data lay in the program's own mappings", f.Stacks)
	space := fmt.Sprintf("this machine gives a process %s of address space, %s times the notes' 4 GB for 32 bits",
		fmtBytes(float64(f.UserSpace)), groupDigits(f.UserSpace/(4<<30)))
	if len(same) == 0 {
		return false, true, fmt.Sprintf("%s; but no address was mapped in both processes (a position-independent build moves the program's data), so one address could not be compared across them; %s", threads, space)
	}
	v := fmt.Sprintf("%s; %s, and the child's write (%#x) left the parent's variable at %#x; %s",
		threads, strings.Join(same, ", and "), f.ChildWrote, f.ParentAfter, space)
	if py := f.Py; py != nil && py.Child.Addr == py.Addr {
		if py.Child.Before == py.ParentValue {
			v += fmt.Sprintf("; Python's forked child found the parent's own value %#x at the same address (a fork copies the parent's memory, where a re-executed Go child starts from the program file's values), and its write (%#x) stayed in the child too",
				py.Child.Before, py.Child.After)
		} else {
			v += fmt.Sprintf("; Python's forked child found %#x at the same address, not the parent's %#x, and its write (%#x) stayed in the child",
				py.Child.Before, py.ParentValue, py.Child.After)
		}
	}
	return true, false, v
}

// groupDigits prints n with thousands separators.
func groupDigits(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
