package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"crew/runner"
)

// jobMsg is a job as it travels through the jobs stream. JSON keeps the
// format readable with the nats CLI and open to workers in other languages.
type jobMsg struct {
	Key     string        `json:"key"`
	Seq     int64         `json:"seq"`
	Slot    int           `json:"slot,omitempty"`
	Command string        `json:"command"`
	Argv    []string      `json:"argv,omitempty"`
	Stdin   []byte        `json:"stdin,omitempty"`
	StdinOb string        `json:"stdin_object,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	Env     []string      `json:"env,omitempty"`
}

// resultMsg is a job's result as stored in the results bucket. Output
// too large for one message lives in the object store under Object.
type resultMsg struct {
	Seq      int64         `json:"seq"`
	Host     string        `json:"host"`
	Start    time.Time     `json:"start"`
	Runtime  time.Duration `json:"runtime"`
	Exit     int           `json:"exit"`
	Signal   int           `json:"signal,omitempty"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Send     int64         `json:"send,omitempty"`
	Receive  int64         `json:"receive,omitempty"`
	Err      string        `json:"err,omitempty"`
	Dead     bool          `json:"dead,omitempty"`
	// Moved marks a batch's job that its worker queued again on its own
	// (see Worker): its result is stored under its own key.
	Moved  bool   `json:"moved,omitempty"`
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	Object string `json:"object,omitempty"`
}

// batchMsg is several short jobs travelling as one message (see
// Config.Batch). The batch has a key of its own, under which the worker
// stores one batchResultMsg; each job keeps its key for cancellation.
type batchMsg struct {
	Key  string   `json:"key"`
	Jobs []jobMsg `json:"jobs"`
}

// batchResultMsg holds the results of a batch's jobs, in the batch's order.
// A batch that was split (see Worker) has Split set and no results: its
// jobs' results come under their own keys.
type batchResultMsg struct {
	Results []resultMsg `json:"results,omitempty"`
	Split   bool        `json:"split,omitempty"`
}

// splitMarker is what a worker stores under a batch's key when it splits
// the batch into its jobs.
var splitMarker = []byte(`{"split":true}`)

// maxBatch bounds the jobs a worker accepts in one message, whatever a
// submitter sends.
const maxBatch = 1024

var errMalformed = errors.New("cluster: malformed message")

// decodeJobs decodes a message of the jobs stream: one job, or a batch of
// them. key is what its result is stored under: the job's key, or the
// batch's.
func decodeJobs(data []byte) (key string, jobs []*jobMsg, batch bool, err error) {
	var m struct {
		jobMsg
		Jobs []jobMsg `json:"jobs"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, false, fmt.Errorf("%w: job: %v", errMalformed, err)
	}
	if m.Jobs == nil {
		j, err := checkJob(&m.jobMsg)
		if err != nil {
			return "", nil, false, err
		}
		return j.Key, []*jobMsg{j}, false, nil
	}
	if !validKey(m.Key) {
		return "", nil, false, fmt.Errorf("%w: batch: bad key %q", errMalformed, m.Key)
	}
	if len(m.Jobs) == 0 || len(m.Jobs) > maxBatch {
		return "", nil, false, fmt.Errorf("%w: batch %s of %d jobs", errMalformed, m.Key, len(m.Jobs))
	}
	jobs = make([]*jobMsg, len(m.Jobs))
	for i := range m.Jobs {
		if jobs[i], err = checkJob(&m.Jobs[i]); err != nil {
			return "", nil, false, err
		}
	}
	return m.Key, jobs, true, nil
}

// decodeBatchResult splits a batch's stored result into its jobs' results,
// still encoded, for n jobs; split reports a split batch's marker instead.
func decodeBatchResult(data []byte, n int) (results []json.RawMessage, split bool, err error) {
	var m struct {
		Results []json.RawMessage `json:"results"`
		Split   bool              `json:"split"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false, fmt.Errorf("%w: batch result: %v", errMalformed, err)
	}
	if m.Split && len(m.Results) == 0 {
		return nil, true, nil
	}
	if len(m.Results) != n {
		return nil, false, fmt.Errorf("%w: batch result: %d results for %d jobs", errMalformed, len(m.Results), n)
	}
	return m.Results, false, nil
}

func checkJob(m *jobMsg) (*jobMsg, error) {
	if !validKey(m.Key) {
		return nil, fmt.Errorf("%w: job: bad key %q", errMalformed, m.Key)
	}
	if m.Command == "" && len(m.Argv) == 0 {
		return nil, fmt.Errorf("%w: job %s: no command", errMalformed, m.Key)
	}
	return m, nil
}

func decodeResult(data []byte) (*resultMsg, error) {
	var m resultMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: result: %v", errMalformed, err)
	}
	if m.Object != "" && (len(m.Stdout) > 0 || len(m.Stderr) > 0) {
		return nil, fmt.Errorf("%w: result has both inline output and object %q", errMalformed, m.Object)
	}
	return &m, nil
}

func (j *jobMsg) job() *runner.Job {
	return &runner.Job{
		Seq: j.Seq, Slot: j.Slot, Command: j.Command, Argv: j.Argv,
		Stdin: j.Stdin, Timeout: j.Timeout, Env: j.Env,
	}
}

func (m *resultMsg) result() runner.Result {
	r := runner.Result{
		Seq: m.Seq, Host: m.Host, Start: m.Start, Runtime: m.Runtime,
		Exit: m.Exit, Signal: m.Signal, TimedOut: m.TimedOut,
		Send: m.Send, Receive: m.Receive,
	}
	switch {
	case m.Dead:
		r.Err = &DeadError{Seq: m.Seq, Reason: m.Err}
	case m.Err != "":
		r.Err = &RemoteError{Host: m.Host, Msg: m.Err}
	}
	return r
}

// packOutput joins stdout and stderr into one object body: an 8-byte
// big-endian length of stdout, stdout, then stderr.
func packOutput(stdout, stderr []byte) []byte {
	b := make([]byte, 8, 8+len(stdout)+len(stderr))
	binary.BigEndian.PutUint64(b, uint64(len(stdout)))
	b = append(b, stdout...)
	return append(b, stderr...)
}

func unpackOutput(b []byte) (stdout, stderr []byte, err error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%w: output object of %d bytes", errMalformed, len(b))
	}
	n := binary.BigEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("%w: output object claims %d bytes of stdout in %d", errMalformed, n, len(b)-8)
	}
	return b[8 : 8+n], b[8+n:], nil
}

// validKey reports whether s can be a key in the results bucket and a
// token of a subject: letters, digits, '-', '_' and '.' between tokens.
func validKey(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		prevDot = false
	}
	return true
}
