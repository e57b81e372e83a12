package proc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"

	"crew/proc/internal/wire"
)

type workerKey struct{}

// WorkerID returns, inside a registered function running in a worker, the
// worker's number: 1 to the pool's size, kept by the replacement of a dead
// or retired worker. It returns 0 outside a worker.
func WorkerID(ctx context.Context) int {
	id, _ := ctx.Value(workerKey{}).(int)
	return id
}

// Main turns the process into a worker if a Pool started it, and otherwise
// returns at once. Call it first thing in main (or TestMain), before flags
// are parsed or anything is printed. In a worker, Main serves tasks until
// the pool closes its input and then exits the process: it never returns.
func Main() {
	v, ok := os.LookupEnv(envWorker)
	if !ok {
		return
	}
	id, _ := strconv.Atoi(v)
	init := os.Getenv(envInit)
	// Programs the worker starts are not workers.
	os.Unsetenv(envWorker)
	os.Unsetenv(envInit)
	os.Exit(serve(id, init))
}

func lookup(name string) handler {
	regMu.RLock()
	defer regMu.RUnlock()
	return registry[name]
}

// serve is the worker's loop: a reader goroutine takes frames off fd 3 and
// handles cancellations at once; calls run one at a time, in order, and
// each reply is flushed to fd 4 before the next call starts (the pool's
// crash accounting relies on that; see the wire protocol in doc.go).
func serve(id int, init string) int {
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	in := os.NewFile(3, "crew-calls")
	out := os.NewFile(4, "crew-replies")
	base := context.WithValue(context.Background(), workerKey{}, id)

	var br *bufio.Reader
	if init != "" {
		br = bufio.NewReaderSize(in, 64<<10)
		// The pool sends the initializer's call, with its argument, ahead
		// of any other.
		body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "proc: initializer %s: read its call: %v\n", init, err)
			return 3
		}
		m, err := wire.Parse(body)
		if err != nil || m.Kind != wire.KindCall || m.Name != init {
			fmt.Fprintf(os.Stderr, "proc: initializer %s: bad call frame (%v)\n", init, err)
			return 3
		}
		h := lookup(init)
		if h == nil {
			fmt.Fprintf(os.Stderr, "proc: initializer %q is not registered\n", init)
			return 3
		}
		if _, _, errs := h.serve(base, m.Codec, m.Payload, nil); len(errs) > 0 {
			fmt.Fprintf(os.Stderr, "proc: initializer %s: %s\n%s", init, errs[0].Msg, errs[0].Stack)
			return 3
		}
	}
	hello, _ := wire.AppendFrame(nil, &wire.Message{Kind: wire.KindHello})
	if _, err := out.Write(hello); err != nil {
		return 1
	}
	// Buffers come after the hello: the pool's start-up waits for it.
	bw := bufio.NewWriterSize(out, 32<<10)

	var (
		mu      sync.Mutex
		curID   uint64
		curStop context.CancelFunc
		early   = map[uint64]bool{}
	)
	calls := make(chan []byte, 64)
	// Call frames go back to the reader once answered, so that a stream of
	// batches reuses a few buffers instead of allocating one per call.
	free := make(chan []byte, 4)
	go func() {
		defer close(calls)
		if br == nil {
			br = bufio.NewReaderSize(in, 64<<10)
		}
		for {
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, buf)
			if err != nil {
				if err != io.EOF {
					fmt.Fprintf(os.Stderr, "proc: worker %d: %v\n", id, err)
					os.Exit(2)
				}
				return
			}
			m, err := wire.Parse(body)
			if err != nil {
				fmt.Fprintf(os.Stderr, "proc: worker %d: %v\n", id, err)
				os.Exit(2)
			}
			switch m.Kind {
			case wire.KindCall:
				calls <- body
			case wire.KindCancel:
				mu.Lock()
				if m.ID == curID && curStop != nil {
					curStop()
				} else {
					if len(early) > 1024 {
						clear(early)
					}
					early[m.ID] = true
				}
				mu.Unlock()
			}
		}
	}()

	var reply, payload []byte
	for body := range calls {
		m, _ := wire.Parse(body) // checked by the reader
		ctx, stop := context.WithCancel(base)
		mu.Lock()
		canceled := early[m.ID]
		delete(early, m.ID)
		curID, curStop = m.ID, stop
		mu.Unlock()

		hdr := wire.Message{Kind: wire.KindReply, ID: m.ID}
		payload = payload[:0]
		var errs []taskErr
		switch h := lookup(m.Name); {
		case canceled:
			errs = []taskErr{{I: -1, Msg: context.Canceled.Error()}}
			hdr.Codec = wire.CodecJSON
		case h == nil:
			errs = []taskErr{{I: -1, Msg: m.Name, Unknown: true}}
			hdr.Codec = wire.CodecJSON
		default:
			payload, hdr.Codec, errs = h.serve(ctx, m.Codec, m.Payload, payload)
		}
		// Nothing serve returns aliases the call frame: decoding copies.
		if cap(body) <= maxReuse {
			select {
			case free <- body:
			default:
			}
		}
		mu.Lock()
		curID, curStop = 0, nil
		mu.Unlock()
		stop()
		if len(errs) > 0 {
			hdr.Err, _ = json.Marshal(errs)
		}
		hdr.Payload = payload
		reply, _ = wire.AppendFrame(reply[:0], &hdr)
		if _, err := bw.Write(reply); err != nil {
			return 1
		}
		// Flush every reply: a reply left in the buffer would die with the
		// worker if the next call crashed it.
		if err := bw.Flush(); err != nil {
			return 1
		}
	}
	if err := bw.Flush(); err != nil {
		return 1
	}
	return 0
}
