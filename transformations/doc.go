// Package transformations evaluates Feast on-demand feature views (ODFVs).
//
// Each ODFV's UDF source (registry body_text) is analysed once per registry
// snapshot. Python-mode UDFs inside a safe subset of Python run in an
// embedded Starlark interpreter; pandas-mode UDFs made of element-wise
// column arithmetic run in a small vector evaluator. Everything else, and
// every request whose data falls outside what the native paths model
// exactly (NaN inputs, timestamps, bytes, …), is delegated to a Feast
// TransformationService over gRPC with Arrow IPC payloads. The rule is that
// a native answer is either the answer Feast 0.67.0 gives or no answer at
// all: when in doubt, delegate.
//
// The evaluator knows nothing about online reads: it takes named columns
// and returns named columns, so offline retrieval can apply the same ODFVs
// after a point-in-time join.
//
// It imports core, registry, the protos and internal helpers; never a store
// or a transport.
package transformations
