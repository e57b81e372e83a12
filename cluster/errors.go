package cluster

import (
	"errors"
	"fmt"
)

var (
	// ErrUnreachable reports that the server could not be reached.
	ErrUnreachable = errors.New("cluster: server unreachable")
	// ErrInsecure reports a worker asked to take jobs from a server on
	// another machine with no credentials configured.
	ErrInsecure = errors.New("cluster: refusing a non-loopback server without credentials (use credentials, or Insecure)")
	// ErrUnauthorized reports a server that refused the credentials (or
	// their absence). It is final: retrying with the same ones cannot help.
	ErrUnauthorized = errors.New("cluster: the server refused the credentials")
	// ErrBadURL reports a server URL that names no server.
	ErrBadURL = errors.New("cluster: bad server URL")
	// ErrAuthRequired reports a broker asked to listen beyond loopback
	// without a token or user and password.
	ErrAuthRequired = errors.New("cluster: listening beyond loopback requires a token or user and password")
	// ErrClosed reports use of a closed Executor.
	ErrClosed = errors.New("cluster: executor closed")
	// ErrDead is matched (errors.Is) by a *DeadError.
	ErrDead = errors.New("cluster: job gave up after its last delivery")

	// errMalformed reports a message that does not follow the protocol.
	errMalformed = errors.New("malformed message")
)

// A DeadError reports a job that ran WorkerConfig.MaxRuns times without a
// result (its workers died or hung without heartbeats); the job was moved
// to DeadStream.
type DeadError struct {
	Seq    int64
	Reason string
}

func (e *DeadError) Error() string {
	return fmt.Sprintf("cluster: job %d dead-lettered: %s", e.Seq, e.Reason)
}

// Unwrap returns ErrDead.
func (e *DeadError) Unwrap() error { return ErrDead }

// A RemoteError is an error a worker met running a job (the job could not
// start there), carried back as text.
type RemoteError struct {
	Host string
	Msg  string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("cluster: on %s: %s", e.Host, e.Msg) }
