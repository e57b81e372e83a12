package ipc

import (
	"errors"
	"fmt"
)

var (
	// ErrBadName reports a lock or segment name that is not a plain file name.
	ErrBadName = errors.New("ipc: bad name")
	// ErrExist reports that CreateSegment found a segment of that name.
	ErrExist = errors.New("ipc: segment already exists")
	// ErrNotExist reports that no segment of that name exists.
	ErrNotExist = errors.New("ipc: segment does not exist")
	// ErrNotLocked reports an Unlock of a Mutex or Semaphore that this value
	// does not hold.
	ErrNotLocked = errors.New("ipc: not locked")
	// ErrClosed reports use of a Mutex, Semaphore or Segment after Close.
	ErrClosed = errors.New("ipc: closed")
	// ErrSlots reports that a Semaphore was opened with a slot count other
	// than the one its first user chose.
	ErrSlots = errors.New("ipc: semaphore slot count mismatch")
	// ErrNoLockDir reports that no WithDir option was given and none of the
	// default lock directories (see DefaultDir) could be used.
	ErrNoLockDir = errors.New("ipc: no usable lock directory")
)

// A NameError reports why a lock or segment name was refused.
type NameError struct {
	Name   string // the name as given
	Reason string // what is wrong with it
}

// Error returns the message, naming the bad name.
func (e *NameError) Error() string {
	return fmt.Sprintf("ipc: bad name %q: %s", e.Name, e.Reason)
}

// Unwrap returns ErrBadName, so errors.Is(err, ErrBadName) holds.
func (e *NameError) Unwrap() error { return ErrBadName }

// checkName refuses names that would escape the directory or not be a file.
func checkName(name string) error {
	switch {
	case name == "":
		return &NameError{Name: name, Reason: "empty"}
	case name == "." || name == "..":
		return &NameError{Name: name, Reason: "not a file name"}
	case len(name) > 200:
		// Leave room under NAME_MAX (255) for the suffixes we add.
		return &NameError{Name: name, Reason: "longer than 200 bytes"}
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '/':
			return &NameError{Name: name, Reason: "contains a path separator"}
		case 0:
			return &NameError{Name: name, Reason: "contains a NUL byte"}
		}
	}
	return nil
}
