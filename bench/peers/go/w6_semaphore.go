// W6 semaphore: N goroutines, a semaphore of 100 (a buffered channel, Go's usual counting
// semaphore); each acquires, yields once (runtime.Gosched), releases.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 100000, "goroutines")
	limit := flag.Int("limit", 100, "semaphore size")
	flag.Parse()
	procs := setProcs()

	sem := make(chan struct{}, *limit)
	var wg sync.WaitGroup
	var holders, peak, done int64 // atomics, so the check holds for any GOMAXPROCS
	start := time.Now()
	wg.Add(*n)
	for i := 0; i < *n; i++ {
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			h := atomic.AddInt64(&holders, 1)
			for p := atomic.LoadInt64(&peak); h > p && !atomic.CompareAndSwapInt64(&peak, p, h); {
				p = atomic.LoadInt64(&peak)
			}
			runtime.Gosched()
			atomic.AddInt64(&holders, -1)
			atomic.AddInt64(&done, 1)
			<-sem
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if done != int64(*n) || peak > int64(*limit) {
		fmt.Fprintf(os.Stderr, "w6-semaphore: go: FAILED: %d of %d done, peak holders %d (limit %d)\n",
			done, *n, peak, *limit)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w6-semaphore n=%d limit=%d peak=%d gomaxprocs=%d secs=%.6f ns_per_task=%.1f note=buffered-chan\n",
		*n, *limit, peak, procs, secs, secs*1e9/float64(*n))
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
