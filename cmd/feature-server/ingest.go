package main

import (
	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/ingest"
	"github.com/feastgo/feastgo/offlinestore"
	"github.com/feastgo/feastgo/online"
	"github.com/feastgo/feastgo/onlinestore"
	"github.com/feastgo/feastgo/registry"
)

// newIngest builds the write path (/push, /write-to-online-store and their
// gRPC twins) over the online store, when the store accepts writes.
func newIngest(cfg *config.RepoConfig, reg *registry.Registry, store onlinestore.Store, svc *online.Service, offline offlinestore.Catalog) *ingest.Service {
	w, ok := store.(onlinestore.Writer)
	if !ok {
		return nil
	}
	return &ingest.Service{Snapshot: reg.Current, Store: w, KeyVersion: cfg.EntityKeySerializationVersion,
		Transformer: svc.Transformer, Offline: offline, Refresh: reg.Refresh}
}
