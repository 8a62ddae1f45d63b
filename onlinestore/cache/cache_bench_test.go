package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feastgo/feastgo/internal/bench"
	"github.com/feastgo/feastgo/internal/testenv"
	"github.com/feastgo/feastgo/onlinestore"
	redisstore "github.com/feastgo/feastgo/onlinestore/redis"
)

// BenchmarkZipfRead reads the benchmark repo's rows from a real Redis with
// entity ids drawn from a Zipf distribution (s=1.1 over the 2,000
// entities: a few hot entities, a long tail), through the store alone and
// through the tracking cache in front of it, 8 readers at a time:
// 1 entity x 3 features, and 10 entities x 50 features over five views.
func BenchmarkZipfRead(b *testing.B) {
	addr := testenv.Service(b, "FEASTGO_TEST_REDIS")
	project := fmt.Sprintf("cachebench_%d", time.Now().UnixNano())
	s, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Project: project, SkipDedup: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, wb := range bench.WriteBatches() {
		if err := s.Write(ctx, wb); err != nil {
			b.Fatal(err)
		}
	}
	c, err := New(s, Options{MaxBytes: 64 << 20, TTL: time.Minute, Track: true})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	for !c.Stats().Live {
		time.Sleep(time.Millisecond)
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, bench.Entities-1)
	const seqLen = 1 << 14
	ids := make([][]byte, seqLen)
	for i := range ids {
		ids[i] = bench.Key(int64(z.Uint64() + 1))
	}
	var views [bench.Views]string
	var features [bench.Views][]string
	for v := range views {
		views[v], features[v] = bench.ViewName(v+1), bench.FeatureNames(v+1)
	}
	// shape fills reqs (reused per reader, as the online path reuses its
	// requests) with the next entities of the sequence.
	shape := func(reqs []onlinestore.ReadRequest, keys [][]byte, perView, at int) {
		for i := range keys {
			keys[i] = ids[(at+i)%seqLen]
		}
		for v := range reqs {
			reqs[v] = onlinestore.ReadRequest{View: views[v], Features: features[v][:perView], Keys: keys}
		}
	}
	for _, sh := range []struct {
		name                     string
		views, perView, entities int
	}{{"1x3", 1, 3, 1}, {"10x50", bench.Views, bench.FeaturesPerView, 10}} {
		for _, st := range []struct {
			name  string
			store onlinestore.ScratchReader
		}{{"store", s}, {"cache", c}} {
			b.Run(sh.name+"/"+st.name, func(b *testing.B) {
				before := c.Stats()
				b.ReportAllocs()
				b.SetParallelism(4) // 8 readers on 2 cores
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					var sc onlinestore.Scratch
					reqs, keys := make([]onlinestore.ReadRequest, sh.views), make([][]byte, sh.entities)
					at := rand.IntN(seqLen)
					for pb.Next() {
						at += sh.entities
						shape(reqs, keys, sh.perView, at)
						if err := st.store.ReadScratch(ctx, reqs, &sc); err != nil {
							b.Error(err)
							return
						}
					}
				})
				if st.name == "cache" {
					after := c.Stats()
					hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
					b.ReportMetric(100*float64(hits)/float64(max(hits+misses, 1)), "hit%")
				}
			})
		}
	}
}
