package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/internal/testrepo"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	"github.com/feastgo/feastgo/registry/remoteregistry"
)

// testCA issues the certificates of the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key (PEM) with the given serial, for
// the loopback server or for a client.
func (ca *testCA) issue(t *testing.T, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "feature-server test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsServer runs serve with HTTP, gRPC and the offline port on TLS,
// client certificates verified against ca in the given mode.
type tlsServer struct {
	ca                          *testCA
	dir                         string
	httpPort, grpcPort, offPort int
	clientCert                  tls.Certificate
}

func startTLSServer(t *testing.T, mode string) *tlsServer {
	t.Helper()
	s := &tlsServer{ca: newTestCA(t), dir: t.TempDir()}
	cp, kp := s.ca.issue(t, 100, false)
	writeFile(t, filepath.Join(s.dir, "cert.pem"), cp)
	writeFile(t, filepath.Join(s.dir, "key.pem"), kp)
	writeFile(t, filepath.Join(s.dir, "ca.pem"), s.ca.pem)
	ccp, ckp := s.ca.issue(t, 200, true)
	cc, err := tls.X509KeyPair(ccp, ckp)
	if err != nil {
		t.Fatal(err)
	}
	s.clientCert = cc
	s.httpPort, s.grpcPort, s.offPort = testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	repo := testrepo.Copy(t, filepath.Join("..", "..", "offlinestore", "testdata", "historical", "repo"))
	args := []string{"-c", repo, "serve", "-p", fmt.Sprint(s.httpPort), "--grpc-port", fmt.Sprint(s.grpcPort),
		"--offline-port", fmt.Sprint(s.offPort), "--no-materialize-if-empty",
		"--key", filepath.Join(s.dir, "key.pem"), "--cert", filepath.Join(s.dir, "cert.pem"), "--client-ca", filepath.Join(s.dir, "ca.pem")}
	if mode != "" {
		args = append(args, "--client-cert", mode)
	}
	startServerArgs(t, args)
	return s
}

// clientTLS trusts the test CA, with the client certificate or without.
func (s *tlsServer) clientTLS(withCert bool) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ca.pem)
	c := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{s.clientCert}
	}
	return c
}

