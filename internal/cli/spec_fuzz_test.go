package cli

import (
	"context"
	"io"
	"strings"
	"testing"
)

// FuzzRunSpec: a run's spec comes from the broker, where anyone with
// publish rights may have written it; crew attach must read it back as
// crew run's flags or say it cannot, never panic.
func FuzzRunSpec(f *testing.F) {
	f.Add([]byte(`{"flags":[{"name":"keep-order","values":["true"]},{"name":"tag","values":["true"]}],"args":["echo","{}",":::","a","b"],"inputs":[null]}`))
	f.Add([]byte(`{"flags":[{"name":"arg-file","values":["in"]}],"args":["echo"],"inputs":["YQpiCg=="]}`))
	f.Add([]byte(`{"flags":[{"name":"no-such-flag","values":["1"]}],"args":[]}`))
	f.Add([]byte(`{"flags":[{"name":"jobs","values":["x"]}],"args":["--","-x"],"inputs":[]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		spec, err := decodeSpec(b)
		if err != nil {
			return
		}
		opts, err := replayRun(context.Background(), Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, spec)
		if err != nil {
			return
		}
		_, _ = keptInputs(opts, spec)
	})
}
