// Package layering holds no code, only the test of the import rules the
// package comments state (layering_test.go): the domain leaves (core,
// version, internal/pyfmt, internal/pyconv, protos) import nothing of ours
// but each other; back ends import only core, their contract, config and
// internal helpers; only the wiring (cmd/, offlinestore/catalog) chooses
// back ends or imports server; test fixtures stay in tests; nothing
// imports cmd/.
//
// It imports nothing; nothing imports it.
package layering
