// Package testkube gives tests the real Kubernetes API server that
// scripts/kube-apiserver.sh starts (scripts/go-test.sh starts it and
// exports FEASTGO_TEST_KUBE_*): tokens of its service accounts and users,
// and the in-cluster environment of a feature server running in it. Test
// code only.
//
// The cluster's objects are scripts/kube-apiserver/objects.json:
// namespaces feast and ml; service accounts feast/feature-server (the
// server's own, allowed to review tokens and read RBAC), feast/reader,
// feast/writer, feast/nobody and ml/trainer; RoleBindings that give them
// roles in feast. Static user tokens: jane (groups data-science, analysts)
// and joe (group outsiders).
//
// Run alone (`go test ./...`) a test needing the API server is skipped;
// under FEASTGO_INTEGRATION=1 (scripts/go-test.sh) a missing one fails it.
package testkube

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"
)

// ServiceAccountDirEnv is auth/kubernetes.ServiceAccountDirEnv (not
// imported, so that the package under test can use this one).
const ServiceAccountDirEnv = "FEATURE_SERVER_SERVICEACCOUNT_DIR"

// Cluster is the running API server.
type Cluster struct {
	Host, Port string
	// URL is https://Host:Port.
	URL string
	// CAFile verifies the API server's certificate.
	CAFile string
	// SADir holds the feature server's own service-account files (token,
	// ca.crt, namespace "feast"), as a pod has them mounted.
	SADir  string
	admin  string
	client *http.Client
}

// Get returns the cluster, skipping t when none was started.
func Get(t testing.TB) *Cluster {
	t.Helper()
	host, port := os.Getenv("FEASTGO_TEST_KUBE_HOST"), os.Getenv("FEASTGO_TEST_KUBE_PORT")
	if host == "" || port == "" {
		if testenv.Integration() {
			t.Fatal("FEASTGO_TEST_KUBE_HOST is not set but FEASTGO_INTEGRATION is: scripts/go-test.sh should have started the API server (scripts/kube-apiserver.sh)")
		}
		t.Skip("FEASTGO_TEST_KUBE_HOST/_PORT not set: needs the kube-apiserver that scripts/go-test.sh starts (scripts/kube-apiserver.sh)")
	}
	c := &Cluster{Host: host, Port: port, URL: "https://" + net.JoinHostPort(host, port),
		CAFile: os.Getenv("FEASTGO_TEST_KUBE_CA"), SADir: os.Getenv("FEASTGO_TEST_KUBE_SA_DIR")}
	admin, err := os.ReadFile(os.Getenv("FEASTGO_TEST_KUBE_ADMIN_TOKEN_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	c.admin = string(bytes.TrimSpace(admin))
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return c
}

// InClusterEnv sets the environment of a feature server running as
// feast/feature-server in namespace feast: KUBERNETES_SERVICE_HOST and
// _PORT, and the service-account directory.
func (c *Cluster) InClusterEnv(t testing.TB) {
	t.Helper()
	t.Setenv("KUBERNETES_SERVICE_HOST", c.Host)
	t.Setenv("KUBERNETES_SERVICE_PORT", c.Port)
	t.Setenv(ServiceAccountDirEnv, c.SADir)
}

// SAToken is a fresh token of service account ns/name (TokenRequest, an
// hour long).
func (c *Cluster) SAToken(t testing.TB, ns, name string) string {
	t.Helper()
	body := `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3600}}`
	req, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/namespaces/"+ns+"/serviceaccounts/"+name+"/token", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+c.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("TokenRequest for %s/%s: %s", ns, name, resp.Status)
	}
	var out struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Status.Token
}

// UserToken is the static token of user jane or joe.
func (c *Cluster) UserToken(name string) string { return name + "-token-" + c.admin }
