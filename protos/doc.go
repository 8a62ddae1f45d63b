// Package protos holds Feast's .proto files (feast/...) and the Go that
// scripts/gen-proto.sh generates from them, committed (make proto-check
// fails when it is stale); its test checks the generated descriptors.
//
// It is a leaf: the generated packages import only the protobuf runtime,
// never a package of this project.
package protos
