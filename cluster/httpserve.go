package cluster

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrAddrInUse reports an HTTP address (metrics or dashboard) that
// another program already listens on.
var ErrAddrInUse = errors.New("address already in use")

// HTTPConfig says where a broker or a worker serves HTTP (its Prometheus
// metrics, and the broker's dashboard) and who may read it. The zero
// value serves nothing.
//
// The rules are the broker's: an address beyond loopback requires a
// token, or a user and password (ErrAuthRequired), and when credentials
// are set every request must present them, on loopback too, either as
// HTTP basic authentication (user and password; with a token, any user
// name and the token as the password, which is what a browser's login
// prompt sends) or as "Authorization: Bearer TOKEN" (what Prometheus's
// bearer_token sends). With TLSCert and TLSKey it speaks HTTPS.
type HTTPConfig struct {
	// Addr is host:port; port 0 picks a free port. Without a host
	// (":9100") it is loopback's, 127.0.0.1; every interface is
	// "0.0.0.0:9100". Empty serves nothing.
	Addr string
	// Token, or User and Password, is what requests must present.
	Token, User, Password string
	// TLSCert and TLSKey, given together, make it speak HTTPS.
	TLSCert, TLSKey string
}

// Timeouts of the HTTP servers. There is no write timeout: the dashboard
// streams server-sent events for as long as a page is open.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpIdleTimeout       = 2 * time.Minute
	httpShutdownTimeout   = 2 * time.Second
)

// httpServer is one listening HTTP server; Close stops it and joins its
// goroutine.
type httpServer struct {
	srv    *http.Server
	ln     net.Listener
	scheme string
	done   chan struct{}
	stop   context.CancelFunc // ends the handlers' long requests
}

// check reports a config that must not serve: beyond loopback without
// credentials, half a credential, or half a TLS pair.
func (c HTTPConfig) check(what string) error {
	if c.Token != "" && c.User != "" {
		return fmt.Errorf("cluster: %s: give a token or a user, not both", what)
	}
	if (c.User == "") != (c.Password == "") {
		return fmt.Errorf("cluster: %s: a user needs a password and a password a user", what)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("cluster: %s: TLS needs both a certificate and a key", what)
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("cluster: %s address %q: want host:port", what, c.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("cluster: %s address %q: bad port", what, c.Addr)
	}
	if host != "" && !loopbackHost(host) && c.Token == "" && c.User == "" {
		return fmt.Errorf("%w (%s on %s)", ErrAuthRequired, what, c.Addr)
	}
	return nil
}

// listenAddr is Addr with loopback's address where it names no host.
func (c HTTPConfig) listenAddr() string {
	if host, port, err := net.SplitHostPort(c.Addr); err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return c.Addr
}

// loopbackHost reports a host name or address on this machine only;
// an empty host (every interface) is not.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveHTTP checks c, listens on c.Addr and serves h there, behind the
// credentials check, until Close. what names the server in errors
// ("metrics", "dashboard"). handlers' requests see a context that Close
// cancels, so long-lived streams end.
func serveHTTP(c HTTPConfig, what string, h http.Handler) (*httpServer, error) {
	if err := c.check(what); err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("cluster: %s: tls: %w", what, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	addr := c.listenAddr()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cluster: %s: %s: %w", what, addr, ErrAddrInUse)
		}
		return nil, fmt.Errorf("cluster: %s: %w", what, err)
	}
	s := &httpServer{ln: ln, scheme: "http", done: make(chan struct{})}
	if tlsConf != nil {
		s.ln, s.scheme = tls.NewListener(ln, tlsConf), "https"
	}
	base, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.srv = &http.Server{
		Handler:           c.guard(h),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		IdleTimeout:       httpIdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
		// A failed TLS handshake is the client's trouble, not a line on
		// the broker's stderr.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(s.ln)
	}()
	return s, nil
}

// URL returns the server's base URL, e.g. http://127.0.0.1:8222.
func (s *httpServer) URL() string {
	return s.scheme + "://" + s.ln.Addr().String()
}

// Close stops serving, ends open streams and waits for the server's
// goroutine. It is safe on a nil server.
func (s *httpServer) Close() {
	if s == nil {
		return
	}
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// guard wraps h in the credentials check. Without credentials (loopback
// only, see check) it still refuses a Host header that names something
// other than this machine, so a web page cannot reach the server through
// a DNS name that it points at 127.0.0.1.
func (c HTTPConfig) guard(h http.Handler) http.Handler {
	if c.Token == "" && c.User == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host := r.Host
			if hh, _, err := net.SplitHostPort(host); err == nil {
				host = hh
			}
			if !loopbackHost(strings.Trim(host, "[]")) {
				http.Error(w, "crew: this server answers only to a loopback host name", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	// Compared as hashes, in constant time, so neither the length nor a
	// prefix of a secret leaks through timing.
	want := sha256.Sum256([]byte(c.User + "\x00" + c.Password + "\x00" + c.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var user, pass, token string
		if u, p, ok := r.BasicAuth(); ok {
			user, pass = u, p
			if c.Token != "" {
				user, pass, token = "", "", p
			}
		} else if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && c.Token != "" {
			token = b
		}
		got := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="crew", charset="UTF-8"`)
			http.Error(w, "crew: unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
