package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// Under load, the end of Run's context (SIGTERM in main) drains: every
// HTTP request and gRPC call sent before it gets its real answer, none
// sent after gets anything but its real answer or a refused connection,
// and Run returns nil. Before, requests in flight were answered 499.
func TestServeDrainsUnderLoad(t *testing.T) {
	hp, gp := testenv.FreePort(t), testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"-c", goldenRepo, "serve", "-p", fmt.Sprint(hp), "--grpc-port", fmt.Sprint(gp), "--drain-timeout", "10s"}, io.Discard, &stderr)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", hp)
	waitHTTP(t, http.DefaultClient, base+"/health")
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", gp), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	grpcCli := servingpb.NewServingServiceClient(conn)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	// A large read keeps each request busy for a while.
	ids := make([]string, 2000)
	vals := make([]*typespb.Value, len(ids))
	for i := range ids {
		ids[i] = fmt.Sprint(i % 5)
		vals[i] = &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: int64(i % 5)}}
	}
	body := `{"features":["pipeline_stats:error_count","pipeline_stats:last_status"],"entities":{"pipeline_id":[` + strings.Join(ids, ",") + `]}}`
	grpcReq := &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"pipeline_stats:error_count"}}},
		Entities: map[string]*typespb.RepeatedValue{"pipeline_id": {Val: vals}},
	}

	var signalled atomic.Int64 // unix nanoseconds of the "signal"; 0 before
	var before, after, refusedAfter atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
	}
	// one runs send in a loop until a send after the signal fails.
	one := func(send func() (ok bool, desc string)) {
		for {
			sentBefore := signalled.Load() == 0
			ok, desc := send()
			switch {
			case sentBefore && !ok:
				fail("sent before the signal: " + desc)
				return
			case sentBefore:
				before.Add(1)
			case ok:
				after.Add(1)
			default:
				if !strings.Contains(desc, "refused") && !strings.Contains(desc, "Unavailable") && !strings.Contains(desc, "EOF") &&
					!strings.Contains(desc, "reset") && !strings.Contains(desc, "closed") && !strings.Contains(desc, "broken pipe") {
					fail("sent after the signal: " + desc)
				}
				refusedAfter.Add(1)
				return
			}
		}
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one(func() (bool, string) {
				resp, err := client.Post(base+"/get-online-features", "application/json", strings.NewReader(body))
				if err != nil {
					return false, err.Error()
				}
				defer resp.Body.Close()
				out, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != http.StatusOK {
					return false, fmt.Sprintf("%d %.200s %v", resp.StatusCode, out, err)
				}
				return true, ""
			})
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one(func() (bool, string) {
				cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer ccancel()
				if _, err := grpcCli.GetOnlineFeatures(cctx, grpcReq); err != nil {
					return false, err.Error()
				}
				return true, ""
			})
		}()
	}
	time.Sleep(500 * time.Millisecond)
	signalled.Store(time.Now().UnixNano())
	cancel()
	wg.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of the signal")
	}
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("answered: %d sent before the signal, %d after; %d refused after", before.Load(), after.Load(), refusedAfter.Load())
	if before.Load() == 0 {
		t.Error("no request was answered before the signal: the load never started")
	}
	if t.Failed() {
		t.Logf("log:\n%s", stderr.String())
	}
}
