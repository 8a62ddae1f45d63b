package server

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// resourceUsage computes Feast's feast_feature_server_cpu_usage and
// feast_feature_server_memory_usage (psutil's cpu_percent and
// memory_percent of the server process) from /proc at scrape time: CPU
// percent over the time since the previous scrape (since the start for the
// first), RSS as a percent of the machine's memory. Where /proc is absent
// both read 0.
type resourceUsage struct {
	mu       sync.Mutex
	lastCPU  float64 // seconds of CPU used by the process
	lastWall time.Time
}

// clockTicks is USER_HZ, the unit of /proc/self/stat's times (100 on
// every Linux architecture Go supports).
const clockTicks = 100

var processStart = time.Now()

func (r *resourceUsage) cpuPercent() float64 {
	cpu, ok := processCPU()
	if !ok {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	prevCPU, prevWall := r.lastCPU, r.lastWall
	if prevWall.IsZero() {
		prevWall = processStart
	}
	r.lastCPU, r.lastWall = cpu, now
	wall := now.Sub(prevWall).Seconds()
	if wall <= 0 {
		return 0
	}
	return (cpu - prevCPU) / wall * 100
}

// processCPU reads utime + stime of /proc/self/stat, in seconds.
func processCPU() (float64, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) begins.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseFloat(string(f[11]), 64) // field 14
	st, err2 := strconv.ParseFloat(string(f[12]), 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return (ut + st) / clockTicks, true
}

func memoryPercent() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseFloat(string(f[1]), 64)
	if err != nil {
		return 0
	}
	total := memTotal()
	if total <= 0 {
		return 0
	}
	return pages * float64(os.Getpagesize()) / total * 100
}

// memTotal is MemTotal of /proc/meminfo in bytes.
func memTotal() float64 {
	fh, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemTotal:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseFloat(string(f[0]), 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
