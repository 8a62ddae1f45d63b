package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"time"
)

// ErrNoPEM is HTTPClient's answer to a CA bundle without a certificate.
var ErrNoPEM = errors.New("holds no PEM certificate")

// HTTPClient is the client of a token verifier's calls (an identity
// provider, the Kubernetes API server): TLS 1.2 or later, verified against
// caPEM when given (else the system's roots), or not verified at all when
// insecure.
func HTTPClient(caPEM []byte, insecure bool, timeout time.Duration) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		tc.InsecureSkipVerify = true
	} else if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, ErrNoPEM
		}
		tc.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}
