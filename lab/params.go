package lab

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// params reads an experiment's sizes: the quick or full default, unless
// Config.Params overrides it as "exp.key" or plain "key". It records every
// value used, so the result shows what ran, and keeps the first bad value.
type params struct {
	exp  string
	cfg  Config
	used map[string]any
	err  error
}

func newParams(exp string, cfg Config) *params {
	return &params{exp: exp, cfg: cfg, used: map[string]any{}}
}

func (p *params) raw(key string) (string, bool) {
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
	if s, ok := p.raw(key); ok {
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil || n <= 0 {
			p.fail(fmt.Errorf("lab: %s: parameter %s=%q: want a positive integer", p.exp, key, s))
		} else {
			v = int(n)
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
	if s, ok := p.raw(key); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			p.fail(fmt.Errorf("lab: %s: parameter %s=%q: want a positive duration", p.exp, key, s))
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
// "="; a later setting of the same key wins.
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
