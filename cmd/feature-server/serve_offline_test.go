package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/testenv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/feastgo/feastgo/internal/testrepo"
)

func TestParseServeOfflineArgs(t *testing.T) {
	f, err := parseServeOfflineArgs(nil)
	if err != nil || f.host != "127.0.0.1" || f.port != 8815 {
		t.Errorf("defaults: %+v %v (feast serve_offline: 127.0.0.1:8815)", f, err)
	}
	f, err = parseServeOfflineArgs([]string{"-h", "0.0.0.0", "-p", "9000"})
	if err != nil || f.host != "0.0.0.0" || f.port != 9000 {
		t.Errorf("-h -p: %+v %v", f, err)
	}
	for _, bad := range [][]string{{"-k", "key.pem"}, {"--port", "x"}, {"extra"}} {
		if _, err := parseServeOfflineArgs(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// TestServeOffline: both command lines serve a training set over Flight
// as Feast's remote client asks for it (DoExchange) and stop cleanly.
func TestServeOffline(t *testing.T) {
	repo := testrepo.Copy(t, filepath.Join("..", "..", "offlinestore", "testdata", "historical", "repo"))
	for name, args := range map[string]func(port int) []string{
		"serve_offline": func(p int) []string { return []string{"-c", repo, "serve_offline", "-p", fmt.Sprint(p)} },
		"serve --offline-port": func(p int) []string {
			return []string{"-c", repo, "serve", "-p", fmt.Sprint(testenv.FreePort(t)), "--no-materialize-if-empty", "--offline-port", fmt.Sprint(p)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			port := testenv.FreePort(t)
			startServerArgs(t, args(port))
			c, err := flight.NewClientWithMiddleware(fmt.Sprintf("127.0.0.1:%d", port), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got string
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, err = trainingSet(c)
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil || got != "conv_rate=[0.21]" {
				t.Errorf("got %q, %v", got, err)
			}
		})
	}
}

// trainingSet asks for driver_stats:conv_rate of driver 1001 at
// 2025-03-02 and formats the answer.
func trainingSet(c flight.Client) (string, error) { return trainingSetCtx(context.Background(), c) }

// trainingSetCtx is trainingSet within ctx (its metadata sent).
func trainingSetCtx(ctx context.Context, c flight.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := c.DoExchange(ctx)
	if err != nil {
		return "", err
	}
	ib := array.NewInt64Builder(memory.DefaultAllocator)
	ib.Append(1001)
	tb := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"})
	tb.Append(arrow.Timestamp(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC).UnixNano()))
	ids, ts := ib.NewArray(), tb.NewArray()
	ib.Release()
	tb.Release()
	defer ids.Release()
	defer ts.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "driver_id", Type: ids.DataType()}, {Name: "event_timestamp", Type: ts.DataType()}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{ids, ts}, 1)
	defer rec.Release()
	w := flight.NewRecordWriter(s, ipc.WithSchema(schema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"command_id": "1", "api": "get_historical_features",
		"feature_view_names": ["driver_stats"], "feature_refs": ["driver_stats:conv_rate"], "project": "historical_conformance",
		"full_feature_names": false, "name_aliases": [null]}`)})
	if err := w.Write(rec); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := s.CloseSend(); err != nil {
		return "", err
	}
	r, err := flight.NewRecordReader(s)
	if err != nil {
		return "", err
	}
	defer r.Release()
	var out []string
	for r.Next() {
		col := r.RecordBatch().Column(int(r.RecordBatch().NumCols()) - 1).(*array.Float64)
		for i := 0; i < col.Len(); i++ {
			out = append(out, fmt.Sprint(col.Value(i)))
		}
	}
	return "conv_rate=[" + strings.Join(out, " ") + "]", r.Err()
}
