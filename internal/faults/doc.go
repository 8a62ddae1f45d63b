// Package faults holds no code, only fault tests with real processes
// (issue 13, item 6): the server binary run as a process against
// test-owned redis-server, Redis Cluster, PostgreSQL and moto (S3)
// processes that the tests kill and restart, checking that the server
// answers clearly (503, never a 500, a hang or a crash), keeps serving
// what it can, and recovers. docs/faults.md lists what each test proves.
//
// It imports nothing; nothing imports it.
package faults
