// W2 pingpong: two goroutines hand a token back and forth N times over unbuffered channels.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	n := flag.Int("n", 1000000, "round trips")
	flag.Parse()
	procs := setProcs()

	ping, pong := make(chan int), make(chan int)
	start := time.Now()
	go func() {
		for i := 0; i < *n; i++ {
			token := <-pong
			ping <- token + 1
		}
	}()
	token := 0
	for i := 0; i < *n; i++ {
		pong <- token + 1
		token = <-ping
	}
	secs := time.Since(start).Seconds()
	if token != 2**n {
		fmt.Fprintf(os.Stderr, "w2-pingpong: go: FAILED: token is %d, expected %d\n", token, 2**n)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w2-pingpong n=%d gomaxprocs=%d secs=%.6f ns_per_rt=%.1f note=unbuffered-chan\n",
		*n, procs, secs, secs*1e9/float64(*n))
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
