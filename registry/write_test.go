package registry

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/internal/testenv"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// demoRegistry copies the demo repo's registry (written by feast apply and
// feast materialize) into a temp dir.
func demoRegistry(t *testing.T) *FileSource {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "feature_repo", "data", "registry.db"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "registry.db")
	if err := os.WriteFile(p, b, 0o640); err != nil {
		t.Fatal(err)
	}
	return &FileSource{Path: p}
}

func load(t *testing.T, src Source) *corepb.Registry {
	t.Helper()
	b, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reg := &corepb.Registry{}
	if err := proto.Unmarshal(b, reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestRecordMaterialization(t *testing.T) {
	src := demoRegistry(t)
	before := load(t, src)
	start := time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 1, 9, 12, 30, 0, 123456789, time.UTC)
	now := time.Date(2026, 2, 3, 4, 5, 6, 789123456, time.UTC)
	err := Update(context.Background(), src, now, func(reg *corepb.Registry) error {
		if err := SetViewState(reg, "pipeline_monitoring", "team_stats", corepb.FeatureViewState_MATERIALIZING); err != nil {
			return err
		}
		return RecordMaterialization(reg, "pipeline_monitoring", "pipeline_stats", start, end, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	after := load(t, src)
	if after.GetVersionId() == before.GetVersionId() || len(after.GetVersionId()) != 36 {
		t.Errorf("version_id %q: want a fresh UUID", after.GetVersionId())
	}
	if got := after.GetLastUpdated().AsTime(); !got.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("last_updated %v", got)
	}
	fvs := after.GetFeatureViews()
	if len(fvs) != len(before.GetFeatureViews()) {
		t.Fatalf("%d views, had %d", len(fvs), len(before.GetFeatureViews()))
	}
	last := fvs[len(fvs)-1]
	if last.GetSpec().GetName() != "pipeline_stats" {
		t.Errorf("the materialized view must move to the end, as Feast's delete-and-append does; last is %s", last.GetSpec().GetName())
	}
	iv := last.GetMeta().GetMaterializationIntervals()
	if n := len(iv); n != 2 || !iv[1].GetStartTime().AsTime().Equal(start) || !iv[1].GetEndTime().AsTime().Equal(end.Truncate(time.Microsecond)) {
		t.Errorf("intervals: %v", iv)
	}
	if last.GetMeta().GetState() != corepb.FeatureViewState_AVAILABLE_ONLINE {
		t.Errorf("state %v", last.GetMeta().GetState())
	}
	for _, fv := range fvs {
		if fv.GetSpec().GetName() == "team_stats" && fv.GetMeta().GetState() != corepb.FeatureViewState_MATERIALIZING {
			t.Errorf("team_stats state %v", fv.GetMeta().GetState())
		}
	}
	// The spec itself is untouched.
	for _, fv := range before.GetFeatureViews() {
		if fv.GetSpec().GetName() == "pipeline_stats" && !proto.Equal(fv.GetSpec(), last.GetSpec()) {
			t.Error("spec changed")
		}
	}
	st, err := os.Stat(src.Path)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode after rewrite: %v %v", st.Mode(), err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(src.Path), ".*tmp"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestUpdateErrors(t *testing.T) {
	src := demoRegistry(t)
	before, _ := os.ReadFile(src.Path)
	err := Update(context.Background(), src, time.Now(), func(reg *corepb.Registry) error {
		return RecordMaterialization(reg, "pipeline_monitoring", "no_such_view", time.Now(), time.Now(), time.Now())
	})
	if err == nil || !strings.Contains(err.Error(), "no_such_view") {
		t.Errorf("unknown view: %v", err)
	}
	if after, _ := os.ReadFile(src.Path); string(after) != string(before) {
		t.Error("a failed update must not write")
	}
	if err := Update(context.Background(), readOnly{src}, time.Now(), func(*corepb.Registry) error { return nil }); err == nil {
		t.Error("a source without Put must be refused")
	}
}

type readOnly struct{ Source }

// TestRecordMaterializationS3 writes the interval back to an S3 registry
// (moto, started by scripts/go-test.sh).
func TestRecordMaterializationS3(t *testing.T) {
	endpoint := testenv.Service(t, "FEASTGO_TEST_S3_ENDPOINT")
	t.Setenv("FEAST_S3_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	bucket := "feast-materialize-" + strings.ToLower(strconv.FormatInt(time.Now().UnixNano(), 36))
	src, err := NewSource(ctx, "s3://"+bucket+"/registry.db", "/repo")
	if err != nil {
		t.Fatal(err)
	}
	s3src := src.(*S3Source)
	if _, err := s3src.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(demoRegistry(t).Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s3src.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	start, end := time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 9, 0, 0, 0, 0, time.UTC)
	err = Update(ctx, src, time.Now(), func(reg *corepb.Registry) error {
		return RecordMaterialization(reg, "pipeline_monitoring", "team_stats", start, end, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := load(t, src)
	last := reg.GetFeatureViews()[len(reg.GetFeatureViews())-1]
	iv := last.GetMeta().GetMaterializationIntervals()
	if last.GetSpec().GetName() != "team_stats" || !iv[len(iv)-1].GetEndTime().AsTime().Equal(end) {
		t.Errorf("S3 registry after the update: %s %v", last.GetSpec().GetName(), iv)
	}
}
