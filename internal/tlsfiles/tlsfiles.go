// Package tlsfiles serves TLS from certificate files that may change: a
// listener's certificate and key, and optionally the CA whose client
// certificates it accepts (mTLS). The files are looked at again at most
// once a second, on a handshake, and reloaded when they changed, so a
// rotated certificate is served without a restart; a reload that fails
// (a half-written pair) keeps the last good one. No goroutine runs.
package tlsfiles

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ClientAuth is how a listener treats client certificates.
type ClientAuth int

const (
	// NoClientCert asks for none.
	NoClientCert ClientAuth = iota
	// RequireClientCert refuses a handshake without a certificate the CA
	// signed.
	RequireClientCert
	// VerifyClientCertIfGiven verifies a certificate a client sends and
	// lets one without through; the server decides per request (health
	// probes without one, the API only with one).
	VerifyClientCertIfGiven
)

// Files names a listener's certificate files.
type Files struct {
	Cert, Key string
	// ClientCA, when set, is the PEM bundle client certificates are
	// verified against.
	ClientCA   string
	ClientAuth ClientAuth
	// OnReloadError is told of a change that could not be loaded.
	OnReloadError func(error)
}

// checkEvery is how often a handshake may look at the files.
const checkEvery = time.Second

// Source is the current certificate (and client CA) of Files.
type Source struct {
	files Files

	mu        sync.Mutex
	checked   time.Time
	stamp     []byte // the files' sizes and times at the last load
	cert      *tls.Certificate
	clientCAs *x509.CertPool
}

// Load reads the files once; an error names the file and the reason.
func Load(f Files) (*Source, error) {
	if f.ClientCA == "" && f.ClientAuth != NoClientCert {
		return nil, errors.New("a client certificate mode needs a client CA file")
	}
	if f.ClientCA != "" && f.ClientAuth == NoClientCert {
		f.ClientAuth = RequireClientCert
	}
	s := &Source{files: f}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.checked = time.Now()
	return s, nil
}

func (s *Source) paths() []string {
	p := []string{s.files.Cert, s.files.Key}
	if s.files.ClientCA != "" {
		p = append(p, s.files.ClientCA)
	}
	return p
}

// stampOf is the sizes and modification times of the files.
func (s *Source) stampOf() ([]byte, error) {
	var b []byte
	for _, p := range s.paths() {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		b = fmt.Appendf(b, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return b, nil
}

func (s *Source) load() error {
	stamp, err := s.stampOf()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("certificate %s, key %s: %w", s.files.Cert, s.files.Key, err)
	}
	var pool *x509.CertPool
	if s.files.ClientCA != "" {
		pem, err := os.ReadFile(s.files.ClientCA)
		if err != nil {
			return err
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client CA %s: no PEM certificate in it", s.files.ClientCA)
		}
	}
	s.cert, s.clientCAs, s.stamp = &cert, pool, stamp
	return nil
}

// current returns the certificate and CA pool, reloading changed files.
func (s *Source) current() (*tls.Certificate, *x509.CertPool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Sub(s.checked) >= checkEvery {
		s.checked = now
		if stamp, err := s.stampOf(); err == nil && !bytes.Equal(stamp, s.stamp) {
			if err := s.load(); err != nil && s.files.OnReloadError != nil {
				s.files.OnReloadError(err)
			}
		} else if err != nil && s.files.OnReloadError != nil {
			s.files.OnReloadError(err)
		}
	}
	return s.cert, s.clientCAs
}

// Config is a server TLS configuration serving the current files, with
// the given ALPN protocols (gRPC needs "h2").
func (s *Source) Config(nextProtos ...string) *tls.Config {
	build := func() *tls.Config {
		cert, pool := s.current()
		c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, NextProtos: nextProtos}
		switch s.files.ClientAuth {
		case RequireClientCert:
			c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, pool
		case VerifyClientCertIfGiven:
			c.ClientAuth, c.ClientCAs = tls.VerifyClientCertIfGiven, pool
		}
		return c
	}
	base := build()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return build(), nil }
	return base
}
