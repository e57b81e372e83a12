package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"crew/ipc"
)

// Two Mutex values with the same name exclude each other, exactly as two
// processes would.
func ExampleMutex() {
	dir, err := os.MkdirTemp("", "ipc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	a, err := ipc.NewMutex("render", ipc.WithDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, err := ipc.NewMutex("render", ipc.WithDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	if err := a.Lock(context.Background()); err != nil {
		log.Fatal(err)
	}
	ok, _ := b.TryLock()
	fmt.Println("b while a holds:", ok)
	a.Unlock()
	ok, _ = b.TryLock()
	fmt.Println("b after a unlocks:", ok)
	b.Unlock()
	// Output:
	// b while a holds: false
	// b after a unlocks: true
}

// A segment's counters are shared by every process that opens the segment
// by name; here the "other process" is a second mapping in this one.
func ExampleSegment() {
	name := fmt.Sprintf("crew-example-%d", os.Getpid())
	seg, err := ipc.CreateSegment(name, 64)
	if err != nil {
		log.Fatal(err)
	}
	defer seg.Remove()
	defer seg.Close()
	hits, err := seg.Counter(8)
	if err != nil {
		log.Fatal(err)
	}
	hits.Add(41)
	copy(seg.Bytes()[16:], "hello")

	other, err := ipc.OpenSegment(name)
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	c, _ := other.Counter(8)
	fmt.Println(c.Add(1), string(other.Bytes()[16:21]))
	// Output: 42 hello
}

// A Semaphore of 2 slots admits two holders and turns the third away.
func ExampleSemaphore() {
	dir, err := os.MkdirTemp("", "ipc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sem, err := ipc.NewSemaphore("ffmpeg", 2, ipc.WithDir(dir))
	if err != nil {
		log.Fatal(err)
	}
	defer sem.Close()
	for range 3 {
		ok, err := sem.TryLock()
		fmt.Println(ok, err)
	}
	// Output:
	// true <nil>
	// true <nil>
	// false <nil>
}

// An Array is shared by every process that opens its name; here the "other
// process" is a second mapping in this one. A Python process would open it
// as multiprocessing.shared_memory.SharedMemory(name) (see Array).
func ExampleArray() {
	name := fmt.Sprintf("crew-example-array-%d", os.Getpid())
	hits, err := ipc.CreateArray[int64](name, 4)
	if err != nil {
		log.Fatal(err)
	}
	defer hits.Remove()
	defer hits.Close()
	hits.Set(0, 40)
	hits.Add(0, 1)

	other, err := ipc.OpenArray[int64](name)
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	n, _ := other.Add(0, 1)
	fmt.Println(n, other.Len(), other.Slice())

	_, err = other.At(4)
	fmt.Println(errors.Is(err, ipc.ErrIndex))
	_, err = ipc.OpenArray[float64](name)
	fmt.Println(errors.Is(err, ipc.ErrArrayType))
	// Output:
	// 42 4 [42 0 0 0]
	// true
	// true
}
