// Command feature-server is a drop-in replacement for `feast serve`: it
// takes feast's flags, reads the same feature_store.yaml and registry, and
// serves Feast's HTTP API (and gRPC ServingService) from the same online
// store.
//
// It holds flags, wiring and terminal output only: the online store, the
// offline catalog (offlinestore/catalog), materialization and the servers
// are built by their packages and connected here; serve closes them in
// reverse order at shutdown.
//
// Nothing imports it. It is the one place that may import every back end
// and the transports (server/) together (internal/layering checks both).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "feature-server:", err)
		os.Exit(1)
	}
}
