package cluster_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/cluster"
	"crew/internal/wait"
	"crew/runner"
)

// outsideIP returns an address of this machine that is not loopback, so
// a request to it comes from beyond loopback as far as the server can
// tell; "" when the machine has none.
func outsideIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// request sends method url with the header auth (if any) and returns the
// status and body.
func request(t *testing.T, c *http.Client, method, u, auth string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var body []byte
	if strings.Contains(u, "/api/events") {
		// A stream: read its first event only.
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "data: ") {
		}
		body = []byte(sc.Text())
	} else {
		body, _ = io.ReadAll(resp.Body)
	}
	return resp.StatusCode, string(body)
}

func basic(user, password string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

// TestHTTPAuth: the dashboard and the metrics, listening beyond
// loopback, answer no request without the broker's credentials, from an
// address that is not loopback; with them, they answer, and nothing they
// answer shows a job's environment or the token.
func TestHTTPAuth(t *testing.T) {
	const token, secretEnv = "tok-8f2c1e-do-not-show", "env-value-7d41-do-not-show"
	ip := outsideIP()
	if ip == "" {
		t.Log("no address beyond loopback on this machine: testing through 127.0.0.1")
		ip = "127.0.0.1"
	}
	b, err := cluster.StartBroker(cluster.BrokerConfig{
		Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: token,
		HTTPAddr: "0.0.0.0:0", MetricsAddr: "0.0.0.0:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	outside := func(u string) string {
		p, _ := url.Parse(u)
		_, port, _ := net.SplitHostPort(p.Host)
		p.Host = net.JoinHostPort(ip, port)
		return p.String()
	}
	dash, metrics := outside(b.DashboardURL()), outside(b.MetricsURL())

	// A run whose job has a secret in its environment.
	startWorker(t, b.URL(), 1, "CREW_NATS_TOKEN="+token)
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: b.URL(), Credentials: cluster.Credentials{Token: token}},
		NewRun:     &cluster.NewRun{Command: "echo {}", Jobs: []cluster.PlannedJob{{Seq: 1, Input: "x", Command: "echo x"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	res := e.Exec(ctx, &runner.Job{Seq: 1, Command: `echo "$CREW_SECRET"`, Env: []string{"CREW_SECRET=" + secretEnv}}, &out, io.Discard)
	if res.Err != nil || strings.TrimSpace(out.String()) != secretEnv {
		t.Fatalf("job: %+v, output %q", res, out.String())
	}
	run := e.RunID()

	c := &http.Client{}
	urls := []struct{ method, url string }{
		{"GET", dash}, {"GET", dash + "static/app.js"}, {"GET", dash + "api/overview"},
		{"GET", dash + "api/runs/" + run}, {"GET", dash + "api/events"}, {"GET", dash + "metrics"},
		{"POST", dash + "api/runs/" + run + "/cancel"}, {"GET", metrics},
	}
	for _, u := range urls {
		for _, auth := range []string{"", "Bearer guess", basic("crew", "guess"), basic(token, ""), "Token " + token} {
			if code, _ := request(t, c, u.method, u.url, auth, "X-Crew-Request", "cancel"); code != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %q: status %d, want 401", u.method, u.url, auth, code)
			}
		}
	}
	for _, u := range urls[:len(urls)-2] {
		for _, auth := range []string{"Bearer " + token, basic("anyone", token)} {
			code, body := request(t, c, u.method, u.url, auth)
			if code != http.StatusOK {
				t.Errorf("%s %s with the token: status %d, want 200: %.200s", u.method, u.url, code, body)
			}
			for _, secret := range []string{token, secretEnv} {
				if strings.Contains(body, secret) {
					t.Errorf("%s %s shows %q:\n%.500s", u.method, u.url, secret, body)
				}
			}
		}
	}
	if code, body := request(t, c, "GET", metrics, "Bearer "+token); code != http.StatusOK || !strings.Contains(body, "crew_jobs_succeeded_total 1") {
		t.Errorf("metrics with the token: %d %.300s", code, body)
	}
	// Cancel wants the page's own header: a form posted from another
	// site cannot send it, nor a foreign Origin.
	cancelURL := dash + "api/runs/" + run + "/cancel"
	if code, _ := request(t, c, "POST", cancelURL, "Bearer "+token); code != http.StatusForbidden {
		t.Errorf("cancel without X-Crew-Request: %d, want 403", code)
	}
	if code, _ := request(t, c, "POST", cancelURL, "Bearer "+token, "X-Crew-Request", "cancel", "Origin", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("cancel from another origin: %d, want 403", code)
	}
	if code, body := request(t, c, "POST", cancelURL, "Bearer "+token, "X-Crew-Request", "cancel"); code != http.StatusConflict || !strings.Contains(body, "finished") {
		t.Errorf("cancel of a finished run: %d %s, want 409 saying it finished", code, body)
	}

	// A run being deleted (retention, or by hand) half-way: its record
	// gone, its results still there. Its page says so; the rest goes on.
	nc, err := nats.Connect(b.URL(), nats.Token(token))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctx, cluster.RunsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, run); err != nil {
		t.Fatal(err)
	}
	if code, body := request(t, c, "GET", dash+"api/runs/"+run, "Bearer "+token); code != http.StatusNotFound || !strings.Contains(body, "no such run") {
		t.Errorf("deleted run: %d %s, want 404 saying no such run", code, body)
	}
	if code, body := request(t, c, "GET", dash+"api/events?run="+run, "Bearer "+token); code != 200 || !strings.Contains(body, `"error":"cluster: no such run`) || !strings.Contains(body, `"overview":{"time"`) {
		t.Errorf("events of a deleted run: %d %.300s, want the overview and the run's error", code, body)
	}
	for _, id := range []string{"nosuchrun", "bad..id"} {
		if code, body := request(t, c, "GET", dash+"api/runs/"+id, "Bearer "+token); code != http.StatusNotFound || !strings.Contains(body, "no such run") {
			t.Errorf("unknown run %q: %d %s, want 404 saying no such run", id, code, body)
		}
		if code, body := request(t, c, "POST", dash+"api/runs/"+id+"/cancel", "Bearer "+token, "X-Crew-Request", "cancel"); code != http.StatusNotFound {
			t.Errorf("cancel of unknown run %q: %d %s, want 404", id, code, body)
		}
	}
}

// TestHTTPUserPassword: a broker with a user and password asks the same
// of the dashboard's visitors; loopback without credentials answers
// only to loopback's names (no DNS rebinding).
func TestHTTPUserPassword(t *testing.T) {
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), User: "ann", Password: "pw-1", HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := &http.Client{}
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", 401}, {basic("ann", "pw-2"), 401}, {basic("bob", "pw-1"), 401}, {"Bearer pw-1", 401}, {basic("ann", "pw-1"), 200},
	} {
		if code, _ := request(t, c, "GET", b.DashboardURL()+"api/overview", tc.auth); code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, code, tc.want)
		}
	}

	open, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if code, _ := request(t, c, "GET", open.DashboardURL()+"api/overview", ""); code != 200 {
		t.Errorf("loopback dashboard without credentials: %d, want 200", code)
	}
	req, _ := http.NewRequest("GET", open.DashboardURL()+"api/overview", nil)
	req.Host = "rebound.example:8222"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Host rebound.example: %d, want 403", resp.StatusCode)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), HTTPAddr: addr})
		if err == nil {
			b.Close()
		}
		if want := addr != ":0"; errors.Is(err, cluster.ErrAuthRequired) != want {
			t.Errorf("dashboard on %s without credentials: %v, want ErrAuthRequired %v", addr, err, want)
		}
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crew test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestHTTPTLS: a broker with TLS serves its dashboard and metrics over
// HTTPS only.
func TestHTTPTLS(t *testing.T) {
	cert, key, pool := selfSigned(t, t.TempDir())
	b, err := cluster.StartBroker(cluster.BrokerConfig{
		Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "tls-token", TLSCert: cert, TLSKey: key,
		HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, u := range []string{b.DashboardURL() + "api/overview", b.MetricsURL()} {
		if !strings.HasPrefix(u, "https://") {
			t.Fatalf("URL %s, want https", u)
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		if code, body := request(t, c, "GET", u, "Bearer tls-token"); code != 200 {
			t.Errorf("%s over TLS: %d %.200s", u, code, body)
		}
		plain := "http://" + strings.TrimPrefix(u, "https://")
		if resp, err := http.Get(plain); err == nil {
			if resp.StatusCode == 200 {
				t.Errorf("%s answered plain HTTP", plain)
			}
			resp.Body.Close()
		}
	}
}

// TestWorkerMetricsAuth: a worker's metrics beyond loopback need the
// worker's credentials, asked of every scrape; without credentials such
// an address is refused at once.
func TestWorkerMetricsAuth(t *testing.T) {
	const token = "worker-metrics-token"
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: b.URL()}, Executor: runner.Local{}, Metrics: cluster.HTTPConfig{Addr: "0.0.0.0:0"},
	}); !errors.Is(err, cluster.ErrAuthRequired) {
		t.Errorf("worker metrics on 0.0.0.0 without credentials: %v, want ErrAuthRequired", err)
	}
	ip := outsideIP()
	if ip == "" {
		ip = "127.0.0.1"
	}
	port := freePort(t)
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: b.URL(), Credentials: cluster.Credentials{Token: token}},
		Executor:   runner.Local{}, Logger: discardLogger(),
		Metrics: cluster.HTTPConfig{Addr: "0.0.0.0:" + strconv.Itoa(port), Token: token},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		stop()
		<-done
	}()
	u := "http://" + net.JoinHostPort(ip, strconv.Itoa(port)) + "/metrics"
	c := &http.Client{}
	wait.For(t, "the worker's metrics to answer", func() bool {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer nope", 401}, {"Bearer " + token, 200}, {basic("x", token), 200}} {
		if code, body := request(t, c, "GET", u, tc.auth); code != tc.want || (code == 200 && !strings.Contains(body, "crew_worker_slots 1")) {
			t.Errorf("worker metrics with %q: %d, want %d: %.100s", tc.auth, code, tc.want, body)
		}
	}
}
