package registry

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

func testRegistry(project string, views ...string) *corepb.Registry {
	reg := &corepb.Registry{
		VersionId: "v-" + strings.Join(views, "-"),
		Projects:  []*corepb.Project{{Spec: &corepb.ProjectSpec{Name: project}}},
		Entities: []*corepb.Entity{
			{Spec: &corepb.EntitySpecV2{Name: "driver", JoinKey: "driver_id", ValueType: typespb.ValueType_INT64, Project: project}},
			{Spec: &corepb.EntitySpecV2{Name: "other", JoinKey: "x", ValueType: typespb.ValueType_STRING, Project: "elsewhere"}},
		},
	}
	for _, v := range views {
		reg.FeatureViews = append(reg.FeatureViews, &corepb.FeatureView{Spec: &corepb.FeatureViewSpec{
			Name: v, Project: project, Entities: []string{"driver"},
			EntityColumns: []*corepb.FeatureSpecV2{{Name: "driver_id", ValueType: typespb.ValueType_INT64}},
			Features:      []*corepb.FeatureSpecV2{{Name: "conv_rate", ValueType: typespb.ValueType_FLOAT}},
		}})
	}
	// A view of another project with the same name must stay invisible.
	reg.FeatureViews = append(reg.FeatureViews, &corepb.FeatureView{Spec: &corepb.FeatureViewSpec{Name: "hidden", Project: "elsewhere"}})
	return reg
}

