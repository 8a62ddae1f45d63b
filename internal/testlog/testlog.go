// Package testlog holds what tests need to read logs a server goroutine
// writes. Test code only; it imports nothing of ours.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a log sink safe to read while other goroutines write to it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
