package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// gcsEndpoint is the fake-gcs-server scripts/go-test.sh starts, or a skip.
func gcsEndpoint(t *testing.T) string {
	t.Helper()
	endpoint := testenv.Service(t, "FEASTGO_TEST_GCS_ENDPOINT")
	t.Setenv("STORAGE_EMULATOR_HOST", endpoint)
	return endpoint
}

// createBucket makes a bucket through the JSON API, as `gsutil mb` would.
func createBucket(t *testing.T, endpoint, name string) {
	t.Helper()
	resp, err := http.Post(endpoint+"/storage/v1/b?project=test", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create bucket %s: %s", name, resp.Status)
	}
}

// TestGCSSource reads, refreshes and writes a registry on a real
// GCS-compatible server, the way `feast apply` leaves it at gs://.
func TestGCSSource(t *testing.T) {
	endpoint := gcsEndpoint(t)
	ctx := context.Background()
	// Unique per run: the server outlives one `go test -count=N`.
	bucket := fmt.Sprintf("feast-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	createBucket(t, endpoint, bucket)

	src, err := NewSource(ctx, "gs://"+bucket+"/deep/dir/registry.pb", "/repo")
	if err != nil {
		t.Fatal(err)
	}
	gcs, ok := src.(*GCSSource)
	if !ok {
		t.Fatalf("gs:// gave a %T", src)
	}
	if got := gcs.Location(); got != "gs://"+bucket+"/deep/dir/registry.pb" {
		t.Fatalf("location %s", got)
	}

	// Before `feast apply` there is no object: an error naming the path.
	if _, err := Open(ctx, src, Options{Project: "p"}); err == nil || !strings.Contains(err.Error(), "registry not found at path") {
		t.Fatalf("a missing object must be a clear error, got %v", err)
	}

	put := func(reg *corepb.Registry) {
		b, _ := proto.Marshal(reg)
		if err := gcs.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	put(testRegistry("p", "a"))
	r, err := Open(ctx, src, Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Current().View("a"); !ok {
		t.Fatal("view a missing")
	}
	put(testRegistry("p", "a", "b"))
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Current().View("b"); !ok {
		t.Fatal("refresh from GCS did not pick up view b")
	}

	// Materialization records its interval through the same object.
	start, end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	err = Update(ctx, src, end, func(reg *corepb.Registry) error {
		return RecordMaterialization(reg, "p", "a", start, end, end)
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := &corepb.Registry{}
	if err := proto.Unmarshal(b, got); err != nil {
		t.Fatal(err)
	}
	var intervals int
	for _, fv := range got.FeatureViews {
		if fv.GetSpec().GetName() == "a" {
			intervals = len(fv.GetMeta().GetMaterializationIntervals())
		}
	}
	if intervals != 1 {
		t.Fatalf("view a has %d materialization intervals after Update, want 1", intervals)
	}
}

// TestGCSSourceMissingBucket names the bucket problem rather than failing
// later with a parse error.
func TestGCSSourceMissingBucket(t *testing.T) {
	gcsEndpoint(t)
	src, err := NewSource(context.Background(), "gs://no-such-bucket-here/registry.pb", "/repo")
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gs://no-such-bucket-here/registry.pb") {
		t.Fatalf("want an error naming the path, got %v", err)
	}
	if err := src.(*GCSSource).Put(context.Background(), []byte("x")); err == nil {
		t.Fatal("an upload into a missing bucket must fail")
	}
}

// TestGCSSourceNeedsBucketAndObject refuses gs:// paths without either.
func TestGCSSourceNeedsBucketAndObject(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
	for _, p := range []string{"gs://bucket", "gs://bucket/", "gs:///registry.pb"} {
		if _, err := NewSource(context.Background(), p, "/repo"); err == nil || !strings.Contains(err.Error(), "registry.path") {
			t.Errorf("%s: want a registry.path error, got %v", p, err)
		}
	}
}
