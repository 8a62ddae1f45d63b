package registry

import (
	"testing"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
)

// StorageName is the one rule for the table a view's rows live in; the
// online read, ingestion and materialization all use it (each had its own
// copy before).
func TestStorageName(t *testing.T) {
	reg := testRegistry("p", "stats")
	reg.FeatureViews[0].Meta = &corepb.FeatureViewMeta{CurrentVersionNumber: 3}
	for _, c := range []struct {
		versioning bool
		want       string
	}{{false, "stats"}, {true, "stats_v3"}} {
		snap, err := Compile(reg, "p", c.versioning)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := snap.View("stats")
		if got := v.StorageName(); got != c.want {
			t.Errorf("versioning %v: StorageName() = %q, want %q", c.versioning, got, c.want)
		}
	}
	n := int32(2)
	pinned := &View{Name: "stats", Version: &n, CurrentVersion: 3}
	if got := pinned.StorageName(); got != "stats_v2" {
		t.Errorf("pinned version 2: %q", got)
	}
	zero := int32(0)
	if got := (&View{Name: "stats", Version: &zero, CurrentVersion: 3}).StorageName(); got != "stats" {
		t.Errorf("pinned version 0: %q", got)
	}
}
