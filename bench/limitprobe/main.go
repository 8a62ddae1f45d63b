// Command limitprobe is the benchmark's floor: the least work an HTTP feature
// server can do for one request. It decodes a small JSON body, sends one
// HMGET of eleven fields of the hash "k" to Redis, and answers a small JSON
// object. scripts/bench.sh runs it beside our server and feast serve, on the
// same Redis and the same wrk load; our requests/s divided by its requests/s
// says how much of the machine our own code costs.
//
// It imports nothing of the project: a floor measured with our own code
// would not be a floor.
//
//	limitprobe -addr 127.0.0.1:6379 -port 18080 -client goredis|rueidis
//
// The hash must exist first:
//
//	redis-cli hset k f1 1 f2 2 f3 3 f4 4 f5 5 f6 6 f7 7 f8 8 f9 9 f10 10 _ts 11
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// fields are the hash fields one request reads: ten features and a timestamp.
var fields = []string{"f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "_ts"}

// request is the part of a /get-online-features body the probe decodes.
type request struct {
	Features []string           `json:"features"`
	Entities map[string][]int64 `json:"entities"`
}

// hmget reads the probe's hash with one round trip.
type hmget func(ctx context.Context) ([]any, error)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	client := flag.String("client", "goredis", "Redis client: goredis or rueidis")
	addr := flag.String("addr", "127.0.0.1:6379", "Redis address")
	port := flag.Int("port", 18080, "HTTP port on 127.0.0.1")
	flag.Parse()

	get, closeClient, err := newClient(*client, *addr)
	if err != nil {
		return err
	}
	defer closeClient()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /get-online-features", func(w http.ResponseWriter, r *http.Request) {
		var q request
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		values, err := get(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		answer := map[string]any{"metadata": map[string]any{"feature_names": q.Features}, "results": values}
		if err := json.NewEncoder(w).Encode(answer); err != nil {
			log.Printf("limitprobe: writing an answer: %v", err)
		}
	})

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newClient returns the HMGET of the named client and a function that closes it.
func newClient(name, addr string) (hmget, func(), error) {
	switch name {
	case "goredis":
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
		return func(ctx context.Context) ([]any, error) {
			return c.HMGet(ctx, "k", fields...).Result()
		}, func() { _ = c.Close() }, nil
	case "rueidis":
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context) ([]any, error) {
			replies, err := c.Do(ctx, c.B().Hmget().Key("k").Field(fields...).Build()).ToArray()
			if err != nil {
				return nil, err
			}
			out := make([]any, len(replies))
			for i, v := range replies {
				if s, err := v.ToString(); err == nil {
					out[i] = s
				}
			}
			return out, nil
		}, c.Close, nil
	default:
		return nil, nil, fmt.Errorf("-client: %q is neither goredis nor rueidis", name)
	}
}
