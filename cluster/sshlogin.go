package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A Login is one host of an SSH run (crew run -S), as GNU parallel's
// --sshlogin names it: [@group+group/][slots/]sshlogin, where sshlogin is
// [sshcommand [options]] [user@]host, or ":" for this machine.
type Login struct {
	// Spec is the entry as written (less surrounding space); it names the
	// host in messages and in results (the joblog's Host column), as GNU
	// parallel's sshlogin does.
	Spec string
	// Slots is the N of "N/": how many jobs run there at once. 0 means
	// not given: the run's -j, or else the host's CPU count, asked over
	// SSH.
	Slots int
	// Tags are GNU parallel's host groups, "@gpu+bigmem/": the worker on
	// the host carries them as its tags, so jobs that require a tag run
	// only on hosts that have it.
	Tags []string
	// SSH is the ssh command and options the entry gives itself ("ssh -p
	// 2222 host", "/usr/local/bin/myssh -l me host"); nil means the run's
	// (SSHConfig.SSH).
	SSH []string
	// Host is the destination given to ssh: [user@]host, or "[addr]:port"
	// turned into "-p port" in SSH. Empty for this machine.
	Host string
	// Port is the port from "[addr]:port", "addrpPORT" or "addr#PORT"
	// (GNU parallel's forms for IPv6 addresses); 0 for ssh's default.
	Port int
}

// Local reports whether the login is this machine (":").
func (l Login) Local() bool { return l.Host == "" }

// ErrBadLogin is matched (errors.Is) by the error of a malformed
// --sshlogin entry.
var ErrBadLogin = errors.New("cluster: bad sshlogin")

