//go:build race

package faults_test

// raceBuild: the server binary is built with -race too, so a data race
// the faults provoke in it is a crash the tests see.
const raceBuild = true
