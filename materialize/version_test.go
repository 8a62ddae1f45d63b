package materialize

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/core"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// A pinned version (feast materialize --views team_stats --version v2) is
// materialized from version 2's snapshot into "team_stats_v2"; the
// interval is recorded on the active view, whose rows stay untouched.
func TestMaterializePinnedVersion(t *testing.T) {
	repo := demoRepo(t)
	reg := loadRegistry(t, repo)
	var snapshot []byte
	for _, fv := range reg.GetFeatureViews() {
		if fv.GetSpec().GetName() == "team_stats" {
			cp := proto.Clone(fv).(*corepb.FeatureView)
			cp.Meta.MaterializationIntervals = nil
			cp.Meta.State = corepb.FeatureViewState_STATE_UNSPECIFIED
			snapshot, _ = proto.Marshal(cp)
		}
	}
	reg.FeatureViewVersionHistory = &corepb.FeatureViewVersionHistory{Records: []*corepb.FeatureViewVersionRecord{{
		FeatureViewName: "team_stats", ProjectId: "pipeline_monitoring", VersionNumber: 2,
		FeatureViewType: "feature_view", FeatureViewProto: snapshot,
	}}}
	b, _ := proto.Marshal(reg)
	if err := os.WriteFile(filepath.Join(repo, "data", "registry.db"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	e := newTestEngine(t, repo, store)
	ctx := context.Background()
	v2, bad := "v2", "x2"
	if _, err := e.Materialize(ctx, Request{Start: winStart, End: winEnd, Views: []string{"team_stats"}, Version: &v2}); !strings.Contains(err.Error(), "Version-aware materialization requires") {
		t.Fatalf("versioning off: %v", err)
	}
	e.EnableVersioning = true
	before := len(intervalsOf(t, repo, "team_stats"))
	for _, c := range []struct {
		req  Request
		kind core.Kind
		msg  string
	}{
		{Request{Start: winStart, End: winEnd, Version: &v2}, core.KindInvalidArgument, "--version requires --views with exactly one feature view."},
		{Request{Start: winStart, End: winEnd, Views: []string{"team_stats"}, Version: &bad}, core.KindInvalidArgument, "Invalid version string 'x2'"},
		{Request{Start: winStart, End: winEnd, Views: []string{"team_stats"}, Version: func() *string { s := "V7"; return &s }()}, core.KindNotFound, "Version v7 of feature view team_stats does not exist in project pipeline_monitoring"},
	} {
		if _, err := e.Materialize(ctx, c.req); core.KindOf(err) != c.kind || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want %q", c.req.Views, err, c.msg)
		}
	}
	res, err := e.Materialize(ctx, Request{Start: winStart, End: winEnd, Views: []string{"team_stats"}, Version: &v2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows == 0 {
		t.Fatal("no rows")
	}
	for k := range store.rows {
		if !strings.HasPrefix(k, "team_stats_v2|") {
			t.Fatalf("row stored under %q, want team_stats_v2", strings.SplitN(k, "|", 2)[0])
		}
	}
	if got := intervalsOf(t, repo, "team_stats"); len(got) != before+1 {
		t.Fatalf("active view intervals %d, want %d", len(got), before+1)
	}

	// "latest" (any case) is the active definition, not a pinned one.
	store.rows = nil
	latest := "LATEST"
	if res, err := e.Materialize(ctx, Request{Start: winStart, End: winEnd, Views: []string{"team_stats"}, Version: &latest}); err != nil || res.Rows == 0 {
		t.Fatalf("latest: %+v, %v", res, err)
	}
	for k := range store.rows {
		if !strings.HasPrefix(k, "team_stats|") {
			t.Fatalf("latest: row stored under %q, want team_stats", strings.SplitN(k, "|", 2)[0])
		}
	}
}

func intervalsOf(t *testing.T, repo, view string) []*corepb.MaterializationInterval {
	t.Helper()
	for _, fv := range loadRegistry(t, repo).GetFeatureViews() {
		if fv.GetSpec().GetName() == view {
			return fv.GetMeta().GetMaterializationIntervals()
		}
	}
	t.Fatalf("no view %s", view)
	return nil
}

// parseVersion follows Feast's parse_version: version.lower() == "latest"
// (so "lateſt", which only Unicode case folding equates, is no alias), or
// the case-insensitive v(ersion)?N pattern; N beyond int32 is invalid.
func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in     string
		latest bool
		n      int32
		bad    bool
	}{
		{in: "", latest: true},
		{in: "latest", latest: true},
		{in: "LATEST", latest: true},
		{in: "LaTeSt", latest: true},
		{in: "v2", n: 2},
		{in: "V7", n: 7},
		{in: "version3", n: 3},
		{in: "VERSION12", n: 12},
		{in: "v0", n: 0},
		{in: "v2147483647", n: 2147483647},
		{in: "v2147483648", bad: true},
		{in: "lateſt", bad: true},
		{in: "latest ", bad: true},
		{in: "v", bad: true},
		{in: "x2", bad: true},
		{in: "v-1", bad: true},
		{in: "ver2", bad: true},
	} {
		latest, n, err := parseVersion(c.in)
		if c.bad {
			if core.KindOf(err) != core.KindInvalidArgument || !strings.Contains(err.Error(), "Invalid version string '"+c.in+"'") {
				t.Errorf("%q: got %v, %d, %v; want an invalid-version error", c.in, latest, n, err)
			}
			continue
		}
		if err != nil || latest != c.latest || n != c.n {
			t.Errorf("%q: got %v, %d, %v; want %v, %d", c.in, latest, n, err, c.latest, c.n)
		}
	}
}
