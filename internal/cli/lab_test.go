package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestLabFlags checks what crew lab's flags and arguments parse into.
func TestLabFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want labOptions
	}{
		{nil, labOptions{params: map[string]string{}}},
		{[]string{"--list", "--json"}, labOptions{list: true, json: true}},
		{[]string{"gil", "race", "--full", "--workers", "4", "-q", "--report", "out", "--python"},
			labOptions{names: []string{"gil", "race"}, full: true, workers: 4, quiet: true, reportDir: "out", python: true, params: map[string]string{}}},
		{[]string{"gil", "--set", "gil.rounds=5", "--set", "n=7"},
			labOptions{names: []string{"gil"}, sets: []string{"gil.rounds=5", "n=7"}, params: map[string]string{"gil.rounds": "5", "n": "7"}}},
	} {
		got, err := parseCmd(t, newLabCmd, c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(c.want, *got, cmp.AllowUnexported(labOptions{}), cmpopts.IgnoreFields(labOptions{}, "streams"), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q: options differ (-want +got):\n%s", c.args, diff)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, "nosuch"},
		{[]string{"--workers", "-1"}, "--workers must be positive"},
		{[]string{"gil", "--set", "gil.swich=1"}, `parameter "gil.swich"`},
		{[]string{"--set", "novalue"}, "novalue"},
	} {
		_, err := parseCmd(t, newLabCmd, c.args...)
		wantErr(t, c.args, err, c.want)
	}
}