func (s *tlsServer) post(t *testing.T, withCert bool, path, body string) (int, error) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.clientTLS(withCert)}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Post(fmt.Sprintf("https://127.0.0.1:%d%s", s.httpPort, path), "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *tlsServer) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.offPort), s.clientTLS(true))
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const tlsRead = `{"features":["driver_stats:conv_rate"],"entities":{"driver_id":[1001]}}`

// Every listener of serve speaks TLS with the --key/--cert pair, requires
// a client certificate the --client-ca signed, and serves a rotated
// certificate to new connections without a restart.
func TestTLSOnEveryListenerWithClientCertificates(t *testing.T) {
	s := startTLSServer(t, "")
	s.waitUp(t)

	// HTTP.
	if st, err := s.post(t, true, "/get-online-features", tlsRead); err != nil || st == http.StatusUnauthorized {
		t.Fatalf("HTTPS with a client certificate: %d %v", st, err)
	}
	if _, err := s.post(t, false, "/get-online-features", tlsRead); err == nil {
		t.Fatal("HTTPS without a client certificate: the handshake passed")
	}

	// gRPC.
	dial := func(port int, withCert bool) *grpc.ClientConn {
		conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(credentials.NewTLS(s.clientTLS(withCert))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(dial(s.grpcPort, true)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("gRPC with a client certificate: %v", err)
	}
	if _, err := healthpb.NewHealthClient(dial(s.grpcPort, false)).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC without a client certificate: %v, want the handshake refused", err)
	}

	// Arrow Flight: a training set over TLS.
	fc, err := flight.NewClientWithMiddleware(fmt.Sprintf("127.0.0.1:%d", s.offPort), nil, nil,
		grpc.WithTransportCredentials(credentials.NewTLS(s.clientTLS(true))))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	if got, err := trainingSet(fc); err != nil || got != "conv_rate=[0.21]" {
		t.Fatalf("Flight over TLS: %q %v", got, err)
	}

	// Rotation: new files, and new connections get the new certificate.
	serial := func() int64 {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.httpPort), s.clientTLS(true))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if n := serial(); n != 100 {
		t.Fatalf("serial %d, want 100", n)
	}
	cp, kp := s.ca.issue(t, 101, false)
	// Written as a rotation tool does: a new file renamed over the old.
	for name, b := range map[string][]byte{"key.pem": kp, "cert.pem": cp} {
		tmp := filepath.Join(s.dir, name+".new")
		writeFile(t, tmp, b)
		if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for serial() != 101 {
		if time.Now().After(deadline) {
			t.Fatal("the rotated certificate was not served within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Half-written files: the last good certificate stays.
	writeFile(t, filepath.Join(s.dir, "cert.pem"), []byte("-----BEGIN CERTIFICATE-----\ngarbage"))
	time.Sleep(1200 * time.Millisecond)
	if n := serial(); n != 101 {
		t.Fatalf("after a bad write: serial %d, want the last good 101", n)
	}
}

// --client-cert if-given: health answers a client without a certificate,
// the API and RPCs refuse one.
func TestClientCertificateIfGiven(t *testing.T) {
	s := startTLSServer(t, "if-given")
	s.waitUp(t)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.clientTLS(false)}, Timeout: 10 * time.Second}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/health/live", s.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health/live without a certificate: %d", resp.StatusCode)
	}
	if st, err := s.post(t, false, "/get-online-features", tlsRead); err != nil || st != http.StatusUnauthorized {
		t.Fatalf("a read without a certificate: %d %v, want 401", st, err)
	}
	if st, err := s.post(t, true, "/get-online-features", tlsRead); err != nil || st == http.StatusUnauthorized {
		t.Fatalf("a read with a certificate: %d %v", st, err)
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", s.grpcPort), grpc.WithTransportCredentials(credentials.NewTLS(s.clientTLS(false))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("gRPC health without a certificate: %v", err)
	}
	_, err = servingpb.NewServingServiceClient(conn).GetFeastServingInfo(ctx, &servingpb.GetFeastServingInfoRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC without a certificate: %v, want Unauthenticated", err)
	}
}

// serve_registry on TLS with client certificates: our remote registry
// client (registry.cert, client_cert, client_key, as feature_store.yaml
// gives them) reads the registry through it; without its certificate
// the handshake is refused.
func TestServeRegistryTLSWithClientCertificates(t *testing.T) {
	ca, dir := newTestCA(t), t.TempDir()
	cp, kp := ca.issue(t, 100, false)
	ccp, ckp := ca.issue(t, 200, true)
	for name, b := range map[string][]byte{"cert.pem": cp, "key.pem": kp, "ca.pem": ca.pem, "client.pem": ccp, "client-key.pem": ckp} {
		writeFile(t, filepath.Join(dir, name), b)
	}
	repo := testrepo.Copy(t, filepath.Join("..", "..", "offlinestore", "testdata", "historical", "repo"))
	port := testenv.FreePort(t)
	startServerArgs(t, []string{"-c", repo, "serve_registry", "-h", "127.0.0.1", "-p", fmt.Sprint(port),
		"--key", filepath.Join(dir, "key.pem"), "--cert", filepath.Join(dir, "cert.pem"), "--client-ca", filepath.Join(dir, "ca.pem")})
	fetch := func(withCert bool) error {
		cfg := remoteregistry.Config{Target: fmt.Sprintf("127.0.0.1:%d", port), Cert: filepath.Join(dir, "ca.pem"),
			Project: "historical_conformance", Timeout: 5 * time.Second}
		if withCert {
			cfg.ClientCert, cfg.ClientKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
		}
		src, err := remoteregistry.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		_, err = src.Fetch(context.Background())
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for err := fetch(true); err != nil; err = fetch(true) {
		if time.Now().After(deadline) {
			t.Fatalf("the registry over mTLS: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := fetch(false); err == nil {
		t.Fatal("without a client certificate the registry was served")
	}
}
