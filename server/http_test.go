package server_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server"
)

// Requests served at the same time keep their own values: the parsed
// request's arrays are recycled once its answer is written (reqMem), so
// an answer built from a recycled array would show another request's
// entities. Each body's answer is taken alone first, then again by many
// goroutines at once, each going through the bodies in its own order.
//
// Through the fasthttp server in process and on a loopback port, where
// each answer also becomes a response body without a copy and the body it
// replaces is reused for a later answer.
func TestConcurrentReadsKeepTheirValues(t *testing.T) {
	snap := bench.Snapshot("bench")
	svc := &online.Service{Snapshot: func() *registry.Snapshot { return snap }, Store: bench.NewMemStore(), KeyVersion: 3}
	h := &server.HTTP{Online: svc}
	inProcess := h.Handler()
	t.Run("in-process", func(t *testing.T) {
		concurrentReads(t, func(body string) (int, []byte) {
			req := httptest.NewRequest(http.MethodPost, "/get-online-features", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			inProcess.ServeHTTP(rec, req)
			return rec.Code, rec.Body.Bytes()
		})
	})
	t.Run("loopback", func(t *testing.T) {
		url := serveFast(t, h) + "/get-online-features"
		concurrentReads(t, func(body string) (int, []byte) {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				return 0, []byte(err.Error())
			}
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			if err != nil {
				return 0, []byte(err.Error())
			}
			return resp.StatusCode, out
		})
	})
}

func concurrentReads(t *testing.T, post func(body string) (int, []byte)) {
	rng := rand.New(rand.NewPCG(8, 9))
	var bodies []string
	var want [][]byte
	for i := range 24 {
		ids := make([]string, 1+rng.IntN(120))
		for j := range ids {
			ids[j] = fmt.Sprint(1 + rng.IntN(bench.Entities+50)) // some not found
		}
		// Nested arrays and strings go through the same arrays: an
		// entity column the views do not use.
		extra := ""
		if i%3 == 0 {
			tags := make([]string, len(ids))
			for j, id := range ids {
				tags[j] = fmt.Sprintf(`["t%s",[%s,%d]]`, id, id, j)
			}
			extra = `,"tags":[` + strings.Join(tags, ",") + `]`
		}
		body := fmt.Sprintf(`{"features":["user_stats_1:s1_f0","user_stats_2:s2_i1","user_stats_5:s5_f4"],"entities":{"user_id":[%s]%s}}`,
			strings.Join(ids, ","), extra)
		code, out := post(body)
		if code != http.StatusOK {
			t.Fatalf("body %d: status %d: %s", i, code, out)
		}
		if !bytes.Contains(out, []byte(`{"values":[`+strings.Join(ids, ","))) {
			t.Fatalf("body %d: entity column not echoed: %.200s", i, out)
		}
		bodies, want = append(bodies, body), append(want, bytes.Clone(out))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 300 {
				i := r.IntN(len(bodies))
				code, out := post(bodies[i])
				if code != http.StatusOK || !bytes.Equal(out, want[i]) {
					errs <- fmt.Errorf("goroutine %d, body %d: status %d, answer differs from its answer alone: %.200s", g, i, code, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
