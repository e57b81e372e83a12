package queue_test

import (
	"errors"
	"testing"

	"crew/queue"
)

// FuzzOps drives a queue with a sequence of non-blocking operations decoded
// from bytes and checks every result against a plain slice model.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 1, 1, 3, 3, 3})
	f.Add([]byte{2, 0, 7, 0, 8, 0, 9, 1, 0, 10, 4, 1, 1, 1, 1})
	f.Add([]byte{1, 3, 0, 5, 1, 3, 3, 4, 0, 6, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		capacity := int(ops[0] % 5)
		q := queue.New[byte](capacity)
		var model []byte
		closed := false
		got, done, put := 0, 0, 0
		for i := 1; i < len(ops); i++ {
			switch ops[i] % 5 {
			case 0: // put the next byte
				var v byte
				if i+1 < len(ops) {
					i++
					v = ops[i]
				}
				err := q.TryPut(v)
				switch {
				case closed:
					if !errors.Is(err, queue.ErrClosed) {
						t.Fatalf("op %d: TryPut on closed queue = %v", i, err)
					}
				case capacity > 0 && len(model) >= capacity:
					if !errors.Is(err, queue.ErrFull) {
						t.Fatalf("op %d: TryPut on full queue = %v", i, err)
					}
				default:
					if err != nil {
						t.Fatalf("op %d: TryPut = %v", i, err)
					}
					model = append(model, v)
					put++
				}
			case 1:
				v, err := q.TryGet()
				switch {
				case len(model) > 0:
					if err != nil || v != model[0] {
						t.Fatalf("op %d: TryGet = %d, %v; want %d", i, v, err, model[0])
					}
					model = model[1:]
					got++
				case closed:
					if !errors.Is(err, queue.ErrClosed) {
						t.Fatalf("op %d: TryGet on drained closed queue = %v", i, err)
					}
				default:
					if !errors.Is(err, queue.ErrEmpty) {
						t.Fatalf("op %d: TryGet on empty queue = %v", i, err)
					}
				}
			case 2:
				q.Close()
				closed = true
			case 3:
				err := q.TaskDone()
				if done < got {
					if err != nil {
						t.Fatalf("op %d: TaskDone = %v", i, err)
					}
					done++
				} else if !errors.Is(err, queue.ErrTaskDone) {
					t.Fatalf("op %d: TaskDone with nothing outstanding = %v", i, err)
				}
			case 4:
				if q.Len() != len(model) {
					t.Fatalf("op %d: Len = %d, want %d", i, q.Len(), len(model))
				}
				if q.Unfinished() != put-done {
					t.Fatalf("op %d: Unfinished = %d, want %d", i, q.Unfinished(), put-done)
				}
			}
		}
	})
}
