package lab_test

import (
	"context"
	"strings"
	"testing"

	"crew/internal/lab"
)

// memFig is the figures of a run of crew lab memory on the 2-core VM
// (pid 20215, its child 20223); each case changes what it tests.
func memFig(change func(*lab.MemFigures)) lab.MemFigures {
	f := lab.MemFigures{
		SawWrite: true, Goroutines: 4, Stacks: 4,
		CodeKind: lab.KindCode, DataKind: lab.KindData, HeapKind: lab.KindAnon,
		ProbeSameAddr: true, ParentValue: 0x9a4e4ef7, ChildSaw: 0x5eed, ChildWrote: 0xc41d0000, ParentAfter: 0x9a4e4ef7,
		HeapValue: 0x4ea94ef7, UserSpace: 1 << 47,
	}
	if change != nil {
		change(&f)
	}
	return f
}

func TestMemoryVerdict(t *testing.T) {
	cases := []struct {
		name                string
		fig                 lab.MemFigures
		holds, inconclusive bool
		text                string
	}{
		{"recorded", memFig(nil), true, false, "held 0x9a4e4ef7 in the parent and 0x5eed in the child"},
		{"recorded, size", memFig(nil), true, false, "128 TiB of address space, 32,768 times"},
		{"heap mapped in both", memFig(func(f *lab.MemFigures) { f.HeapInChild, f.ChildHeapValue = true, 0 }), true, false, "heap object's address held 0x4ea94ef7 in the parent and 0x0 in the child"},
		{"position independent", memFig(func(f *lab.MemFigures) { f.ProbeSameAddr = false }), false, true, "no address was mapped in both processes"},
		{"child wrote through", memFig(func(f *lab.MemFigures) { f.ParentAfter = 0xc41d0000 }), false, false, "the parent's variable changed to 0xc41d0000"},
		{"child saw parent's value", memFig(func(f *lab.MemFigures) { f.ChildSaw = 0x9a4e4ef7 }), false, false, "the child read the parent's value"},
		{"child saw parent's heap", memFig(func(f *lab.MemFigures) { f.HeapInChild, f.ChildHeapValue = true, 0x4ea94ef7 }), false, false, "parent's heap value"},
		{"stack reused", memFig(func(f *lab.MemFigures) { f.Stacks = 3 }), false, false, "4 goroutines' locals had only 3 distinct addresses"},
		{"heap not shared", memFig(func(f *lab.MemFigures) { f.SawWrite = false }), false, false, "did not read, at the same address"},
		{"32-bit", memFig(func(f *lab.MemFigures) { f.UserSpace = 3 << 30 }), false, false, "only 3 GiB"},
		{"python fork copies", memFig(func(f *lab.MemFigures) { f.Py = pyMem(0x9a4e584b, 0x9a4e584b) }), true, false, "Python's forked child found the parent's own value 0x9a4e584b at the same address"},
		{"python child wrote through", memFig(func(f *lab.MemFigures) { f.Py = pyMem(0x9a4e584b, 0xc41d0000) }), false, false, "Python's forked child's write reached the parent (0xc41d0000)"},
		{"data elsewhere", memFig(func(f *lab.MemFigures) { f.DataKind = lab.KindAnon }), false, false, "not in the program's data mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			holds, inc, v := lab.MemoryVerdict(c.fig)
			checkJudged(t, judged{c.name, c.holds, c.inconclusive, c.text}, holds, inc, v)
		})
	}
}

