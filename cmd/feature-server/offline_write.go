package main

import (
	"github.com/feastgo/feastgo/config"
	"github.com/feastgo/feastgo/ingest"
)

// newOfflineWriter returns the appender for pushes with to=offline, nil
// when the offline store has none.
func newOfflineWriter(*config.RepoConfig) ingest.OfflineWriter { return nil }
