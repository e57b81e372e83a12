package runner_test

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/runner"
)

var guardRecordRE = regexp.MustCompile(`^([+-])([0-9]{1,20})$`)

// guardModel is an independent reading of the guard protocol: complete
// lines "+N" or "-N" with 1 < N <= 1<<22 register or forget N; anything
// else, and a last line without its newline, is ignored.
func guardModel(data []byte) map[int]bool {
	rec := guardRecordRE
	groups := map[int]bool{}
	lines := bytes.Split(data, []byte("\n"))
	for _, line := range lines[:len(lines)-1] {
		m := rec.FindSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(string(m[2]))
		if err != nil || n <= 1 || n > 1<<22 {
			continue
		}
		if m[1][0] == '+' {
			groups[n] = true
		} else {
			delete(groups, n)
		}
	}
	return groups
}

func TestGuardRecords(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want []int
	}{
		{"empty", "", nil},
		{"register", "+100\n+200\n", []int{100, 200}},
		{"forget", "+100\n+200\n-100\n", []int{200}},
		{"forget unknown", "-5\n+7\n", []int{7}},
		{"partial last record", "+100\n+20", []int{100}},
		{"never kill everything", "+1\n+0\n+-5\n-+5\n+ 5\n", nil},
		{"too large", "+4194305\n+4194304\n+99999999999999999999\n", []int{4194304}},
		{"garbage between", "hello\n+300\n\n+\n+3x\n", []int{300}},
		{"long garbage", string(bytes.Repeat([]byte("x"), 10000)) + "\n+42\n", []int{42}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := runner.ReadGuard(bytes.NewReader([]byte(c.in)))
			want := map[int]bool{}
			for _, p := range c.want {
				want[p] = true
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzGuardRecords feeds the guard arbitrary bytes: it must never register
// a group it could not safely kill, and must agree with guardModel. The
// records the program writes must decode to what was written.
func FuzzGuardRecords(f *testing.F) {
	f.Add([]byte("+100\n-100\n+200\n"), 300)
	f.Add([]byte("+1\n+0\n-+2\n"), 2)
	f.Add([]byte("+4194304\n+4194305\n+00000000000000000002\n"), 4194304)
	f.Add([]byte("\xff\x00+5"), 7)
	f.Fuzz(func(t *testing.T, data []byte, pgid int) {
		got := runner.ReadGuard(bytes.NewReader(data))
		for p := range got {
			if p <= 1 || p > 1<<22 {
				t.Fatalf("registered unsafe group %d from %q", p, data)
			}
		}
		if diff := cmp.Diff(guardModel(data), got); diff != "" {
			t.Fatalf("decoding %q (-model +guard):\n%s", data, diff)
		}
		if pgid > 1 && pgid <= 1<<22 {
			// Whatever came before, a record starting a fresh line counts.
			enc := runner.GuardRecord(append(append([]byte(nil), data...), '\n'), '+', pgid)
			if g := runner.ReadGuard(bytes.NewReader(enc)); !g[pgid] {
				t.Fatalf("record for %d not decoded from %q", pgid, enc)
			}
		}
	})
}
