// Package bench holds the fixtures of the Go benchmarks of the read path
// (online/online_bench_test.go, server/http_bench_test.go): the same shape
// as the repo scripts/bench.sh generates for the load benchmark (entity
// user_id INT64; views user_stats_1..5, each with five Float32 features
// s<v>_f0..f4 and five Int64 features s<v>_i0..i4), compiled in Go so the
// benchmarks need no Python; the request bodies of requests/ (which the
// load benchmark posts too); an in-memory store for measuring our own CPU
// and allocations; and a loader that writes the rows into a real Redis
// through our Redis store. Test code only: it is internal so that it is no
// API.
//
// It may import the domain (core, onlinestore, registry, protos) but no
// back end and no transport; only tests import it (internal/layering
// checks that).
package bench

import (
	"context"
	"embed"
	"fmt"
	"math"

	"github.com/feastgo/feastgo/core"
	"github.com/feastgo/feastgo/onlinestore"
	corepb "github.com/feastgo/feastgo/protos/feast/core"
	typespb "github.com/feastgo/feastgo/protos/feast/types"
	"github.com/feastgo/feastgo/registry"
)

// Views and FeaturesPerView give the repo's shape.
const (
	Views           = 5
	FeaturesPerView = 10
	// Entities is how many user_id values (1..Entities) have rows.
	Entities = 2000
)

//go:embed requests/*.json
var requests embed.FS

// Body returns the JSON body bench/requests/<name>.json ("1x3", "1x50",
// "100x50").
func Body(name string) []byte {
	b, err := requests.ReadFile("requests/" + name + ".json")
	if err != nil {
		panic(err)
	}
	return b
}

// ViewName is the name of view v (1-based).
func ViewName(v int) string { return fmt.Sprintf("user_stats_%d", v) }

// FeatureNames lists view v's features in schema order.
func FeatureNames(v int) []string {
	var out []string
	for i := 0; i < FeaturesPerView/2; i++ {
		out = append(out, fmt.Sprintf("s%d_f%d", v, i))
	}
	for i := 0; i < FeaturesPerView/2; i++ {
		out = append(out, fmt.Sprintf("s%d_i%d", v, i))
	}
	return out
}

func featureType(i int) core.ValueType {
	if i < FeaturesPerView/2 {
		return core.Float
	}
	return core.Int64
}

// Snapshot compiles the benchmark registry for project.
func Snapshot(project string) *registry.Snapshot {
	s, err := registry.Compile(Registry(project, 0, 0), project, false)
	if err != nil {
		panic(err)
	}
	return s
}

// Registry is the benchmark registry for project (entity user and views
// user_stats_1..Views), grown by extraViews views fv_0, fv_1, … over entity
// driver (join key driver_id), each with extraFeatures DOUBLE features
// f_0, f_1, … and a parquet batch source: Registry(p, 1000, 10) is the
// registry of 1,000 views and 10,000 features that issue 14's load and
// refresh figures are measured on.
func Registry(project string, extraViews, extraFeatures int) *corepb.Registry {
	reg := &corepb.Registry{
		Projects: []*corepb.Project{{Spec: &corepb.ProjectSpec{Name: project}}},
		Entities: []*corepb.Entity{{Spec: &corepb.EntitySpecV2{
			Name: "user", Project: project, ValueType: typespb.ValueType_INT64, JoinKey: "user_id",
		}}},
	}
	for v := 1; v <= Views; v++ {
		spec := &corepb.FeatureViewSpec{
			Name: ViewName(v), Project: project, Entities: []string{"user"}, Online: true,
			EntityColumns: []*corepb.FeatureSpecV2{{Name: "user_id", ValueType: typespb.ValueType_INT64}},
		}
		for i, f := range FeatureNames(v) {
			spec.Features = append(spec.Features, &corepb.FeatureSpecV2{Name: f, ValueType: typespb.ValueType_Enum(featureType(i))})
		}
		reg.FeatureViews = append(reg.FeatureViews, &corepb.FeatureView{Spec: spec, Meta: &corepb.FeatureViewMeta{}})
	}
	if extraViews == 0 {
		return reg
	}
	reg.Entities = append(reg.Entities, &corepb.Entity{Spec: &corepb.EntitySpecV2{
		Name: "driver", Project: project, JoinKey: "driver_id", ValueType: typespb.ValueType_INT64,
	}})
	for i := range extraViews {
		spec := &corepb.FeatureViewSpec{
			Name: fmt.Sprintf("fv_%d", i), Project: project, Entities: []string{"driver"}, Online: true,
			EntityColumns: []*corepb.FeatureSpecV2{{Name: "driver_id", ValueType: typespb.ValueType_INT64}},
			BatchSource: &corepb.DataSource{
				Name: fmt.Sprintf("src_%d", i), Type: corepb.DataSource_BATCH_FILE, TimestampField: "event_timestamp",
				Options: &corepb.DataSource_FileOptions_{FileOptions: &corepb.DataSource_FileOptions{Uri: fmt.Sprintf("data/src_%d.parquet", i)}},
			},
		}
		for f := range extraFeatures {
			spec.Features = append(spec.Features, &corepb.FeatureSpecV2{Name: fmt.Sprintf("f_%d", f), ValueType: typespb.ValueType_DOUBLE})
		}
		reg.FeatureViews = append(reg.FeatureViews, &corepb.FeatureView{Spec: spec, Meta: &corepb.FeatureViewMeta{}})
	}
	return reg
}

