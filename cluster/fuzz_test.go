package cluster_test

import (
	"bytes"
	"strings"
	"testing"

	"crew/cluster"
)

// The decoders face whatever anyone publishes to the jobs subject or the
// results bucket: they must return errors, never panic.
func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(`{"key":"run.1.1","seq":1,"command":"echo hi"}`))
	f.Add([]byte(`{"key":"run.2.1","seq":2,"argv":["ls","-l"],"stdin":"aGk=","timeout":1000000000}`))
	f.Add([]byte(`{"key":"..","command":"x"}`))
	f.Add([]byte(`{"key":"run.b1","jobs":[{"key":"run.1.1","seq":1,"command":"true"},{"key":"run.2.1","seq":2,"argv":["ls"]}]}`))
	f.Add([]byte(`{"key":"run.b2","jobs":[]}`))
	f.Add([]byte(`{"key":"run.b3","jobs":[{"key":"","command":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = cluster.DecodeJob(b)
	})
}

func FuzzDecodeResult(f *testing.F) {
	f.Add([]byte(`{"seq":1,"host":"w1","exit":0,"stdout":"aGkK"}`))
	f.Add([]byte(`{"seq":2,"exit":-1,"dead":true,"err":"no result after 5 deliveries"}`))
	f.Add([]byte(`{"seq":3,"object":"out.x","stdout":"eA=="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = cluster.DecodeResult(b)
	})
}

// FuzzOutput checks that packed output unpacks to what was packed, and
// that arbitrary objects unpack without panicking.
func FuzzOutput(f *testing.F) {
	f.Add([]byte("out"), []byte("err"))
	f.Add([]byte{}, []byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		out, errOut, err := cluster.UnpackOutput(cluster.PackOutput(a, b))
		if err != nil || !bytes.Equal(out, a) || !bytes.Equal(errOut, b) {
			t.Fatalf("round trip of %q, %q gave %q, %q, %v", a, b, out, errOut, err)
		}
		_, _, _ = cluster.UnpackOutput(a)
	})
}

func TestLoopbackOnly(t *testing.T) {
	cases := []struct {
		url  string
		want bool
	}{
		{"nats://127.0.0.1:4222", true},
		{"nats://localhost:4222", true},
		{"nats://[::1]:4222", true},
		{"127.0.0.1:4222", true},
		{"nats://127.0.0.1:4222,nats://10.0.0.2:4222", false},
		{"nats://10.0.0.2:4222", false},
		{"tls://example.com:4222", false},
		{"nats://0.0.0.0:4222", false},
	}
	for _, c := range cases {
		if got := cluster.LoopbackOnly(c.url); got != c.want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", c.url, got, c.want)
		}
	}
}

// FuzzRedact: whatever the URL list, a password placed in it never
// survives redaction.
func FuzzRedact(f *testing.F) {
	f.Add("nats://u:p@127.0.0.1:4222", "s3cretpw")
	f.Add("nats://a:b@h1:1,tls://c:d@h2:2", "hunter22")
	f.Add("nats://tok@host:4222", "tokentok")
	f.Fuzz(func(t *testing.T, list, pw string) {
		if len(pw) < 4 || strings.ContainsAny(pw, "@,/:*") || strings.Contains(list, pw) {
			return
		}
		u := "nats://user:" + pw + "@host:4222"
		for _, in := range []string{u, list + "," + u, u + "," + list} {
			if got := cluster.Redact(in); strings.Contains(got, pw) {
				t.Fatalf("Redact(%q) = %q keeps the password", in, got)
			}
		}
	})
}
