// Command bodyrss measures the server's resident memory under concurrent
// large request bodies: it sends each concurrency level's requests at
// once and prints the server's VmRSS before, at the peak (sampled while
// they run) and a few seconds after. Linux only (it reads /proc).
//
// It imports nothing of the project: it talks to the server over HTTP only.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	pid := flag.Int("pid", 0, "server process id")
	url := flag.String("url", "http://127.0.0.1:6566/get-online-features", "endpoint")
	size := flag.Int("size", 15<<20, "body bytes")
	levels := flag.String("c", "1,32,64", "concurrency levels")
	settle := flag.Duration("settle", 5*time.Second, "wait after each level before the 'after' figure")
	flag.Parse()
	head := `{"features":["pipeline_stats:error_count"],"entities":{"pipeline_id":[1]}`
	body := []byte(head + strings.Repeat(" ", *size-len(head)-1) + "}")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	for _, l := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(l)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		before := rss(*pid)
		var peak atomic.Int64
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			for {
				if r := rss(*pid); r > peak.Load() {
					peak.Store(r)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		codes := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code := 0
				resp, err := client.Post(*url, "application/json", bytes.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(stop)
		sampler.Wait()
		time.Sleep(*settle)
		fmt.Printf("concurrency %3d: RSS before %5d MB, peak %5d MB, %v after %5d MB; answers %v\n",
			n, before>>20, peak.Load()>>20, *settle, rss(*pid)>>20, codes)
	}
}

// rss is the process's resident set in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