// ParseLogins reads a --sshlogin value: entries separated by commas or
// newlines (",," or "\," is a comma inside an entry). It does not expand
// "..", "." or "-" (see ReadLoginFile), and refuses an entry with a
// password ("user:pass@host"), which would show in the process list.
func ParseLogins(spec string) ([]Login, error) {
	var out []Login
	for _, e := range splitLogins(spec) {
		if strings.TrimSpace(e) == "" {
			continue
		}
		l, err := ParseLogin(e)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ExpandLogins is ParseLogins for crew run -S: the entries ".." (the
// default sshloginfile, see ReadLoginFile) and "-" (stdin) stand for the
// hosts their file lists.
func ExpandLogins(spec string, stdin io.Reader) ([]Login, error) {
	var out []Login
	for _, e := range splitLogins(spec) {
		switch e = strings.TrimSpace(e); e {
		case "":
			continue
		case "..", "-":
			ls, err := ReadLoginFile(e, stdin)
			if err != nil {
				return nil, err
			}
			out = append(out, ls...)
			continue
		}
		l, err := ParseLogin(e)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// splitLogins splits at commas and newlines, keeping ",," and "\," as a
// comma.
func splitLogins(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case c == ',' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case c == ',' || c == '\n':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// ParseLogin reads one sshlogin entry (see Login).
func ParseLogin(entry string) (Login, error) {
	l := Login{Spec: strings.TrimSpace(entry)}
	bad := func(why string) (Login, error) {
		return Login{}, fmt.Errorf("%w %q: %s", ErrBadLogin, l.Spec, why)
	}
	rest := l.Spec
	if strings.HasPrefix(rest, "@") {
		groups, after, ok := strings.Cut(rest[1:], "/")
		if !ok {
			return bad("a host group list @GROUP needs a host after it, as @GROUP/host (selecting hosts by group alone is not supported)")
		}
		for _, g := range strings.Split(groups, "+") {
			if err := checkTag(g); err != nil {
				return bad(fmt.Sprintf("host group %q: %v (want tags separated by +, as @gpu+bigmem/host)", g, err))
			}
			l.Tags = append(l.Tags, g)
		}
		rest = after
	}
	// N/ sets the slots; an empty N ("//usr/bin/myssh host") only marks
	// an ssh command given by its absolute path.
	if i := strings.IndexByte(rest, '/'); i >= 0 && allDigits(rest[:i]) && (i > 0 || strings.HasPrefix(rest, "//")) {
		if i > 0 {
			n, err := strconv.Atoi(rest[:i])
			if err != nil || n < 1 || n > 1<<20 {
				return bad(fmt.Sprintf("slots %q: want a number of jobs of at least 1", rest[:i]))
			}
			l.Slots = n
		}
		rest = rest[i+1:]
	}
	words := strings.Fields(rest)
	switch {
	case len(words) == 0:
		return bad("no host")
	case len(words) == 1 && words[0] == ":":
		return l, nil
	case len(words) > 1:
		l.SSH = words[:len(words)-1]
	}
	dest := words[len(words)-1]
	user, host, hasUser := strings.Cut(dest, "@")
	if !hasUser {
		host, user = user, ""
	}
	if strings.Contains(host, "@") {
		return bad("more than one @")
	}
	if hasUser && user == "" {
		return bad("empty user before @")
	}
	if strings.Contains(user, ":") {
		return bad("passwords in an sshlogin are not supported: they would show in the process list; use a key (ssh-agent, ssh-copy-id)")
	}
	host, port, err := splitLoginPort(host)
	if err != nil {
		return bad(err.Error())
	}
	if host == "" {
		return bad("no host")
	}
	const unsafe = "/\\'\"`$;&|<>(){}*?!~#"
	if strings.HasPrefix(host, "-") || strings.ContainsAny(host, unsafe) {
		return bad(fmt.Sprintf("host %q is not a host name or address", host))
	}
	if strings.HasPrefix(user, "-") || strings.ContainsAny(user, unsafe) {
		return bad(fmt.Sprintf("user %q is not a user name", user))
	}
	l.Port = port
	l.Host = host
	if hasUser {
		l.Host = user + "@" + host
	}
	return l, nil
}

// splitLoginPort takes GNU parallel's port forms off a host:
// "[addr]:port", "addrpPORT" and "addr#PORT" for an IPv6 address.
func splitLoginPort(h string) (string, int, error) {
	port := func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %q: want 1-65535", s)
		}
		return n, nil
	}
	if strings.HasPrefix(h, "[") {
		addr, after, ok := strings.Cut(h[1:], "]")
		if !ok {
			return "", 0, errors.New("unclosed [")
		}
		if after == "" {
			return addr, 0, nil
		}
		if !strings.HasPrefix(after, ":") {
			return "", 0, fmt.Errorf("want [address]:port, not %q", h)
		}
		p, err := port(after[1:])
		return addr, p, err
	}
	if strings.Count(h, ":") >= 2 { // IPv6
		if i := strings.LastIndexAny(h, "p#"); i > 0 {
			p, err := port(h[i+1:])
			return h[:i], p, err
		}
		return h, 0, nil
	}
	if strings.Contains(h, ":") {
		return "", 0, fmt.Errorf("%q: give a port as ssh -p PORT host (or with --ssh), or [host]:port", h)
	}
	return h, 0, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// DefaultLoginFile returns GNU parallel's default sshloginfile, which
// "--sshlogin .." and "--sshloginfile .." read:
// $XDG_CONFIG_HOME/parallel/sshloginfile when that exists, else
// ~/.parallel/sshloginfile.
func DefaultLoginFile() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		p := filepath.Join(x, "parallel", "sshloginfile")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".parallel", "sshloginfile")
}

// ReadLoginFile reads an sshloginfile: one entry per line, with empty
// lines and lines starting with # left out. name ".." is
// DefaultLoginFile, "." is /etc/parallel/sshloginfile, "-" is stdin; a
// name that is not a file here is looked for in ~/.parallel, as GNU
// parallel does.
func ReadLoginFile(name string, stdin io.Reader) ([]Login, error) {
	var r io.Reader
	switch name {
	case "-":
		r = stdin
	default:
		path := name
		switch name {
		case "..":
			path = DefaultLoginFile()
		case ".":
			path = "/etc/parallel/sshloginfile"
		default:
			if _, err := os.Stat(path); err != nil && !filepath.IsAbs(name) {
				if home, herr := os.UserHomeDir(); herr == nil {
					if alt := filepath.Join(home, ".parallel", name); fileExists(alt) {
						path = alt
					}
				}
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cluster: sshloginfile: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []Login
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ls, err := ParseLogins(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, ls...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cluster: sshloginfile %s: %w", name, err)
	}
	return out, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
