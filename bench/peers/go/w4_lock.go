// W4 lock: T goroutines, each K times: lock a sync.Mutex, read a shared counter, yield once
// (runtime.Gosched), write counter+1, unlock. Check counter = T*K.
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
	tasks := flag.Int("tasks", 1000, "goroutines")
	iters := flag.Int("iters", 1000, "critical sections per goroutine")
	flag.Parse()
	procs := setProcs()

	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	start := time.Now()
	wg.Add(*tasks)
	for t := 0; t < *tasks; t++ {
		go func() {
			defer wg.Done()
			for k := 0; k < *iters; k++ {
				mu.Lock()
				v := counter
				runtime.Gosched()
				counter = v + 1
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	n := *tasks * *iters
	if counter != n {
		fmt.Fprintf(os.Stderr, "w4-lock: go: FAILED: counter is %d, expected %d\n", counter, n)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w4-lock n=%d tasks=%d iters=%d gomaxprocs=%d secs=%.6f ns_per_op=%.1f\n",
		n, *tasks, *iters, procs, secs, secs*1e9/float64(n))
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
