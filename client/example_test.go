package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/feastgo/feastgo/client"
)

// Reading a feature vector over HTTP; client.NewGRPC("127.0.0.1:6567",
// opts) gives the same answer over gRPC.
func Example() {
	c, err := client.NewHTTP("http://127.0.0.1:6566", nil, client.Options{Timeout: time.Second, MaxRetries: 3})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	resp, err := c.GetOnlineFeatures(context.Background(), &client.OnlineRequest{
		Features: []string{"pipeline_stats:error_count", "pipeline_stats:last_status"},
		Entities: map[string][]any{"pipeline_id": {1, 2}},
	})
	if err != nil {
		panic(err)
	}
	for row := range resp.Rows() {
		f, _ := resp.Get(row, "error_count")
		fmt.Println(row, f.Value, f.Status, f.EventTime)
	}
}
