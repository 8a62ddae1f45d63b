package offline_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/feastgo/feastgo/historical"
	"github.com/feastgo/feastgo/internal/testrepo"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/offlinestore/catalog"
	"github.com/feastgo/feastgo/offlinestore/parquet"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	"github.com/feastgo/feastgo/registry"
	"github.com/feastgo/feastgo/server/offline"
	"github.com/feastgo/feastgo/transformations"
)

const project = "historical_conformance"

// goldenRepo is the repo of the historical goldens (Feast's own answers
// under offlinestore/testdata/historical/cases).
var goldenRepo, _ = filepath.Abs("../../offlinestore/testdata/historical")

// fixture is our offline server on a loopback port, over a private copy
// of the golden repo, and an arrow-go Flight client connected to it.
type fixture struct {
	client flight.Client
	repo   string
}

func start(t *testing.T) *fixture { t.Helper(); return startEdited(t, nil) }

// startEdited is start with the repo's registry changed by edit first.
func startEdited(t *testing.T, edit func(*corepb.Registry)) *fixture {
	t.Helper()
	repo := testrepo.Copy(t, filepath.Join(goldenRepo, "repo"))
	if edit != nil {
		p := filepath.Join(repo, "data", "registry.db")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var r corepb.Registry
		if err := proto.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		edit(&r)
		if b, err = proto.Marshal(&r); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := registry.Open(context.Background(), &registry.FileSource{Path: filepath.Join(repo, "data", "registry.db")},
		registry.Options{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(parquet.NewEngine(repo))
	t.Cleanup(func() { _ = cat.Close() })
	return &fixture{client: serve(t, reg.Current, cat, repo), repo: repo}
}

// serve runs our offline server over snap and cat on a loopback port and
// returns a Flight client connected to it.
func serve(t *testing.T, snap func() *registry.Snapshot, cat offlinestore.Catalog, repo string) flight.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &offline.Server{Snapshot: snap, Catalog: cat, Repo: repo, Location: "grpc+tcp://" + ln.Addr().String(),
		Historical: &historical.Retriever{Catalog: cat,
			Transformer: transformations.New(transformations.Options{Execution: transformations.Native})}}
	g := offline.NewGRPCServer(srv)
	done := make(chan error, 1)
	go func() { done <- g.Serve(ln) }()
	t.Cleanup(func() {
		g.Stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		srv.Close()
	})
	c, err := flight.NewClientWithMiddleware(ln.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// descriptor is Feast's command descriptor: JSON with command_id, api and
// the parameters.
func descriptor(t *testing.T, api string, params map[string]any) *flight.FlightDescriptor {
	t.Helper()
	cmd := map[string]any{"command_id": "8c9a4f2e-0000-4000-8000-000000000000", "api": api}
	for k, v := range params {
		cmd[k] = v
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}
}

// placeholder is the one-column table Feast's client sends when it has no
// data.
func placeholder() arrow.RecordBatch {
	return record(map[string]arrow.Array{"key": strings1("mock_key")}, "key")
}

// send writes rec on a Flight stream, the descriptor on its first message.
func send(t *testing.T, s flight.DataStreamWriter, desc *flight.FlightDescriptor, rec arrow.RecordBatch) {
	t.Helper()
	w := flight.NewRecordWriter(s, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(desc)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// exchange is a read as Feast 0.67's client makes it: one DoExchange, the
// table in, the result out.
func (f *fixture) exchange(t *testing.T, api string, params map[string]any, in arrow.RecordBatch) (arrow.Table, error) {
	t.Helper()
	if in == nil {
		in = placeholder()
	}
	defer in.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := f.client.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, descriptor(t, api, params), in)
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	return readAll(s)
}

func readAll(s flight.DataStreamReader) (arrow.Table, error) {
	r, err := flight.NewRecordReader(s)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := r.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	for _, rec := range recs {
		rec.Release()
	}
	return tbl, nil
}

// put is a write as Feast's client makes it: one DoPut.
func (f *fixture) put(t *testing.T, api string, params map[string]any, in arrow.RecordBatch) error {
	t.Helper()
	if in == nil {
		in = placeholder()
	}
	defer in.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := f.client.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, descriptor(t, api, params), in)
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// record builds a one-batch table of the named columns, in order.
func record(cols map[string]arrow.Array, order ...string) arrow.RecordBatch {
	fields := make([]arrow.Field, len(order))
	arrs := make([]arrow.Array, len(order))
	for i, n := range order {
		arrs[i] = cols[n]
		fields[i] = arrow.Field{Name: n, Type: arrs[i].DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(arrs[0].Len()))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func strings1(vals ...string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

func int64s(vals ...int64) arrow.Array {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

func float64s(vals ...float64) arrow.Array {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

func float32s(vals ...float32) arrow.Array {
	b := array.NewFloat32Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

// times builds timestamp[ns, UTC] (pandas' dtype) from RFC 3339 strings.
func times(t *testing.T, vals ...string) arrow.Array {
	t.Helper()
	b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"})
	defer b.Release()
	for _, v := range vals {
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			t.Fatal(err)
		}
		b.Append(arrow.Timestamp(ts.UnixNano()))
	}
	return b.NewArray()
}

// column returns a result column's cells as Go values (nil for null,
// time.Time for timestamps).
func column(t *testing.T, tbl arrow.Table, name string) []any {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) == 0 {
		t.Fatalf("no column %s in %s", name, tbl.Schema())
	}
	var out []any
	for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			if chunk.IsNull(i) {
				out = append(out, nil)
				continue
			}
			switch a := chunk.(type) {
			case *array.Int64:
				out = append(out, a.Value(i))
			case *array.Float64:
				out = append(out, a.Value(i))
			case *array.Float32:
				out = append(out, float64(a.Value(i)))
			case *array.String:
				out = append(out, a.Value(i))
			case *array.Boolean:
				out = append(out, a.Value(i))
			case *array.Timestamp:
				unit := a.DataType().(*arrow.TimestampType).Unit
				out = append(out, a.Value(i).ToTime(unit).UTC())
			default:
				t.Fatalf("column %s: type %s not handled by the test", name, chunk.DataType())
			}
		}
	}
	return out
}

// wantCode checks err is a Flight status with the code and a message
// containing every part.
func wantCode(t *testing.T, err error, code codes.Code, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s mentioning %q", code, parts)
	}
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Errorf("code %s, want %s (%v)", st.Code(), code, err)
	}
	for _, p := range parts {
		if !strings.Contains(st.Message(), p) {
			t.Errorf("message %q does not mention %q", st.Message(), p)
		}
	}
}
