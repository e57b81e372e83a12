package lab_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"go.uber.org/goleak"

	"crew/lab"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// tiny are sizes small enough for every experiment to run in a test under
// the race detector.
var tiny = map[string]string{
	"goroutines": "8", "n": "2000", "trials": "2",
}

func TestExperimentsTiny(t *testing.T) {
	for _, e := range lab.Experiments() {
		t.Run(e.Name, func(t *testing.T) {
			res, err := lab.RunOne(context.Background(), e, lab.Config{Params: tiny})
			if err != nil {
				t.Fatal(err)
			}
			if res.Name != e.Name || res.Verdict == "" {
				t.Errorf("result %q has verdict %q", res.Name, res.Verdict)
			}
			if len(res.Rows) == 0 {
				t.Errorf("no rows")
			}
			for i, row := range res.Rows {
				for _, c := range res.Columns {
					_ = row[c]
				}
				if len(row) == 0 {
					t.Errorf("row %d empty", i)
				}
			}
			t.Logf("holds=%v: %s", res.Holds, res.Verdict)
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := lab.Lookup("nope")
	if !errors.Is(err, lab.ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	var ue *lab.UnknownError
	if !errors.As(err, &ue) || ue.Name != "nope" || len(ue.Known) != len(lab.Experiments()) {
		t.Fatalf("err = %#v", err)
	}
	_ = os.Stdout
}
