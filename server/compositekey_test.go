package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// A composite-key view (pipeline_team_stats: pipeline_id, team_id) read
// with only one of its join keys can match no row. Feast 0.67 answers 200
// with NOT_FOUND; we refuse it as a client mistake naming the missing key,
// on HTTP (400, Feast's error shape) and gRPC (InvalidArgument), also when
// the request holds other views' keys, and whichever key is missing.
func TestPartialCompositeKeyIsRefused(t *testing.T) {
	hs, g := writeStack(t)
	h := hs.Handler()
	cases := []struct {
		name, features, entities, missing string
	}{
		{"team_id missing", `["pipeline_team_stats:handoffs"]`, `{"pipeline_id": [1]}`, "team_id"},
		{"pipeline_id missing", `["pipeline_team_stats:handoffs"]`, `{"team_id": ["platform"]}`, "pipeline_id"},
		{"with a complete view", `["pipeline_stats:error_count", "pipeline_team_stats:handoffs"]`, `{"pipeline_id": [1, 2]}`, "team_id"},
		{"entity name for the other key", `["pipeline_team_stats:handoffs"]`, `{"pipeline": [1]}`, "team_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, ct, body := post(t, h, "/get-online-features", `{"features": `+c.features+`, "entities": `+c.entities+`}`)
			if code != 400 || ct != "application/json" {
				t.Fatalf("got %d %q %s; want 400 application/json", code, ct, body)
			}
			var s string
			var obj map[string]string
			if json.Unmarshal([]byte(body), &s) != nil || json.Unmarshal([]byte(s), &obj) != nil {
				t.Fatalf("body is not Feast's error shape: %s", body)
			}
			want := "Missing join key values for keys: ['" + c.missing + "']. Feature view pipeline_team_stats is keyed by ['pipeline_id', 'team_id']"
			if obj["class"] != "KeyError" || obj["module"] != "builtins" || !strings.HasPrefix(obj["message"], want) {
				t.Fatalf("error %v, want a builtins.KeyError starting %q", obj, want)
			}
		})
	}

	// Both keys, in either order: answered.
	for _, ents := range []string{`{"pipeline_id": [1], "team_id": ["platform"]}`, `{"team_id": ["platform"], "pipeline_id": [1]}`} {
		if code, _, body := post(t, h, "/get-online-features", `{"features": ["pipeline_team_stats:handoffs"], "entities": `+ents+`}`); code != 200 {
			t.Errorf("%s: %d %s, want 200", ents, code, body)
		}
	}

	ints := &typespb.RepeatedValue{Val: []*typespb.Value{{Val: &typespb.Value_Int64Val{Int64Val: 1}}}}
	_, err := g.GetOnlineFeatures(context.Background(), &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_team_stats:handoffs"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": ints},
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "['team_id']") {
		t.Fatalf("gRPC: %v, want INVALID_ARGUMENT naming team_id", err)
	}
}