// Key is the serialized (version 3) entity key of user_id id.
func Key(id int64) []byte {
	k, err := onlinestore.AppendEntityKey(nil, []onlinestore.KeyPart{{Name: "user_id", Value: core.Int64Value(id)}}, 3)
	if err != nil {
		panic(err)
	}
	return k
}

// TS is the event time of user id's rows.
func TS(id int64) core.Timestamp {
	return core.Timestamp{Seconds: 1704153600 + id, Nanos: int32(id*7919%1_000_000) * 1000}
}

// Value is the serialized value of feature i (0-based) of view v for id.
func Value(v, i int, id int64) []byte {
	x := id*131 + int64(v)*17 + int64(i)
	if featureType(i) == core.Float {
		return core.AppendValueProto(nil, core.Value{Type: core.Float, F: float64(float32(math.Mod(float64(x)*0.37, 100)))})
	}
	return core.AppendValueProto(nil, core.Int64Value(x%1_000_000))
}

// WriteBatches are the rows of every view for user_id 1..Entities, for
// loading a real store through onlinestore.Writer.
func WriteBatches() []onlinestore.WriteBatch {
	var out []onlinestore.WriteBatch
	for v := 1; v <= Views; v++ {
		b := onlinestore.WriteBatch{View: ViewName(v), Features: FeatureNames(v)}
		for id := int64(1); id <= Entities; id++ {
			row := onlinestore.WriteRow{Key: Key(id), TS: TS(id), Created: TS(id)}
			for i := range b.Features {
				row.Values = append(row.Values, Value(v, i, id))
			}
			b.Rows = append(b.Rows, row)
		}
		out = append(out, b)
	}
	return out
}

// MemStore is an in-memory onlinestore.Store holding the benchmark rows. It
// does what a minimal store must per request (one Rows slice and one value
// slice per read request, a map lookup per key and feature), so benchmarks
// on it measure our own read path without network or client costs. It is
// for benchmarks only; tests of behaviour use real stores.
type MemStore struct {
	rows map[string]map[string]*memRow // view -> key -> row
}

type memRow struct {
	ts     core.Timestamp
	values map[string][]byte
}

// NewMemStore returns a MemStore filled with WriteBatches.
func NewMemStore() *MemStore {
	m := &MemStore{rows: map[string]map[string]*memRow{}}
	for _, b := range WriteBatches() {
		byKey := map[string]*memRow{}
		for _, r := range b.Rows {
			mr := &memRow{ts: r.TS, values: map[string][]byte{}}
			for i, f := range b.Features {
				mr.values[f] = r.Values[i]
			}
			byKey[string(r.Key)] = mr
		}
		m.rows[b.View] = byKey
	}
	return m
}

// Read implements onlinestore.Store.
func (m *MemStore) Read(_ context.Context, reqs []onlinestore.ReadRequest) error {
	for i := range reqs {
		r := &reqs[i]
		byKey := m.rows[r.View]
		r.Rows = make([]onlinestore.Row, len(r.Keys))
		nf := len(r.Features)
		vals := make([][]byte, len(r.Keys)*nf)
		for j, k := range r.Keys {
			mr := byKey[string(k)]
			if mr == nil {
				continue
			}
			row := &r.Rows[j]
			row.Found, row.TS = true, mr.ts
			row.Values = vals[j*nf : (j+1)*nf : (j+1)*nf]
			for f, name := range r.Features {
				if b, ok := mr.values[name]; ok {
					row.Values[f] = b
				} else {
					row.Values[f] = []byte{}
				}
			}
		}
	}
	return nil
}

// Close implements onlinestore.Store.
func (m *MemStore) Close() error { return nil }
