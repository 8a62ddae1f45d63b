// Package client is the Go client of the feature server for Go services on
// the prediction path: online reads, pushes and online writes over HTTP
// (the JSON API of `feast serve`) or gRPC (Feast's serving and
// GrpcFeatureServer services), with typed requests and answers, one
// connection pool per Client, a deadline per attempt, retries with jittered
// exponential backoff on 503 / Unavailable only, and context cancellation
// honoured while waiting.
//
// Both transports answer a read with the same Go values (see Feature), so
// a service can switch transport without touching the code that reads the
// answer.
//
// The package depends on the server's protobuf definitions and its JSON
// reader; it must not import the server itself.
package client
