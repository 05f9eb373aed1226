// W1 spawn: create N goroutines whose body returns at once, in batches; wait for each batch.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1000000, "tasks")
	batch := flag.Int("batch", 10000, "tasks per batch")
	flag.Parse()
	procs := setProcs()

	results := make([]int, *batch)
	done := 0
	start := time.Now()
	for base := 0; base < *n; base += *batch {
		size := min(*batch, *n-base)
		var wg sync.WaitGroup
		wg.Add(size)
		for i := 0; i < size; i++ {
			go func(slot *int) {
				*slot = 1
				wg.Done()
			}(&results[i])
		}
		wg.Wait()
		for i := 0; i < size; i++ {
			done += results[i]
			results[i] = 0
		}
	}
	secs := time.Since(start).Seconds()
	if done != *n {
		fail("%d tasks returned, expected %d", done, *n)
	}
	fmt.Printf("impl=go workload=w1-spawn n=%d batch=%d gomaxprocs=%d secs=%.6f ns_per_task=%.1f\n",
		*n, *batch, procs, secs, secs*1e9/float64(*n))
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "w1-spawn: go: FAILED: "+format+"\n", args...)
	os.Exit(1)
}
