// W10 to_thread: N calls of a function that returns at once, run on a worker pool, at most 64
// in flight. Go has no separate thread pool: blocking work simply runs in a goroutine. The
// faithful shape is a fixed pool of worker goroutines fed by a channel, each call answered on
// its caller's reply channel, with 64 callers.
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

type call struct {
	fn    func() int
	reply chan int
}

func work() int { return 1 }

func main() {
	n := flag.Int("n", 100000, "calls")
	inflight := flag.Int("inflight", 64, "calls in flight")
	workers := flag.Int("workers", 4, "pool goroutines")
	flag.Parse()
	procs := setProcs()

	calls := make(chan call)
	for w := 0; w < *workers; w++ {
		go func() {
			for c := range calls {
				c.reply <- c.fn()
			}
		}()
	}
	var started, total int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(*inflight)
	for c := 0; c < *inflight; c++ {
		go func() {
			defer wg.Done()
			reply := make(chan int, 1)
			for atomic.AddInt64(&started, 1) <= int64(*n) {
				calls <- call{work, reply}
				atomic.AddInt64(&total, int64(<-reply))
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(calls)
	if total != int64(*n) {
		fmt.Fprintf(os.Stderr, "w10-to-thread: go: FAILED: %d calls returned, expected %d\n", total, *n)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w10-to-thread n=%d inflight=%d workers=%d gomaxprocs=%d secs=%.6f ns_per_call=%.1f note=goroutine-pool\n",
		*n, *inflight, *workers, procs, secs, secs*1e9/float64(*n))
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
