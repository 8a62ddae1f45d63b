// Command example reads a feature vector from a running feature server
// with the Go client: start the demo repo with `make run`, then
//
//	go run ./client/example                       # HTTP on 127.0.0.1:6566
//	go run ./client/example -grpc 127.0.0.1:6567  # gRPC (serve --grpc-port 6567)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/feastgo/feastgo/client"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:6566", "the server's HTTP address")
	grpcAddr := flag.String("grpc", "", "the server's gRPC address (instead of -url)")
	flag.Parse()

	opts := client.Options{Timeout: 2 * time.Second, MaxRetries: 3}
	var (
		c   *client.Client
		err error
	)
	if *grpcAddr != "" {
		c, err = client.NewGRPC(*grpcAddr, opts)
	} else {
		c, err = client.NewHTTP(*url, nil, opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.GetOnlineFeatures(ctx, &client.OnlineRequest{
		Features: []string{"pipeline_stats:error_count", "pipeline_stats:success_rate", "pipeline_stats:last_status"},
		Entities: map[string][]any{"pipeline_id": {1, 2, 3}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for row := range resp.Rows() {
		for _, name := range resp.FeatureNames {
			f, _ := resp.Get(row, name)
			fmt.Printf("%s=%v (%s) ", name, f.Value, f.Status)
		}
		fmt.Println()
	}
}
