package server

import (
	"context"
	"errors"
	"testing"

	"github.com/feastgo/feastgo/onlinestore"
)

// Method carriers for stores of every combination of optional interfaces.
type baseStore struct{ reads int }

func (s *baseStore) Read(context.Context, []onlinestore.ReadRequest) error {
	s.reads++
	return errors.New("down")
}
func (s *baseStore) Close() error { return nil }

type scratchStore struct{}

func (scratchStore) ReadScratch(context.Context, []onlinestore.ReadRequest, *onlinestore.Scratch) error {
	return nil
}

type writeStore struct{}

func (writeStore) Write(context.Context, onlinestore.WriteBatch) error { return nil }

type pingStore struct{}

func (pingStore) Ping(context.Context) error { return nil }

type sizeStore struct{}

func (sizeStore) OnlineSize(context.Context) (int64, error) { return 42, nil }

// combo is a store with the optional interfaces of bits (1 ScratchReader,
// 2 Writer, 4 Pinger, 8 Sizer).
func combo(bits int) onlinestore.Store {
	b := &baseStore{}
	var s scratchStore
	var w writeStore
	var p pingStore
	var z sizeStore
	switch bits {
	case 1:
		return struct {
			*baseStore
			scratchStore
		}{b, s}
	case 2:
		return struct {
			*baseStore
			writeStore
		}{b, w}
	case 3:
		return struct {
			*baseStore
			scratchStore
			writeStore
		}{b, s, w}
	case 4:
		return struct {
			*baseStore
			pingStore
		}{b, p}
	case 5:
		return struct {
			*baseStore
			scratchStore
			pingStore
		}{b, s, p}
	case 6:
		return struct {
			*baseStore
			writeStore
			pingStore
		}{b, w, p}
	case 7:
		return struct {
			*baseStore
			scratchStore
			writeStore
			pingStore
		}{b, s, w, p}
	case 8:
		return struct {
			*baseStore
			sizeStore
		}{b, z}
	case 9:
		return struct {
			*baseStore
			scratchStore
			sizeStore
		}{b, s, z}
	case 10:
		return struct {
			*baseStore
			writeStore
			sizeStore
		}{b, w, z}
	case 11:
		return struct {
			*baseStore
			scratchStore
			writeStore
			sizeStore
		}{b, s, w, z}
	case 12:
		return struct {
			*baseStore
			pingStore
			sizeStore
		}{b, p, z}
	case 13:
		return struct {
			*baseStore
			scratchStore
			pingStore
			sizeStore
		}{b, s, p, z}
	case 14:
		return struct {
			*baseStore
			writeStore
			pingStore
			sizeStore
		}{b, w, p, z}
	case 15:
		return struct {
			*baseStore
			scratchStore
			writeStore
			pingStore
			sizeStore
		}{b, s, w, p, z}
	}
	return b
}

// The wrapper has exactly the optional interfaces of the store it wraps,
// so that the health check, ingest and the scratch read path see the store
// as it is.
func TestInstrumentStoreKeepsOptionalInterfaces(t *testing.T) {
	for bits := 0; bits < 16; bits++ {
		inner := combo(bits)
		got := NewMetrics(nil).InstrumentStore(inner, "test")
		check := func(name string, in, out bool) {
			if in != out {
				t.Errorf("bits %04b: %s on the store %v, on the wrapper %v", bits, name, in, out)
			}
		}
		_, a := inner.(onlinestore.ScratchReader)
		_, b := got.(onlinestore.ScratchReader)
		check("ScratchReader", a, b)
		_, a = inner.(onlinestore.Writer)
		_, b = got.(onlinestore.Writer)
		check("Writer", a, b)
		_, a = inner.(onlinestore.Pinger)
		_, b = got.(onlinestore.Pinger)
		check("Pinger", a, b)
		_, a = inner.(onlinestore.Sizer)
		_, b = got.(onlinestore.Sizer)
		check("Sizer", a, b)
	}
}

// A failed read counts as an error of its storage type and is timed.
func TestInstrumentStoreCountsReads(t *testing.T) {
	m := NewMetrics(nil)
	s := m.InstrumentStore(&baseStore{}, "redis")
	if err := s.Read(context.Background(), nil); err == nil {
		t.Fatal("want the store's error")
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range mt.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mt.GetCounter() != nil:
				got[key] = mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				got[key] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"feature_store_reads_total,status=error,storage_type=redis":   1,
		"feature_store_reads_total,status=success,storage_type=redis": 0,
		"feature_store_read_latency_seconds,storage_type=redis":       1,
		"feast_feature_server_online_store_read_duration_seconds":     1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
}
