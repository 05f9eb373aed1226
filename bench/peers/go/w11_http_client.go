// W11 http client: fetch GET / from a local server N times with net/http, at most 100
// requests in flight (100 goroutines) over one keep-alive pool; check every status and body.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var want = []byte("Hello, World!")

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1")
	n := flag.Int("n", 20000, "requests")
	inflight := flag.Int("inflight", 100, "requests in flight")
	flag.Parse()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	procs := runtime.GOMAXPROCS(0)
	url := fmt.Sprintf("http://127.0.0.1:%d/", *port)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        *inflight,
		MaxIdleConnsPerHost: *inflight,
		MaxConnsPerHost:     *inflight,
	}}

	var started, ok int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(*inflight)
	for w := 0; w < *inflight; w++ {
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&started, 1) <= int64(*n) {
				resp, err := client.Get(url)
				if err != nil {
					fmt.Fprintf(os.Stderr, "w11-http-client: go: %v\n", err)
					continue
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 && bytes.Equal(got, want) {
					atomic.AddInt64(&ok, 1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if ok != int64(*n) {
		fmt.Fprintf(os.Stderr, "w11-http-client: go: FAILED: %d good responses, expected %d\n", ok, *n)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w11-http-client n=%d inflight=%d gomaxprocs=%d secs=%.6f rps=%.1f\n",
		*n, *inflight, procs, secs, float64(*n)/secs)
}