func writeRegistry(t *testing.T, path string, reg *corepb.Registry) {
	t.Helper()
	b, err := proto.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestCompileFiltersByProject(t *testing.T) {
	snap, err := Compile(testRegistry("p", "stats"), "p", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.View("stats"); !ok {
		t.Fatal("view of the project missing")
	}
	if _, ok := snap.View("hidden"); ok {
		t.Fatal("view of another project visible")
	}
	if _, ok := snap.Entity("other"); ok {
		t.Fatal("entity of another project visible")
	}
	if len(snap.Projects) != 1 || snap.Projects[0] != "p" {
		t.Fatalf("projects %v", snap.Projects)
	}
}

func TestRefreshSwapsAndKeepsLastGoodOnCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.db")
	writeRegistry(t, path, testRegistry("p", "a"))
	ctx := context.Background()
	r, err := Open(ctx, &FileSource{Path: path}, Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Current().View("a"); !ok {
		t.Fatal("initial load lacks view a")
	}
	writeRegistry(t, path, testRegistry("p", "a", "b"))
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := r.Current()
	if _, ok := good.View("b"); !ok {
		t.Fatal("refresh did not pick up view b")
	}
	if err := os.WriteFile(path, []byte("\xff\xff garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err == nil {
		t.Fatal("corrupt registry refreshed without error")
	}
	if r.Current() != good || r.LastError() == nil {
		t.Fatal("a failed refresh must keep the last good snapshot and remember the error")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(ctx); err == nil || r.Current() != good {
		t.Fatal("a missing registry must keep the last good snapshot")
	}
}

func TestOpenFailsOnMissingRegistry(t *testing.T) {
	_, err := Open(context.Background(), &FileSource{Path: filepath.Join(t.TempDir(), "nope.db")}, Options{Project: "p"})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

// Readers never block on a refresh: Current is an atomic load while Run
// refreshes concurrently (run with -race).
func TestRunRefreshesInBackgroundAndStops(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.db")
	writeRegistry(t, path, testRegistry("p", "a"))
	ctx, cancel := context.WithCancel(context.Background())
	r, err := Open(ctx, &FileSource{Path: path}, Options{Project: "p", RefreshInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(ctx) }()
	writeRegistry(t, path, testRegistry("p", "a", "c"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := r.Current().View("c"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background refresh never picked up view c")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait() // Run returns once ctx is done
}

func TestNewSourceSchemes(t *testing.T) {
	ctx := context.Background()
	cases := map[string]string{
		"data/registry.db":       "/repo/data/registry.db",
		"/abs/registry.db":       "/abs/registry.db",
		"file:///abs/r.db":       "/abs/r.db",
		"C:\\feast\\registry.db": "/repo/C:\\feast\\registry.db", // Python joins it so on POSIX
	}
	for in, want := range cases {
		src, err := NewSource(ctx, in, "/repo")
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := src.Location(); got != want {
			t.Errorf("%s: location %s, want %s", in, got, want)
		}
	}
	if _, err := NewSource(ctx, "az://bucket/registry.db", "/repo"); err == nil || !strings.Contains(err.Error(), "registry.path") {
		t.Fatalf("az:// must be refused with the field name, got %v", err)
	}
}

// TestS3Source reads a registry from a real S3-compatible server (moto,
// started by scripts/go-test.sh) and refreshes after the object changes.
func TestS3Source(t *testing.T) {
	endpoint := testenv.Service(t, "FEASTGO_TEST_S3_ENDPOINT")
	t.Setenv("FEAST_S3_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	bucket := "feast-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	src, err := NewSource(ctx, "s3://"+bucket+"/deep/registry.db", "/repo")
	if err != nil {
		t.Fatal(err)
	}
	s3src := src.(*S3Source)
	if _, err := s3src.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put := func(reg *corepb.Registry) {
		b, _ := proto.Marshal(reg)
		if _, err := s3src.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("deep/registry.db"), Body: bytes.NewReader(b)}); err != nil {
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
		t.Fatal("refresh from S3 did not pick up view b")
	}
}

// stagedSource serves blobs in call order; a call whose gate is set waits
// on it before answering, to hold a fetch in flight.
type stagedSource struct {
	mu    sync.Mutex
	calls int
	blobs [][]byte
	gates map[int]chan struct{}
	began chan int
}

func (s *stagedSource) Fetch(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	n := s.calls
	s.calls++
	gate := s.gates[n]
	s.mu.Unlock()
	if s.began != nil {
		s.began <- n
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.blobs[min(n, len(s.blobs)-1)], nil
}

func (s *stagedSource) Location() string { return "staged" }

func marshal(t *testing.T, reg *corepb.Registry) []byte {
	t.Helper()
	b, err := proto.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A refresh asked for while another is in flight runs after it, with its
// own fetch, so the older fetch never replaces the newer snapshot; readers
// keep the current snapshot meanwhile.
func TestRefreshesAreSerializedNewestWins(t *testing.T) {
	old, newer := marshal(t, testRegistry("p", "a")), marshal(t, testRegistry("p", "a", "b"))
	gate := make(chan struct{})
	src := &stagedSource{blobs: [][]byte{old, old, newer}, gates: map[int]chan struct{}{1: gate}, began: make(chan int, 4)}
	ctx := context.Background()
	r, err := Open(ctx, src, Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	<-src.began // Open's fetch
	first := r.Current()
	errs := make(chan error, 2)
	go func() { errs <- r.Refresh(ctx) }() // fetch 1: old, held
	if n := <-src.began; n != 1 {
		t.Fatalf("fetch %d began, want 1", n)
	}
	go func() { errs <- r.Refresh(ctx) }() // must wait, then fetch 2: newer
	select {
	case n := <-src.began:
		t.Fatalf("fetch %d began while fetch 1 was in flight", n)
	case <-time.After(50 * time.Millisecond):
	}
	if r.Current() != first {
		t.Fatal("readers must keep the current snapshot during a refresh")
	}
	close(gate)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := r.Current().View("b"); !ok {
		t.Fatal("the older fetch replaced the newer snapshot")
	}
}

// A registry file emptied under a running server (0 bytes, or only the
// commit header) decodes without error to a registry with no objects.
// Swapping it in would answer 404 to every read while /health said 200,
// so it is a failed refresh; an empty registry at start is still served.
func TestRefreshKeepsLastGoodOnEmptyRegistry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.db")
	writeRegistry(t, path, testRegistry("p", "a"))
	ctx := context.Background()
	r, err := Open(ctx, &FileSource{Path: path}, Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	good := r.Current()
	headerOnly, err := proto.Marshal(&corepb.Registry{RegistrySchemaVersion: "1", VersionId: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for name, blob := range map[string][]byte{"0 bytes": nil, "header only": headerOnly} {
		if err := os.WriteFile(path, blob, 0o644); err != nil {
			t.Fatal(err)
		}
		err := r.Refresh(ctx)
		if err == nil || !strings.Contains(err.Error(), "holds no objects") {
			t.Errorf("%s: refresh error %v, want a failed refresh", name, err)
		}
		if r.Current() != good || r.LastError() == nil {
			t.Errorf("%s: the last good registry must stay in force with the error remembered", name)
		}
		if _, ok := r.Current().View("a"); !ok {
			t.Errorf("%s: view a no longer served", name)
		}
	}
	// Recovers on the next good file.
	writeRegistry(t, path, testRegistry("p", "a", "b"))
	if err := r.Refresh(ctx); err != nil || r.LastError() != nil {
		t.Fatalf("refresh after the file came back: %v", err)
	}
	if _, ok := r.Current().View("b"); !ok {
		t.Fatal("refresh after the file came back did not pick up view b")
	}

	// A project with nothing in it yet is servable from the start, and an
	// empty registry may stay empty.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, &FileSource{Path: empty}, Options{Project: "p"})
	if err != nil {
		t.Fatalf("an empty registry at start: %v", err)
	}
	if err := os.WriteFile(empty, headerOnly, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Refresh(ctx); err != nil {
		t.Errorf("empty to empty: %v", err)
	}
	// An object of an unknown kind (a newer Feast) is not nothing.
	if holdsNothing(&corepb.Registry{Entities: []*corepb.Entity{{}}}) {
		t.Error("a registry with an entity holds something")
	}
	withUnknown := &corepb.Registry{}
	withUnknown.ProtoReflect().SetUnknown([]byte{0xfa, 0x07, 0x00}) // field 127, empty bytes
	if holdsNothing(withUnknown) {
		t.Error("unknown fields count as objects")
	}
}

// slowFirstSource answers its first fetch after Open with the old blob,
// only once the next fetch has completed (or once the test releases it,
// when the next fetch cannot start before it ends); every other fetch
// answers at once with the newest blob. Unserialized refreshes let the
// slow, older fetch land last and win.
type slowFirstSource struct {
	old, newest []byte
	calls       atomic.Int32
	secondDone  chan struct{}
	firstBegan  chan struct{}
	release     chan struct{}
}

func (s *slowFirstSource) Fetch(context.Context) ([]byte, error) {
	switch s.calls.Add(1) {
	case 1: // Open
		return s.old, nil
	case 2:
		close(s.firstBegan)
		select {
		case <-s.secondDone:
		case <-s.release:
		}
		return s.old, nil
	case 3:
		defer close(s.secondDone)
	}
	return s.newest, nil
}

func (s *slowFirstSource) Location() string { return "slow-first" }

// A refresh that began earlier and fetched slowly cannot replace the
// snapshot of a refresh that began later, and readers get the snapshot in
// force while a fetch is held.
func TestSlowOlderFetchNeverWins(t *testing.T) {
	src := &slowFirstSource{old: marshal(t, testRegistry("p", "a")), newest: marshal(t, testRegistry("p", "a", "b")),
		secondDone: make(chan struct{}), firstBegan: make(chan struct{}), release: make(chan struct{})}
	ctx := context.Background()
	r, err := Open(ctx, src, Options{Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- r.Refresh(ctx) }() // the ticker: old, slow
	<-src.firstBegan
	go func() { errs <- r.Refresh(ctx) }() // a change notification, later: newest
	reads := make(chan struct{})
	go func() {
		defer close(reads)
		for range 1000 {
			if r.Current() == nil {
				t.Error("no snapshot in force")
				return
			}
		}
	}()
	select {
	case <-reads:
	case <-time.After(5 * time.Second):
		t.Fatal("readers stalled while a refresh was in flight")
	}
	// Give the later refresh time to finish first if it can run beside
	// the held one (it cannot once refreshes are serialized).
	select {
	case <-src.secondDone:
	case <-time.After(200 * time.Millisecond):
	}
	close(src.release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := r.Current().View("b"); !ok {
		t.Fatal("the older, slower fetch replaced the newer snapshot")
	}
}
