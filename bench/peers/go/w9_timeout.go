// W9 timeout: N times, open a 10-second timeout scope (context.WithTimeout) around one yield
// (runtime.Gosched) and close it (cancel). The deadline never fires.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	n := flag.Int("n", 1000000, "scopes")
	flag.Parse()
	procs := setProcs()

	parent := context.Background()
	done := 0
	start := time.Now()
	for i := 0; i < *n; i++ {
		ctx, cancel := context.WithTimeout(parent, 10*time.Second)
		runtime.Gosched()
		if ctx.Err() == nil {
			done++
		}
		cancel()
	}
	secs := time.Since(start).Seconds()
	if done != *n {
		fmt.Fprintf(os.Stderr, "w9-timeout: go: FAILED: %d scopes closed in time, expected %d\n", done, *n)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w9-timeout n=%d gomaxprocs=%d secs=%.6f ns_per_scope=%.1f note=context.WithTimeout\n",
		*n, procs, secs, secs*1e9/float64(*n))
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
