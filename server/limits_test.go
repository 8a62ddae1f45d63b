package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	servingpb "github.com/feastgo/feastgo/protos/feast/serving"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// readOf is an online read of n entity rows.
func readOf(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	return `{"features":["user_stats_1:s1_f0"],"entities":{"user_id":[` + strings.Join(ids, ",") + `]}}`
}

// A read over the entity rows limit gets 413 naming the limit, over HTTP
// and gRPC (ResourceExhausted); one at the limit is served.
func TestEntityRowsLimit(t *testing.T) {
	h := &server.HTTP{Log: quietLog}
	base := fastBench(t, h)
	h.Online.MaxEntities = 3
	if code, body := fastPost(t, base+"/get-online-features", "application/json", readOf(3)); code != http.StatusOK {
		t.Fatalf("at the limit: %d %s", code, body)
	}
	code, body := fastPost(t, base+"/get-online-features", "application/json", readOf(4))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "4 entity rows are over the limit of 3") ||
		!strings.Contains(body, "--max-entities") {
		t.Fatalf("over the limit: %d %s", code, body)
	}

	g := &server.GRPC{Online: h.Online}
	ids := &typespb.RepeatedValue{}
	for i := range 4 {
		ids.Val = append(ids.Val, &typespb.Value{Val: &typespb.Value_Int64Val{Int64Val: int64(i + 1)}})
	}
	req := &servingpb.GetOnlineFeaturesRequest{
		Kind:     &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"user_stats_1:s1_f0"}}},
		Entities: map[string]*typespb.RepeatedValue{"user_id": ids},
	}
	_, err := g.GetOnlineFeatures(context.Background(), req)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "--max-entities") {
		t.Fatalf("gRPC over the limit: %v", err)
	}
	ids.Val = ids.Val[:3]
	if _, err := g.GetOnlineFeatures(context.Background(), req); err != nil {
		t.Fatalf("gRPC at the limit: %v", err)
	}
}

// stuckStore answers no read until the read's context ends: a store that
// hangs.
type stuckStore struct{ onlinestore.Store }

func (stuckStore) Read(ctx context.Context, _ []onlinestore.ReadRequest) error {
	<-ctx.Done()
	return ctx.Err()
}

// A read that takes longer than the request timeout gets 408 naming it
// (gRPC DeadlineExceeded), in about the timeout; a client's own shorter
// gRPC deadline is the client's, not the server's limit.
func TestRequestTimeout(t *testing.T) {
	snap := bench.Snapshot("bench")
	svc := &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: stuckStore{bench.NewMemStore()}, KeyVersion: 3,
		RequestTimeout: 100 * time.Millisecond}
	h := &server.HTTP{Log: quietLog, Online: svc}
	base := serveFast(t, h)
	code, body := fastPost(t, base+"/get-online-features", "application/json", oneRead)
	if code != http.StatusRequestTimeout || !strings.Contains(body, "request timeout of 100ms (--request-timeout)") {
		t.Fatalf("%d %s", code, body)
	}

	g := &server.GRPC{Online: svc}
	req := &servingpb.GetOnlineFeaturesRequest{
		Kind: &servingpb.GetOnlineFeaturesRequest_Features{Features: &servingpb.FeatureList{Val: []string{"user_stats_1:s1_f0"}}},
		Entities: map[string]*typespb.RepeatedValue{"user_id": {Val: []*typespb.Value{
			{Val: &typespb.Value_Int64Val{Int64Val: 1}}}}},
	}
	_, err := g.GetOnlineFeatures(context.Background(), req)
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "--request-timeout") {
		t.Fatalf("gRPC: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = g.GetOnlineFeatures(ctx, req)
	if status.Code(err) != codes.DeadlineExceeded || strings.Contains(err.Error(), "--request-timeout") {
		t.Fatalf("gRPC with the client's shorter deadline: %v", err)
	}
}

// A slow-loris client, sending its headers a byte at a time, or its body
// never, is answered 408 naming the read timeout and its connection
// closed once the timeout passes: it cannot hold the connection's worker.
// Meanwhile other clients are served.
func TestSlowClientsAreCut(t *testing.T) {
	h := &server.HTTP{Log: quietLog, ReadTimeout: 300 * time.Millisecond}
	base := fastBench(t, h)
	addr := strings.TrimPrefix(base, "http://")
	for name, send := range map[string]func(c net.Conn){
		"headers": func(c net.Conn) {
			for _, b := range []byte("POST /get-online-features HTTP/1.1\r\nHost: x\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		},
		"body": func(c net.Conn) {
			_, _ = fmt.Fprintf(c, "POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			go send(c)
			// Another client meanwhile.
			if code, body := fastPost(t, base+"/get-online-features", "application/json", oneRead); code != http.StatusOK {
				t.Fatalf("another client: %d %s", code, body)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer to the slow client after %v: %v", time.Since(start), err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "read timeout of 300ms (--read-timeout)") {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("the slow client's connection stays open")
			}
		})
	}
}

// Many idle connections do not starve a new one: those that sent a
// request are closed once the keep-alive timeout passes, those that never
// sent one once the read timeout passes.
func TestIdleConnections(t *testing.T) {
	h := &server.HTTP{Log: quietLog, IdleTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond}
	base := fastBench(t, h)
	addr := strings.TrimPrefix(base, "http://")
	var kept, silent []net.Conn
	defer func() {
		for _, c := range append(kept, silent...) {
			c.Close()
		}
	}()
	for i := range 400 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			silent = append(silent, c)
			continue
		}
		kept = append(kept, c)
		_, _ = fmt.Fprintf(c, "POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			len(oneRead), oneRead)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("keep-alive connection %d: %v %v", i, resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	if code, body := fastPost(t, base+"/get-online-features", "application/json", oneRead); code != http.StatusOK {
		t.Fatalf("beside %d idle connections: %d %s", len(kept)+len(silent), code, body)
	}
	closed := func(c net.Conn) error {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(c) // a silent one may get a 408 first
		return err
	}
	for i, c := range kept {
		if err := closed(c); err != nil {
			t.Fatalf("keep-alive connection %d: %v, want closed by the server", i, err)
		}
	}
	for i, c := range silent {
		if err := closed(c); err != nil {
			t.Fatalf("silent connection %d: %v, want closed by the server", i, err)
		}
	}
}
