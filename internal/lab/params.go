package lab

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Param is one size an experiment reads from Config.Params. Every
// experiment declares the parameters it reads, so that a typo in a setting
// is refused before anything runs instead of being silently ignored.
type Param struct {
	// Key is the parameter's name within its experiment ("rounds").
	Key string
	// Kind is ParamInt or ParamDuration.
	Kind ParamKind
}

// ParamKind says which values a parameter takes.
type ParamKind int

const (
	// ParamInt takes a positive integer (decimal, or 0x.. hexadecimal).
	ParamInt ParamKind = iota
	// ParamDuration takes a positive Go duration such as "5ms".
	ParamDuration
)

// String names the kind as the error messages do.
func (k ParamKind) String() string {
	if k == ParamDuration {
		return "duration"
	}
	return "int"
}

// ErrParam is returned (inside a *ParamError) for a setting that names no
// parameter of the selected experiments or holds a bad value.
var ErrParam = errors.New("lab: bad parameter")

// ParamError reports a setting that cannot be used: its key as given, the
// reason, and the keys that would have been accepted.
type ParamError struct {
	Key    string
	Reason string
	Known  []string
}

// Error names the setting, says why it is refused and, for an unknown key,
// lists the known ones so the user can correct a typo.
func (e *ParamError) Error() string {
	s := fmt.Sprintf("lab: parameter %q: %s", e.Key, e.Reason)
	if len(e.Known) > 0 {
		s += " (known: " + strings.Join(e.Known, ", ") + ")"
	}
	return s
}

// Unwrap returns ErrParam.
func (e *ParamError) Unwrap() error { return ErrParam }

// CheckParams checks settings (Config.Params) against the experiments
// called names (all of them when names is empty), as [Run] does before it
// starts: an "exp.key" setting must name a selected experiment and one of
// its parameters, a plain "key" a parameter of at least one selected
// experiment, and every value must parse as its parameter's kind. It
// returns a *ParamError or an *UnknownError.
func CheckParams(settings map[string]string, names ...string) error {
	exps, err := selectExperiments(names)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first error reported does not depend on map order
	for _, k := range keys {
		if err := checkParam(exps, k, settings[k]); err != nil {
			return err
		}
	}
	return nil
}

func checkParam(exps []Experiment, key, value string) error {
	if name, sub, ok := strings.Cut(key, "."); ok {
		e, err := Lookup(name)
		if err != nil {
			return &ParamError{Key: key, Reason: "no experiment " + strconv.Quote(name), Known: Names()}
		}
		if !slices.ContainsFunc(exps, func(x Experiment) bool { return x.Name == name }) {
			return &ParamError{Key: key, Reason: fmt.Sprintf("experiment %s is not selected", name), Known: qualifiedKeys(exps)}
		}
		i := slices.IndexFunc(e.Params, func(p Param) bool { return p.Key == sub })
		if i < 0 {
			return &ParamError{Key: key, Reason: fmt.Sprintf("%s has no such parameter", name), Known: qualifiedKeys([]Experiment{e})}
		}
		if err := parseParam(e.Params[i].Kind, value); err != nil {
			return &ParamError{Key: key, Reason: fmt.Sprintf("value %q: %v", value, err)}
		}
		return nil
	}
	found := false
	for _, e := range exps {
		i := slices.IndexFunc(e.Params, func(p Param) bool { return p.Key == key })
		if i < 0 {
			continue
		}
		found = true
		if err := parseParam(e.Params[i].Kind, value); err != nil {
			return &ParamError{Key: key, Reason: fmt.Sprintf("value %q for %s: %v", value, e.Name, err)}
		}
	}
	if !found {
		return &ParamError{Key: key, Reason: "no selected experiment has this parameter", Known: qualifiedKeys(exps)}
	}
	return nil
}

// qualifiedKeys lists the experiments' parameters as "exp.key".
func qualifiedKeys(exps []Experiment) []string {
	var out []string
	for _, e := range exps {
		for _, p := range e.Params {
			out = append(out, e.Name+"."+p.Key)
		}
	}
	return out
}

// parseParam checks value against kind without keeping it.
func parseParam(kind ParamKind, value string) error {
	var err error
	if kind == ParamDuration {
		_, err = parseDuration(value)
	} else {
		_, err = parseInt(value)
	}
	return err
}

func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil || n <= 0 || int64(int(n)) != n {
		return 0, errors.New("want a positive integer")
	}
	return int(n), nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 5ms")
	}
	return d, nil
}

// params reads an experiment's sizes: the quick or full default, unless
// Config.Params overrides it as "exp.key" or plain "key". It records every
// value used, so the result shows what ran, and keeps the first bad value.
// Reading a key the experiment did not declare is an error, so the
// declaration CheckParams relies on cannot fall behind the code.
type params struct {
	exp      string
	declared []Param
	cfg      Config
	used     map[string]any
	err      error
}

func newParams(exp string, declared []Param, cfg Config) *params {
	return &params{exp: exp, declared: declared, cfg: cfg, used: map[string]any{}}
}

func (p *params) raw(key string, kind ParamKind) (string, bool) {
	if !slices.Contains(p.declared, Param{Key: key, Kind: kind}) {
		p.fail(fmt.Errorf("parameter %s (%v) is read but not declared", key, kind))
		return "", false
	}
	if v, ok := p.cfg.Params[p.exp+"."+key]; ok {
		return v, true
	}
	v, ok := p.cfg.Params[key]
	return v, ok
}

// Int returns the integer parameter key; values must be positive.
func (p *params) Int(key string, quick, full int) int {
	v := quick
	if p.cfg.Full {
		v = full
	}
	if s, ok := p.raw(key, ParamInt); ok {
		n, err := parseInt(s)
		if err != nil {
			p.fail(fmt.Errorf("parameter %s=%q: %w", key, s, err))
		} else {
			v = n
		}
	}
	p.used[key] = v
	return v
}

// Duration returns the duration parameter key (e.g. "5ms").
func (p *params) Duration(key string, quick, full time.Duration) time.Duration {
	v := quick
	if p.cfg.Full {
		v = full
	}
	if s, ok := p.raw(key, ParamDuration); ok {
		d, err := parseDuration(s)
		if err != nil {
			p.fail(fmt.Errorf("parameter %s=%q: %w", key, s, err))
		} else {
			v = d
		}
	}
	p.used[key] = v.String()
	return v
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// ParseParams turns "key=value" or "experiment.key=value" settings (crew lab
// --set) into Config.Params. A key must be non-empty and hold no spaces or
// "="; a later setting of the same key wins. Whether a key names a
// parameter is checked by [CheckParams].
func ParseParams(settings []string) (map[string]string, error) {
	m := make(map[string]string, len(settings))
	for _, s := range settings {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
			return nil, fmt.Errorf("lab: setting %q: want key=value or experiment.key=value", s)
		}
		m[k] = v
	}
	return m, nil
}
