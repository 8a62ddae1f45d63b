// Package typespb is the Go generated from Feast's feast/types/*.proto
// (scripts/gen-proto.sh; do not edit the .pb.go files).
//
// It imports only the protobuf runtime and the other generated packages
// below protos/; nothing of the project's own.
package typespb
