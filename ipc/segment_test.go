package ipc_test

import (
	"errors"
	"testing"

	"crew/ipc"
)

func TestSegmentLifecycle(t *testing.T) {
	dir := t.TempDir()
	if _, err := ipc.OpenSegment("s", ipc.WithDir(dir)); !errors.Is(err, ipc.ErrNotExist) {
		t.Fatalf("OpenSegment of a missing segment = %v, want ErrNotExist", err)
	}
	seg, err := ipc.CreateSegment("s", 100, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if seg.Name() != "s" || seg.Size() != 100 || len(seg.Bytes()) != 100 {
		t.Fatalf("Name, Size, len(Bytes) = %q, %d, %d", seg.Name(), seg.Size(), len(seg.Bytes()))
	}
	for i, b := range seg.Bytes() {
		if b != 0 {
			t.Fatalf("new segment byte %d = %d, want 0", i, b)
		}
	}
	if _, err := ipc.CreateSegment("s", 100, ipc.WithDir(dir)); !errors.Is(err, ipc.ErrExist) {
		t.Fatalf("second CreateSegment = %v, want ErrExist", err)
	}

	other, err := ipc.OpenSegment("s", ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	copy(seg.Bytes()[10:], "shared")
	if got := string(other.Bytes()[10:16]); got != "shared" {
		t.Fatalf("other mapping reads %q", got)
	}

	// Removing the name leaves existing mappings working.
	if err := seg.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := ipc.OpenSegment("s", ipc.WithDir(dir)); !errors.Is(err, ipc.ErrNotExist) {
		t.Fatalf("OpenSegment after Remove = %v, want ErrNotExist", err)
	}
	if err := ipc.RemoveSegment("s", ipc.WithDir(dir)); !errors.Is(err, ipc.ErrNotExist) {
		t.Fatalf("second remove = %v, want ErrNotExist", err)
	}
	other.Bytes()[20] = 7
	if seg.Bytes()[20] != 7 {
		t.Fatal("mappings stopped sharing after Remove")
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if other.Bytes() != nil {
		t.Fatal("Bytes after Close is not nil")
	}
	if _, err := other.Counter(0); !errors.Is(err, ipc.ErrClosed) {
		t.Fatalf("Counter after Close = %v, want ErrClosed", err)
	}
}

func TestSegmentSize(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, -8} {
		if _, err := ipc.CreateSegment("s", size, ipc.WithDir(dir)); err == nil {
			t.Errorf("CreateSegment(size %d) succeeded", size)
		}
	}
}

func TestSegmentCounter(t *testing.T) {
	seg, err := ipc.CreateSegment("s", 36, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	tests := []struct {
		offset int
		ok     bool
	}{
		{0, true},
		{8, true},
		{24, true},
		{32, false}, // 32+8 > 36
		{4, false},
		{1, false},
		{-8, false},
		{1 << 40, false},
	}
	for _, tt := range tests {
		c, err := seg.Counter(tt.offset)
		if (err == nil) != tt.ok {
			t.Errorf("Counter(%d) error = %v, want ok=%v", tt.offset, err, tt.ok)
			continue
		}
		if err == nil {
			c.Store(int64(tt.offset) + 1)
		}
	}
	// Counters are the segment's own bytes: distinct offsets do not overlap.
	for _, off := range []int{0, 8, 24} {
		c, _ := seg.Counter(off)
		if got := c.Load(); got != int64(off)+1 {
			t.Errorf("Counter(%d) = %d, want %d", off, got, off+1)
		}
	}
	small, err := ipc.CreateSegment("tiny", 4, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.Counter(0); err == nil {
		t.Error("Counter(0) in a 4-byte segment succeeded")
	}
}
