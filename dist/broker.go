package dist

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
}

// A Broker is an embedded NATS server with JetStream on disk: everything
// a cluster run needs, for users without a NATS deployment of their own.
// Create one with StartBroker and stop it with Close; the zero value is
// not usable. Its methods are safe for concurrent use.
type Broker struct {
	srv     *server.Server
	tempDir string
}

// StartBroker starts a broker and returns once it accepts connections.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("dist: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("dist: listen address %q: bad port", listen)
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
		return nil, errors.New("dist: give a token or a user, not both")
	}
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("dist: a user needs a password and a password a user")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("dist: TLS needs both a certificate and a key")
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
			return nil, fmt.Errorf("dist: tls: %w", err)
		}
		opts.TLSConfig, opts.TLS = tc, true
	}
	b := &Broker{}
	if opts.StoreDir == "" {
		if b.tempDir, err = os.MkdirTemp("", "crew-broker-"); err != nil {
			return nil, fmt.Errorf("dist: broker: %w", err)
		}
		opts.StoreDir = b.tempDir
	}
	if b.srv, err = server.NewServer(opts); err != nil {
		b.removeTemp()
		return nil, fmt.Errorf("dist: broker: %w", err)
	}
	b.srv.Start()
	if !b.srv.ReadyForConnections(10 * time.Second) {
		b.Close()
		return nil, fmt.Errorf("dist: broker did not start listening on %s", listen)
	}
	return b, nil
}

// URL returns the address clients dial, e.g. nats://127.0.0.1:4222.
func (b *Broker) URL() string { return b.srv.ClientURL() }

// Close shuts the broker down and waits until it has stopped; JetStream
// flushes its store first. Close is idempotent.
func (b *Broker) Close() {
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.removeTemp()
}

func (b *Broker) removeTemp() {
	if b.tempDir != "" {
		_ = os.RemoveAll(b.tempDir)
	}
}
