package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Credentials authenticate to the server. The zero value sends none.
type Credentials struct {
	Token    string
	User     string
	Password string
	// CAFile is a PEM file of root certificates to trust for tls:// URLs.
	CAFile string
}

// CredentialsFromEnv reads CREW_NATS_TOKEN, CREW_NATS_USER,
// CREW_NATS_PASSWORD and CREW_NATS_CA.
func CredentialsFromEnv() Credentials {
	return Credentials{
		Token:    os.Getenv("CREW_NATS_TOKEN"),
		User:     os.Getenv("CREW_NATS_USER"),
		Password: os.Getenv("CREW_NATS_PASSWORD"),
		CAFile:   os.Getenv("CREW_NATS_CA"),
	}
}

func (c Credentials) empty() bool { return c.Token == "" && c.User == "" }

// ConnConfig says where the cluster's server is and how to log in to
// it: what an Executor (ExecutorConfig) and a Worker (WorkerConfig)
// share. Only URL is required.
type ConnConfig struct {
	// URL is the server, e.g. nats://127.0.0.1:4222; a comma-separated
	// list names several servers of one cluster.
	URL         string
	Credentials Credentials
	// Name names the connection in the server's monitoring.
	Name string
}

// reconnectWait is the pause between attempts to reach a lost server.
const reconnectWait = time.Second

// checkURL reports an URL list naming no server: each entry is
// scheme://host[:port] with a NATS scheme, or host:port.
func checkURL(urls string) error {
	if strings.TrimSpace(urls) == "" {
		return fmt.Errorf("%w: empty", ErrBadURL)
	}
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			if _, _, err := net.SplitHostPort(s); err != nil {
				return fmt.Errorf("%w %q: want nats://host:port", ErrBadURL, Redact(s))
			}
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("%w %q: want nats://host:port", ErrBadURL, Redact(s))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%w %q: scheme %q, want nats, tls, ws or wss", ErrBadURL, Redact(s), u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%w %q: no host", ErrBadURL, Redact(s))
		}
	}
	return nil
}

// Redact returns urls (one URL or a comma-separated list) with every
// password replaced by ***, for messages and logs: nats://u:p@h becomes
// nats://u:***@h. A token given as the user part is redacted too.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, s := range parts {
		at := strings.LastIndexByte(s, '@')
		scheme := strings.Index(s, "://")
		if at < 0 || scheme < 0 || at < scheme {
			continue
		}
		user := s[scheme+3 : at]
		if c := strings.IndexByte(user, ':'); c >= 0 {
			user = user[:c+1] + "***"
		} else {
			user = "***" // nats://TOKEN@host
		}
		parts[i] = s[:scheme+3] + user + s[at:]
	}
	return strings.Join(parts, ",")
}

// isAuthErr reports the server refusing the connection's credentials.
func isAuthErr(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) {
		return true
	}
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// quiet swallows the library's asynchronous errors, which it would
// otherwise print raw on stderr; crew reports connection trouble itself.
var quiet = nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})

// hasCredentials reports credentials in the config or inside the URL.
func (c ConnConfig) hasCredentials() bool {
	if !c.Credentials.empty() {
		return true
	}
	for _, s := range strings.Split(c.URL, ",") {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// loopbackOnly reports whether every server in the URL list is on this
// machine.
func loopbackOnly(urls string) bool {
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return false
		}
		h := u.Hostname()
		if h == "localhost" {
			continue
		}
		ip := net.ParseIP(h)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

func (c ConnConfig) natsOptions() []nats.Option {
	opts := []nats.Option{nats.Name(c.Name)}
	cr := c.Credentials
	if cr.Token != "" {
		opts = append(opts, nats.Token(cr.Token))
	}
	if cr.User != "" {
		opts = append(opts, nats.UserInfo(cr.User, cr.Password))
	}
	if cr.CAFile != "" {
		opts = append(opts, nats.RootCAs(cr.CAFile))
	}
	return opts
}

// connect dials once, failing fast when nothing listens. Once connected,
// the connection reconnects on its own, forever: the caller decides when
// a lost server is lost for good.
func (c ConnConfig) connect(extra ...nats.Option) (*nats.Conn, error) {
	if err := checkURL(c.URL); err != nil {
		return nil, err
	}
	opts := append(c.natsOptions(), quiet, nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait))
	nc, err := nats.Connect(c.URL, append(opts, extra...)...)
	if err != nil {
		switch {
		case isAuthErr(err):
			return nil, fmt.Errorf("%w: %s: %v", ErrUnauthorized, Redact(c.URL), err)
		case errors.Is(err, nats.ErrNoServers) || isNetErr(err):
			return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, Redact(c.URL), err)
		}
		return nil, fmt.Errorf("cluster: connect %s: %w", Redact(c.URL), err)
	}
	return nc, nil
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}
