package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// echoServer answers each fixed-size request on loopback TCP with the same
// bytes after a service delay, standing for a database or web service.
type echoServer struct {
	ln    net.Listener
	delay time.Duration
	size  int
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startEcho(delay time.Duration, size int) (*echoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("echo server: %w", err)
	}
	s := &echoServer{ln: ln, delay: delay, size: size, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *echoServer) Addr() string { return s.ln.Addr().String() }

func (s *echoServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			buf := make([]byte, s.size)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				time.Sleep(s.delay)
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		})
	}
}

// Close stops the server and waits for its goroutines.
func (s *echoServer) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// echoTrips dials addr and makes trips request/response round trips of size
// bytes. With g set, the caller holds the emulated GIL and gives it up
// around each blocking call, as CPython does around socket I/O.
func echoTrips(ctx context.Context, addr string, trips, size int, g *gil, worker int) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	defer c.Close()
	buf := make([]byte, size)
	for range trips {
		var since time.Time
		if g != nil {
			since = g.acquire()
			g.release(worker, since)
		}
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("echo: %w", err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("echo: %w", err)
		}
	}
	return nil
}
