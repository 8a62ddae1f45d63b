package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"

	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
)

// registry.serve_features_while_materializing, as in Feast 0.67.0: off (the
// default), a view another process is materializing answers 503; on, it
// serves the rows already in the store. GENERATED is gated either way.
func TestServeFeaturesWhileMaterializing(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("serve_features_while_materializing=%v", on), func(t *testing.T) {
			repo := materializeRepo(t)
			yaml := "project: pipeline_monitoring\nprovider: local\nregistry:\n  path: data/registry.db\n" +
				fmt.Sprintf("  serve_features_while_materializing: %v\n", on) +
				"online_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: file\nentity_key_serialization_version: 3\n"
			if err := os.WriteFile(filepath.Join(repo, "feature_store.yaml"), []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			// A `feast materialize` elsewhere has pipeline_stats in hand;
			// team_stats was applied anew and never materialized.
			src := &registry.FileSource{Path: filepath.Join(repo, "data", "registry.db")}
			err := registry.Update(context.Background(), src, time.Now(), func(reg *corepb.Registry) error {
				if err := registry.SetViewState(reg, "pipeline_monitoring", "pipeline_stats", corepb.FeatureViewState_MATERIALIZING); err != nil {
					return err
				}
				return registry.SetViewState(reg, "pipeline_monitoring", "team_stats", corepb.FeatureViewState_GENERATED)
			})
			if err != nil {
				t.Fatal(err)
			}
			port := testenv.FreePort(t)
			startServerArgs(t, []string{"-c", repo, "serve", "-p", fmt.Sprint(port), "--no-materialize-if-empty"})
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			waitHTTP(t, http.DefaultClient, base+"/health")
			read := func(body string) (int, string) {
				resp, err := http.Post(base+"/get-online-features", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			code, got := read(`{"features": ["pipeline_stats:last_status"], "entities": {"pipeline_id": [7]}}`)
			if on && code != http.StatusOK || !on && (code != http.StatusServiceUnavailable || !strings.Contains(got, `is in state 'MATERIALIZING'`)) {
				t.Errorf("MATERIALIZING view: %d %s", code, got)
			}
			code, got = read(`{"features": ["team_stats:team_size"], "entities": {"team_id": ["t1"]}}`)
			if code != http.StatusServiceUnavailable || !strings.Contains(got, `is in state 'GENERATED'`) {
				t.Errorf("GENERATED view: %d %s", code, got)
			}
		})
	}
}
