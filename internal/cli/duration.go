package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// parseDuration reads a duration the way every crew flag takes one: a
// bare number is seconds, as GNU parallel's --timeout and --delay have it
// ("60", "1.5"), and anything else is a Go duration ("200ms", "1m30s").
// Whether a negative or zero value makes sense is the flag's to say.
func parseDuration(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		// Beyond a billion seconds (31 years) is a typo, and past 292
		// years a time.Duration overflows.
		if math.IsNaN(f) || math.Abs(f) >= 1e9 {
			return 0, fmt.Errorf("bad duration %q (want seconds, or a duration like 1m30s)", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want seconds, or a duration like 1m30s)", v)
	}
	return d, nil
}

// durationValue is the pflag.Value of every duration flag of crew (see
// parseDuration), so that "--timeout 60" means the same to each command.
type durationValue struct{ p *time.Duration }

// durationVarP defines a duration flag that stores into p, starting at
// value.
func durationVarP(f *pflag.FlagSet, p *time.Duration, name, short string, value time.Duration, usage string) {
	*p = value
	f.VarP(durationValue{p}, name, short, usage)
}

func (d durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d.p = v
	return nil
}

// String is "0" for no duration, which pflag leaves out of the help.
func (d durationValue) String() string {
	if *d.p == 0 {
		return "0"
	}
	return d.p.String()
}

func (d durationValue) Type() string { return "duration" }

// timeoutValue is crew run's --timeout: a duration as durationValue
// takes it, or N% of the median run time of the jobs finished so far.
// 0 and 0% both mean no timeout, as in GNU parallel.
type timeoutValue struct {
	durationValue
	percent *float64
}

func (t timeoutValue) Set(s string) error {
	bad := fmt.Errorf("bad value %q (want seconds, a duration like 1m30s, or N%% of the median run time)", s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f >= 0) || f > 1e9 {
			return bad
		}
		*t.p, *t.percent = 0, f
		return nil
	}
	d, err := parseDuration(s)
	if err != nil || d < 0 {
		return bad
	}
	*t.p, *t.percent = d, 0
	return nil
}

func (t timeoutValue) String() string {
	if *t.percent > 0 {
		return strconv.FormatFloat(*t.percent, 'g', -1, 64) + "%"
	}
	return t.durationValue.String()
}

func (t timeoutValue) Type() string { return "duration|N%" }

// syncValue is crew broker's --sync: "always", or how often JetStream
// syncs its store to disk, a positive duration as durationValue takes it.
type syncValue struct {
	durationValue
	always *bool
}

func (v syncValue) Set(s string) error {
	if s == "always" {
		*v.always, *v.p = true, 0
		return nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want always or a positive duration, not %q", s)
	}
	*v.always, *v.p = false, d
	return nil
}

func (v syncValue) String() string {
	if *v.always {
		return "always"
	}
	return v.durationValue.String()
}

func (v syncValue) Type() string { return "always|duration" }
