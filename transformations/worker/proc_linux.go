package worker

import (
	"os"
	"syscall"
)

// childAttr has the kernel kill the worker when the server dies.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

var stopSignal os.Signal = syscall.SIGTERM
