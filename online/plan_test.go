package online

import "testing"

// parseRef follows Feast's reading of "<view>[@<version>]:<feature>": an
// empty tag or one whose Python .lower() is "latest" means the active
// version, v<N>/V<N> pins N, and any other tag is part of the view name.
func TestParseRefVersionTags(t *testing.T) {
	cases := []struct {
		ref, view string
		version   int32 // -1: none
	}{
		{"fv:f", "fv", -1},
		{"fv@:f", "fv", -1},
		{"fv@latest:f", "fv", -1},
		{"fv@LATEST:f", "fv", -1},
		{"fv@LaTeSt:f", "fv", -1},
		// "ſ" (long s) folds to "s" in Unicode case folding, but
		// Python's "lateſt".lower() is itself: a view name.
		{"fv@lateſt:f", "fv@lateſt", -1},
		{"fv@latest2:f", "fv@latest2", -1},
		{"fv@v2:f", "fv", 2},
		{"fv@V0:f", "fv", 0},
		{"fv@vx:f", "fv@vx", -1},
		{"fv@v:f", "fv@v", -1},
	}
	for _, tc := range cases {
		view, version, feature, err := parseRef(tc.ref)
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		got := int32(-1)
		if version != nil {
			got = *version
		}
		if view != tc.view || got != tc.version || feature != "f" {
			t.Errorf("%s: view %q version %d feature %q, want %q %d", tc.ref, view, got, feature, tc.view, tc.version)
		}
	}
	if _, _, _, err := parseRef("fv@v2147483648:f"); err == nil {
		t.Error("a version past int32 was accepted")
	}
}
