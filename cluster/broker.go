package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// BrokerConfig configures an embedded broker. The zero value listens on
// 127.0.0.1:4222 and keeps its store in a temporary directory.
type BrokerConfig struct {
	// StoreDir holds JetStream's files; jobs survive a restart on the
	// same directory. Default: a new temporary directory.
	StoreDir string
	// Listen is host:port; port 0 picks a free port. Default
	// 127.0.0.1:4222. A non-loopback host requires Token or User.
	Listen string
	// SyncAlways makes the server fsync every write before acknowledging
	// it, so an accepted job survives power loss. It costs throughput.
	SyncAlways bool
	// SyncInterval is how often the store is synced when SyncAlways is
	// off; default JetStream's 2 minutes. A kill of the broker process
	// loses nothing either way (the kernel has the writes); power loss
	// may lose what was written since the last sync.
	SyncInterval time.Duration
	// Token, or User and Password, is what clients must present.
	Token, User, Password string
	// TLSCert and TLSKey, given together, make the broker speak TLS.
	TLSCert, TLSKey string
	// MetricsAddr, when set, is the host:port where the broker serves its
	// Prometheus metrics (/metrics), under the rules of HTTPConfig with the
	// broker's credentials and TLS: beyond loopback only with a token or
	// user; the same credentials are then asked of every scrape.
	MetricsAddr string
	// Retention is how long the broker keeps runs, their results and
	// their output after they were written (crew runs, crew attach);
	// default DefaultRetention. The broker applies it to the buckets at
	// every start, so a restart with another value changes it for the
	// runs already kept too. Negative is an error.
	Retention time.Duration
	// HTTPAddr, when set, is the host:port where the broker serves its
	// dashboard (and /metrics), under the same rules as MetricsAddr: the
	// runs, the workers and the queue, live, and a button to cancel a run.
	HTTPAddr string
}

// httpConfig is where and how the broker serves HTTP at addr: with its
// own credentials and TLS.
func (cfg BrokerConfig) httpConfig(addr string) HTTPConfig {
	return HTTPConfig{Addr: addr, Token: cfg.Token, User: cfg.User, Password: cfg.Password,
		TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey}
}

// A Broker is an embedded NATS server with JetStream on disk: everything
// a cluster run needs, for users without a NATS deployment of their own.
// Create one with StartBroker and stop it with Close; the zero value is
// not usable. Its methods are safe for concurrent use.
type Broker struct {
	srv         *server.Server
	tempDir     string
	unspecified bool // listening on 0.0.0.0 or ::
	metrics     *brokerMetrics
	metricsSrv  *httpServer
	httpSrv     *httpServer
	dash        *dashboard
	stopDash    context.CancelFunc
	closeOnce   sync.Once
}

// StartBroker starts a broker and returns once it accepts connections.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("cluster: retention %v: must not be negative", cfg.Retention)
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("cluster: listen address %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if !loopbackOnly(net.JoinHostPort(host, "1")) && cfg.Token == "" && cfg.User == "" {
		return nil, ErrAuthRequired
	}
	if cfg.Token != "" && cfg.User != "" {
		return nil, errors.New("cluster: give a token or a user, not both")
	}
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("cluster: a user needs a password and a password a user")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("cluster: TLS needs both a certificate and a key")
	}
	if cfg.MetricsAddr != "" {
		if err := cfg.httpConfig(cfg.MetricsAddr).check("metrics"); err != nil {
			return nil, err
		}
	}
	if cfg.HTTPAddr != "" {
		if err := cfg.httpConfig(cfg.HTTPAddr).check("dashboard"); err != nil {
			return nil, err
		}
	}
	opts := &server.Options{
		Host:          host,
		Port:          port,
		JetStream:     true,
		StoreDir:      cfg.StoreDir,
		SyncAlways:    cfg.SyncAlways,
		SyncInterval:  cfg.SyncInterval,
		Authorization: cfg.Token,
		Username:      cfg.User,
		Password:      cfg.Password,
		NoSigs:        true,
		NoLog:         true,
	}
	if cfg.TLSCert != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			return nil, fmt.Errorf("cluster: tls: %w", err)
		}
		opts.TLSConfig, opts.TLS = tc, true
	}
	// The server reports a busy port or an unusable store only in its
	// log, after a while: find out first, in words the user can act on.
	if port != server.RANDOM_PORT {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("cluster: broker: %w", err)
		}
		l.Close()
	}
	if opts.StoreDir != "" {
		if err := os.MkdirAll(opts.StoreDir, 0o750); err != nil {
			return nil, fmt.Errorf("cluster: broker: store: %w", err)
		}
		probe, err := os.CreateTemp(opts.StoreDir, ".crew-probe-")
		if err != nil {
			return nil, fmt.Errorf("cluster: broker: store: %w", err)
		}
		probe.Close()
		os.Remove(probe.Name())
	}
	b := &Broker{metrics: newBrokerMetrics()}
	if opts.StoreDir == "" {
		if b.tempDir, err = os.MkdirTemp("", "crew-broker-"); err != nil {
			return nil, fmt.Errorf("cluster: broker: %w", err)
		}
		opts.StoreDir = b.tempDir
	}
	if b.srv, err = server.NewServer(opts); err != nil {
		b.removeTemp()
		return nil, fmt.Errorf("cluster: broker: %w", err)
	}
	var log startLog
	b.srv.SetLoggerV2(&log, false, false, false)
	b.srv.Start()
	for deadline := time.Now().Add(10 * time.Second); !b.srv.ReadyForConnections(100 * time.Millisecond); {
		if err := log.failure(); err != nil || time.Now().After(deadline) {
			b.Close()
			if err == nil {
				err = errors.New("not listening after 10s")
			}
			return nil, fmt.Errorf("cluster: broker did not start on %s: %w", listen, err)
		}
	}
	b.unspecified = net.ParseIP(host).IsUnspecified()
	if err := b.retain(cfg); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.serve(cfg); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// serve starts what the broker serves over HTTP besides NATS.
