package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// gcsScope is the OAuth scope a registry needs: it reads the object and,
// when materialization records intervals, writes it.
const gcsScope = "https://www.googleapis.com/auth/devstorage.read_write"

// maxRegistryBytes bounds a downloaded registry blob, so a wrong path
// (a huge object) fails clearly rather than exhausting memory.
const maxRegistryBytes = 1 << 30

// GCSSource reads a registry object from Google Cloud Storage through its
// JSON API, as Feast's GCSRegistryStore does with google-cloud-storage.
//
// STORAGE_EMULATOR_HOST (the variable Google's client libraries honour)
// points it at an emulator such as fake-gcs-server, without credentials;
// otherwise Application Default Credentials authorize each call
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, or the
// metadata server).
type GCSSource struct {
	Bucket, Object string
	base           string // API root, without a trailing slash
	client         *http.Client
}

// NewGCSSource builds a GCS source for gs://bucket/object.
func NewGCSSource(ctx context.Context, bucket, object string) (*GCSSource, error) {
	if bucket == "" || object == "" {
		return nil, fmt.Errorf("registry.path: gs://%s/%s needs a bucket and an object name", bucket, object)
	}
	if host := os.Getenv("STORAGE_EMULATOR_HOST"); host != "" {
		base := strings.TrimRight(host, "/")
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		return &GCSSource{Bucket: bucket, Object: object, base: base, client: &http.Client{}}, nil
	}
	creds, err := google.FindDefaultCredentials(ctx, gcsScope)
	if err != nil {
		return nil, fmt.Errorf("registry: Google Cloud credentials for gs://%s/%s: %w", bucket, object, err)
	}
	// The client outlives ctx (it serves every later refresh), so its
	// token source must not be tied to the start-up context.
	client := oauth2.NewClient(context.Background(), creds.TokenSource)
	return &GCSSource{Bucket: bucket, Object: object, base: "https://storage.googleapis.com", client: client}, nil
}

// Fetch downloads the object. A missing bucket or object is an error that
// says which, as Feast's store does.
func (g *GCSSource) Fetch(ctx context.Context) ([]byte, error) {
	u := g.base + "/storage/v1/b/" + url.PathEscape(g.Bucket) + "/o/" + url.PathEscape(g.Object) + "?alt=media"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", g.Location(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, fmt.Errorf("registry not found at path %q (no such bucket or object); have you run \"feast apply\"?", g.Location())
	}
	if resp.StatusCode != http.StatusOK {
		return nil, g.statusError("download", resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", g.Location(), err)
	}
	if len(b) > maxRegistryBytes {
		return nil, fmt.Errorf("registry %s: object is larger than %d bytes", g.Location(), maxRegistryBytes)
	}
	return b, nil
}

// Put uploads a new registry blob in one request; GCS replaces an object
// atomically, so a reader sees the old or the new blob.
func (g *GCSSource) Put(ctx context.Context, b []byte) error {
	u := g.base + "/upload/storage/v1/b/" + url.PathEscape(g.Bucket) + "/o?uploadType=media&name=" + url.QueryEscape(g.Object)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("registry %s: %w", g.Location(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return g.statusError("upload", resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return nil
}

// statusError turns a non-2xx answer into an error carrying the API's own
// message (the JSON body's error.message, or the first bytes of the body).
func (g *GCSSource) statusError(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = resp.Status
	}
	return fmt.Errorf("registry %s: %s: %w", g.Location(), op, &GCSStatusError{Code: resp.StatusCode, Message: msg})
}

// GCSStatusError is a GCS answer other than success or not-found.
type GCSStatusError struct {
	Code    int
	Message string
}

func (e *GCSStatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Message) }

// Location is the gs:// URI.
func (g *GCSSource) Location() string { return "gs://" + g.Bucket + "/" + g.Object }
