// W3 sleepers: N goroutines start together; goroutine i sleeps i/N seconds; wait for all.
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
	n := flag.Int("n", 100000, "sleepers")
	flag.Parse()
	procs := setProcs()

	var wg sync.WaitGroup
	var sum int64
	start := time.Now()
	wg.Add(*n)
	for i := 0; i < *n; i++ {
		go func(i int) {
			time.Sleep(time.Duration(int64(i) * int64(time.Second) / int64(*n)))
			atomic.AddInt64(&sum, int64(i))
			wg.Done()
		}(i)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if want := int64(*n) * int64(*n-1) / 2; sum != want {
		fmt.Fprintf(os.Stderr, "w3-sleepers: go: FAILED: sum is %d, expected %d\n", sum, want)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w3-sleepers n=%d gomaxprocs=%d secs=%.6f overhead_secs=%.6f\n",
		*n, procs, secs, secs-1.0)
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
