// Package registrypb is the Go generated from feast/registry/RegistryServer.proto,
// the gRPC API of Feast's registry server (scripts/gen-proto.sh; do not edit
// the .pb.go files).
//
// It imports only the protobuf and gRPC runtimes and the other generated
// packages below protos/; nothing of the project's own.
package registrypb
