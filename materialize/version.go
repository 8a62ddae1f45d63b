package materialize

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/feastgo/feastgo/core"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// Materializing a pinned version (`feast materialize --version vN`, the
// "version" field of POST /materialize), as Feast 0.67.0 does: the view
// definition is version N's snapshot from the registry's version history,
// its rows go to the versioned storage name ("<view>_v<N>"), and the
// interval is recorded on the active view of that name.

var versionPattern = regexp.MustCompile(`(?i)^v(?:ersion)?(\d+)$`)

// parseVersion is Feast's parse_version: "" or "latest" (any case, as
// version.lower() compares: not strings.EqualFold's Unicode folding) means
// the active definition; "vN" or "versionN" pins N.
func parseVersion(s string) (latest bool, n int32, err error) {
	if s == "" || strings.ToLower(s) == "latest" {
		return true, 0, nil
	}
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return false, 0, core.Invalidf("Invalid version string '%s'. Expected 'latest', 'vN', or 'versionN' (e.g. 'v2', 'version3').", s)
	}
	v, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil {
		return false, 0, core.Invalidf("Invalid version string '%s'. Expected 'latest', 'vN', or 'versionN' (e.g. 'v2', 'version3').", s)
	}
	return false, int32(v), nil
}

// checkVersion is Feast's _validate_materialize_version. It returns the
// pinned version number, nil when the active definition is wanted.
func (e *Engine) checkVersion(req Request) (*int32, error) {
	if req.Version == nil {
		return nil, nil
	}
	if len(req.Views) != 1 {
		return nil, core.Invalidf("--version requires --views with exactly one feature view.")
	}
	if !e.EnableVersioning {
		return nil, core.Invalidf("Version-aware materialization requires 'enable_online_feature_view_versioning: true' under 'registry' in feature_store.yaml.")
	}
	latest, n, err := parseVersion(*req.Version)
	if err != nil || latest {
		return nil, err
	}
	return &n, nil
}

// lookupView returns the view to materialize under a name: the active one,
// or (pin set) the pinned version's snapshot from the version history.
func (e *Engine) lookupView(snap *registry.Snapshot, name string, pin *int32) (*registry.View, bool, error) {
	if pin == nil {
		v, ok := snap.View(name)
		return v, ok, nil
	}
	n := *pin
	v, err := snap.ViewVersion(name, n)
	if err != nil {
		return nil, false, err // FeatureViewVersionNotFound, or an unreadable stored version
	}
	// The rows go to "<name>_v<N>" (Feast sets current_version_number to N
	// on the snapshot it loads).
	cp := *v
	cp.CurrentVersion = n
	return &cp, true, nil
}

// startState is the state a run starts from. A pinned version's snapshot
// carries its own (normally unset) state, and Feast moves that one, not the
// active view's: with an unset state nothing changes until the interval is
// recorded.
func (e *Engine) startState(ctx context.Context, v *registry.View) (corepb.FeatureViewState, error) {
	if v.Version != nil {
		return v.State, nil
	}
	return e.viewState(ctx, v.Name)
}