func TestParseMapsLine(t *testing.T) {
	cases := []struct {
		line string
		ok   bool
		want lab.Mapping
	}{
		{"00400000-00fff000 r-xp 00000000 08:01 1234 /usr/bin/crew", true, lab.Mapping{Lo: 0x400000, Hi: 0xfff000, Perms: "r-xp", Path: "/usr/bin/crew"}},
		{"c000000000-c004000000 rw-p 00000000 00:00 0 ", true, lab.Mapping{Lo: 0xc000000000, Hi: 0xc004000000, Perms: "rw-p"}},
		{"7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]", true, lab.Mapping{Lo: 0x7ffd1000, Hi: 0x7ffd2000, Perms: "rw-p", Path: "[stack]"}},
		{"1000-2000 r--p 0 08:01 7 /tmp/a file (deleted)", true, lab.Mapping{Lo: 0x1000, Hi: 0x2000, Perms: "r--p", Path: "/tmp/a file (deleted)"}},
		{"2000-1000 r--p 0 08:01 7", false, lab.Mapping{}},
		{"zz-1000 r--p 0 08:01 7", false, lab.Mapping{}},
		{"1000-2000 rw 0 08:01 7", false, lab.Mapping{}},
		{"", false, lab.Mapping{}},
	}
	for _, c := range cases {
		got, ok := lab.ParseMapsLine(c.line)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseMapsLine(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseMapsLine(f *testing.F) {
	f.Add("00400000-00fff000 r-xp 00000000 08:01 1234 /usr/bin/crew")
	f.Add("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]")
	f.Fuzz(func(t *testing.T, line string) {
		m, ok := lab.ParseMapsLine(line)
		if ok && (m.Hi < m.Lo || len(m.Perms) != 4) {
			t.Fatalf("ParseMapsLine(%q) = %+v", line, m)
		}
	})
}

func TestUserSpaceTop(t *testing.T) {
	for _, c := range []struct {
		maps []lab.Mapping
		want uint64
	}{
		{[]lab.Mapping{{Lo: 0x400000, Hi: 0x500000}, {Lo: 0x7ffd1000, Hi: 0x7fffffffe000}, {Lo: 0xffffffffff600000, Hi: 0xffffffffff601000}}, 1 << 47},
		{[]lab.Mapping{{Lo: 0x8000, Hi: 0xbf800000}}, 1 << 32},
		{nil, 0},
	} {
		if got := lab.UserSpaceTop(c.maps); got != c.want {
			t.Errorf("UserSpaceTop(%v) = %#x, want %#x", c.maps, got, c.want)
		}
	}
	for n, want := range map[float64]string{4 << 30: "4 GiB", 1 << 47: "128 TiB", 1536: "1.5 KiB", 100: "100 B"} {
		if got := lab.FmtBytes(n); got != want {
			t.Errorf("FmtBytes(%v) = %q, want %q", n, got, want)
		}
	}
}

// pyMem is the Python twin's output from a run on the 2-core VM, with the
// parent's value after the child wrote set to parentAfter.
func pyMem(parentValue, parentAfter int64) *lab.PyMemory {
	py := &lab.PyMemory{PID: 22664, Addr: 0x7f5291131cc0, ParentValue: parentValue,
		ThreadAddr: 0x7f5291131e70, SharedAddr: 0x7f5291131e70, ThreadSaw: 0x1111, ParentAfter: parentAfter}
	py.Child.PID, py.Child.Addr, py.Child.Before, py.Child.After = 22706, 0x7f5291131cc0, parentValue, 0xc41d0000
	return py
}

// TestMemoryPythonTwin runs the memory experiment with its Python twin,
// which forks: the child must find the parent's value at the same address
// and keep its own write.
func TestMemoryPythonTwin(t *testing.T) {
	py := lab.FindPython()
	if py == "" {
		t.Skip("no python3 on PATH")
	}
	res, err := lab.RunOne(context.Background(), memoryExperiment(t), lab.Config{Python: py, Params: map[string]string{"memory.goroutines": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Holds || !strings.Contains(res.Verdict, "Python's forked child found the parent's own value") {
		t.Errorf("holds=%v: %s", res.Holds, res.Verdict)
	}
	rows := 0
	for _, r := range res.Rows {
		if s, _ := r["what"].(string); strings.HasPrefix(s, "python: ") {
			rows++
		}
	}
	if rows != 4 {
		t.Errorf("%d python rows, want 4", rows)
	}
}

func memoryExperiment(t *testing.T) lab.Experiment {
	t.Helper()
	e, err := lab.Lookup("memory")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMemoryOneGoroutine(t *testing.T) {
	_, err := lab.RunOne(context.Background(), memoryExperiment(t), lab.Config{Params: map[string]string{"memory.goroutines": "1"}})
	if err == nil || !strings.Contains(err.Error(), "lab: memory: parameter goroutines=1: want at least 2") {
		t.Fatalf("err = %v, want a refusal of one goroutine", err)
	}
}
