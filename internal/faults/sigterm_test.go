package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/feastgo/feastgo/internal/testenv"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
)

// SIGTERM to the server binary under load (16 HTTP readers and 4 gRPC
// callers of 2,000-entity reads, the registry refreshed every second):
// every request sent before the signal is answered 200, one sent after
// is answered 200 or refused, never cut or answered otherwise; the
// process exits 0 within --drain-timeout, its background loops (registry
// refresh, jobs) ended, as Run returns only after they stop.
func TestSIGTERMUnderLoad(t *testing.T) {
	const drainTimeout = 5 * time.Second
	gp := testenv.FreePort(t)
	s := startServer(t, goldenRepo(t, ""), "--registry_ttl_sec", "1", "--grpc-port", fmt.Sprint(gp),
		"--drain-timeout", drainTimeout.String(), "--no-materialize-if-empty")
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", gp), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	grpcCli := servingpb.NewServingServiceClient(conn)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

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

	var signalled atomic.Bool
	var before, after, refused atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
	}
	// one sends in a loop until a send after the signal is refused.
	one := func(send func() (ok bool, desc string)) {
		for {
			sentBefore := !signalled.Load()
			ok, desc := send()
			switch {
			case sentBefore && !ok:
				fail("sent before SIGTERM: " + desc)
				return
			case sentBefore:
				before.Add(1)
			case ok:
				after.Add(1)
			default:
				if !strings.Contains(desc, "refused") && !strings.Contains(desc, "Unavailable") && !strings.Contains(desc, "EOF") &&
					!strings.Contains(desc, "reset") && !strings.Contains(desc, "closed") && !strings.Contains(desc, "broken pipe") {
					fail("sent after SIGTERM: " + desc)
				}
				refused.Add(1)
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
				code, out, err := httpPost(client, s.base+"/get-online-features", body)
				if err != nil {
					return false, err.Error()
				}
				if code != http.StatusOK || strings.Count(out, `"PRESENT"`) < 2000 {
					return false, fmt.Sprintf("%d %.200s", code, out)
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
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := grpcCli.GetOnlineFeatures(ctx, grpcReq); err != nil {
					return false, err.Error()
				}
				return true, ""
			})
		}()
	}
	time.Sleep(time.Second)
	signalled.Store(true)
	s.signalled = true
	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(drainTimeout + 10*time.Second):
		t.Fatalf("the server did not exit within %v of SIGTERM\n%s", drainTimeout+10*time.Second, s.log.String())
	}
	exitAfter := time.Since(sent)
	wg.Wait()
	t.Logf("answered %d requests sent before SIGTERM, %d after; %d refused after; exit %v after the signal",
		before.Load(), after.Load(), refused.Load(), exitAfter.Round(time.Millisecond))
	if s.err != nil {
		t.Errorf("exit: %v, want 0\n%s", s.err, s.log.String())
	}
	if exitAfter > drainTimeout {
		t.Errorf("the server exited %v after SIGTERM, past --drain-timeout %v", exitAfter, drainTimeout)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if before.Load() == 0 {
		t.Error("no request was answered before SIGTERM: the load never ran")
	}
	log := s.log.String()
	if strings.Contains(log, "cut by --drain-timeout") {
		t.Errorf("requests were cut by the drain timeout:\n%s", log)
	}
	s.checkLog(t)
}
