package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/agent"
	"vigil/server/api"
	"vigil/translog"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
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
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	s, _ := startServer(t, Options{DataDir: t.TempDir(), TLSCert: certFile, TLSKey: keyFile})
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %q is not https", s.URL())
	}
	for _, u := range s.Bus().ClientURLs() {
		if !strings.HasPrefix(u, "tls://") {
			t.Errorf("NATS URL %q is not tls://", u)
		}
	}
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: 10 * time.Second}
	resp, err := client.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("/healthz over TLS: %d %q", resp.StatusCode, body)
	}
	// Plain HTTP to the TLS port gets no API answer.
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.URL(), "https://") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP answered 200 on the TLS port")
		}
	}
	// A plain NATS client is refused by the embedded server.
	if nc, err := nats.Connect(strings.Replace(s.Bus().ClientURLs()[0], "tls://", "nats://", 1), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Errorf("a client without TLS connected to NATS")
	}

	// A real agent over TLS runs a hunt.
	admin := s.AdminToken()
	var tc api.TokenCreated
	mustCallClient(t, client, s, "POST", "/api/v1/tokens", admin, `{}`, &tc)
	// An approver with a key, before the agent enrolls (it trusts the
	// approvers named at enrollment).
	var oc api.OperatorCreated
	mustCallClient(t, client, s, "POST", "/api/v1/operators", admin, `{"name":"alice","role":"approver"}`, &oc)
	signer, vkey := newNoteKey(t, "alice")
	var op api.Operator
	mustCallClient(t, client, s, "PUT", "/api/v1/whoami/key", oc.Token, `{"key":`+jsonString(vkey)+`}`, &op)
	a, err := agent.New(agent.Options{
		StateDir: t.TempDir(), Server: s.URL(), Token: tc.Secret, Version: "test",
		HTTPClient: client, NATSOptions: []nats.Option{nats.Secure(tlsConf)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	aID := agentID(t, a)
	dir, want := huntFiles(t, 3)
	var h api.Hunt
	mustCallClient(t, client, s, "POST", "/api/v1/hunts", admin, `{"rules":`+jsonString(rulesOK)+`,"paths":[`+jsonString(dir)+`],"why":"tls test"}`, &h)
	ae, err := translog.NewApproval(signer, vkey, []byte(h.Entry), h.LogIndex, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	entry, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var got api.Hunt
	mustCallClient(t, client, s, "POST", "/api/v1/hunts/"+h.ID+"/approve", oc.Token, `{"entry":`+jsonString(string(entry))+`}`, &got)
	eventually(t, "hunt done over TLS", func() bool {
		mustCallClient(t, client, s, "GET", "/api/v1/hunts/"+h.ID, admin, "", &got)
		return got.Progress.Agents == 1 && got.Progress.Done == 1
	})
	if got.Progress.Results != int64(len(want)) {
		t.Fatalf("%d results over TLS, want %d", got.Progress.Results, len(want))
	}
	var page api.ResultPage
	mustCallClient(t, client, s, "GET", "/api/v1/hunts/"+h.ID+"/results", admin, "", &page)
	checkResults(t, page.Results, aID, want)
}