func (b *Broker) serve(cfg BrokerConfig) error {
	if cfg.MetricsAddr == "" && cfg.HTTPAddr == "" {
		return nil
	}
	if err := b.observe(cfg); err != nil {
		return err
	}
	var err error
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", b.MetricsHandler())
		if b.metricsSrv, err = serveHTTP(cfg.httpConfig(cfg.MetricsAddr), "metrics", mux); err != nil {
			return err
		}
	}
	if cfg.HTTPAddr != "" {
		var ctx context.Context
		ctx, b.stopDash = context.WithCancel(context.Background())
		b.dash = newDashboard(ctx, b.metrics.client, b.metrics.queueDepth)
		if b.httpSrv, err = serveHTTP(cfg.httpConfig(cfg.HTTPAddr), "dashboard", b.dash.handler(b.MetricsHandler())); err != nil {
			return err
		}
	}
	return nil
}

// DashboardURL returns the URL of the broker's dashboard, e.g.
// http://127.0.0.1:8222/; empty when it serves none.
func (b *Broker) DashboardURL() string {
	if b.httpSrv == nil {
		return ""
	}
	return b.httpSrv.URL() + "/"
}

// MetricsURL returns the URL of the broker's metrics, e.g.
// http://127.0.0.1:9100/metrics; empty when it serves none.
func (b *Broker) MetricsURL() string {
	if b.metricsSrv == nil {
		return ""
	}
	return b.metricsSrv.URL() + "/metrics"
}

// retain prepares the streams and buckets with the broker's retention,
// over an in-process connection.
func (b *Broker) retain(cfg BrokerConfig) error {
	retention := cfg.Retention
	if retention == 0 {
		retention = DefaultRetention
	}
	nc, err := b.connect(cfg, "crew broker")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	sp, err := setup(ctx, nc)
	if err == nil {
		err = sp.buckets(ctx, retention)
	}
	return err
}

// connect opens a connection to the broker's own server, in-process,
// with the broker's credentials.
func (b *Broker) connect(cfg BrokerConfig, name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(b.srv), nats.Name(name), quiet}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: broker: connect: %w", err)
	}
	return nc, nil
}

// startLog keeps the server's first error, so a failed start can say why.
type startLog struct {
	mu  sync.Mutex
	err error
}

func (l *startLog) keep(format string, v ...any) {
	l.mu.Lock()
	if l.err == nil {
		l.err = fmt.Errorf(format, v...)
	}
	l.mu.Unlock()
}

func (l *startLog) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *startLog) Fatalf(format string, v ...any) { l.keep(format, v...) }
func (l *startLog) Errorf(string, ...any)          {}
func (l *startLog) Noticef(string, ...any)         {}
func (l *startLog) Warnf(string, ...any)           {}
func (l *startLog) Debugf(string, ...any)          {}
func (l *startLog) Tracef(string, ...any)          {}

// URL returns the address clients on this machine dial, e.g.
// nats://127.0.0.1:4222. A broker listening on every interface
// (0.0.0.0 or ::) is reached here through 127.0.0.1; other machines need
// one of this machine's own addresses or names instead.
func (b *Broker) URL() string {
	u := b.srv.ClientURL()
	if b.unspecified {
		if a, ok := b.srv.Addr().(*net.TCPAddr); ok {
			scheme, _, _ := strings.Cut(u, "://")
			return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
		}
	}
	return u
}

// ListensEverywhere reports whether the broker listens on every
// interface, so other machines may dial it under this machine's name.
func (b *Broker) ListensEverywhere() bool { return b.unspecified }

// Close shuts the broker down and waits until it has stopped; JetStream
// flushes its store first. Close is idempotent.
func (b *Broker) Close() {
	b.closeOnce.Do(b.closeHTTP)
	// JetStream is stopped before the server: the server's own shutdown
	// would first answer every open pull request with a 409 and then
	// sleep 50 ms for the answers to reach other servers of a cluster,
	// which this broker never has. Its clients learn of the shutdown when
	// their connection closes, as they would anyway, and the store is
	// flushed all the same. Every SSH run (crew run -S) ends with a Close.
	_ = b.srv.DisableJetStream()
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.removeTemp()
}

// closeHTTP stops serving metrics and the dashboard, and its open pages.
func (b *Broker) closeHTTP() {
	if b.stopDash != nil {
		b.stopDash()
		b.dash.polls.Wait()
	}
	b.httpSrv.Close()
	b.metricsSrv.Close()
	b.metrics.close()
}

func (b *Broker) removeTemp() {
	if b.tempDir != "" {
		_ = os.RemoveAll(b.tempDir)
	}
}
