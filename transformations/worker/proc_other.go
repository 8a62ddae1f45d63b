//go:build !linux

package worker

import (
	"os"
	"syscall"
)

// childAttr: outside Linux the worker relies on its stdin closing alone.
func childAttr() *syscall.SysProcAttr { return nil }

var stopSignal = os.Interrupt
