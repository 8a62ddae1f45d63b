package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/onlinestore/cache"
	"github.com/feastgo/feastgo/server"
)

// The hot-entity cache's defaults: the TTL is a safety net behind Redis's
// invalidations, and the staleness bound on stores without them.
const (
	defaultCacheTTLTracked = time.Minute
	defaultCacheTTLOnly    = time.Second
)

// checkCacheFlags refuses cache flags that cannot work.
func (f *serveFlags) checkCacheFlags() error {
	if f.cacheBytes < 0 {
		return fmt.Errorf("--online-cache-bytes %d: must not be negative (0 turns the cache off)", f.cacheBytes)
	}
	if f.cacheTTL < 0 {
		return fmt.Errorf("--online-cache-ttl %v: must not be negative", f.cacheTTL)
	}
	switch f.cacheMode {
	case "auto", "tracking", "ttl":
	default:
		return fmt.Errorf("--online-cache-mode %q: must be auto, tracking or ttl", f.cacheMode)
	}
	return nil
}

// cacheOptions decides the cache's mode for the online store: tracking
// where the store reports other writers' changes (Redis, Sentinel), TTL
// only where it cannot (SQLite, PostgreSQL). auto on Redis Cluster is an
// error, so that nobody gets a cache that can serve stale values without
// asking for one (--online-cache-mode ttl).
func (f *serveFlags) cacheOptions(cfg *config.RepoConfig, store onlinestore.Store, log *slog.Logger) (cache.Options, error) {
	o := cache.Options{MaxBytes: f.cacheBytes, TTL: f.cacheTTL, Log: log.With("component", "online-cache")}
	tr, canTrack := store.(onlinestore.Tracker)
	var why error = errors.New("this online store cannot report other writers' changes")
	if canTrack {
		why = tr.TrackingSupported()
	}
	switch f.cacheMode {
	case "tracking":
		if why != nil {
			return o, fmt.Errorf("--online-cache-mode tracking: online_store %s: %w", cfg.OnlineStore.Type, why)
		}
		o.Track = true
	case "auto":
		if canTrack && why != nil {
			return o, fmt.Errorf("--online-cache-bytes: online_store %s: %w (--online-cache-mode ttl serves values up to --online-cache-ttl old)", cfg.OnlineStore.Type, why)
		}
		o.Track = canTrack
	}
	if o.TTL == 0 {
		o.TTL = defaultCacheTTLOnly
		if o.Track {
			o.TTL = defaultCacheTTLTracked
		}
	}
	return o, nil
}

// withOnlineCache wraps store in the hot-entity cache when
// --online-cache-bytes asks for one; closing the result closes store. On
// error it returns store itself, for the caller to close.
func withOnlineCache(f *serveFlags, cfg *config.RepoConfig, store onlinestore.Store, log *slog.Logger) (onlinestore.Store, *cache.Cache, error) {
	if f.cacheBytes == 0 {
		return store, nil, nil
	}
	o, err := f.cacheOptions(cfg, store, log)
	if err != nil {
		return store, nil, err
	}
	c, err := cache.New(store, o)
	if err != nil {
		return store, nil, err
	}
	log.Info("online cache on", "cache", o.Describe())
	return c, c, nil
}

// registerCacheMetrics exports the cache's counters.
func registerCacheMetrics(m *server.Metrics, c *cache.Cache) {
	counter := func(name, help string, v func(cache.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(c.Stats())) })
	}
	gauge := func(name, help string, v func(cache.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v(c.Stats()) })
	}
	m.Register(
		counter("feature_server_online_cache_hits_total", "Entity rows served from the hot-entity cache.",
			func(s cache.Stats) uint64 { return s.Hits }),
		counter("feature_server_online_cache_misses_total", "Entity rows the hot-entity cache read from the online store.",
			func(s cache.Stats) uint64 { return s.Misses }),
		counter("feature_server_online_cache_evictions_total", "Entities dropped from the full hot-entity cache.",
			func(s cache.Stats) uint64 { return s.Evictions }),
		counter("feature_server_online_cache_invalidations_total", "Invalidations applied (one per changed entity; flushes and stream losses count one).",
			func(s cache.Stats) uint64 { return s.Invalidations }),
		gauge("feature_server_online_cache_bytes", "Bytes held by the hot-entity cache (bounded by --online-cache-bytes).",
			func(s cache.Stats) float64 { return float64(s.Bytes) }),
		gauge("feature_server_online_cache_entities", "Entities held by the hot-entity cache.",
			func(s cache.Stats) float64 { return float64(s.Entities) }),
		gauge("feature_server_online_cache_live", "1 while reads may be served from the cache (with tracking: while the invalidation stream is up).",
			func(s cache.Stats) float64 {
				if s.Live {
					return 1
				}
				return 0
			}),
	)
}
