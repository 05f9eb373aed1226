// W5 queue: P producers and P consumers over one buffered channel (capacity 128); N integers
// in total; the channel is closed when every producer is done; check the sum.
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
	n := flag.Int("n", 1000000, "items")
	p := flag.Int("p", 1, "producers and consumers each")
	maxsize := flag.Int("maxsize", 128, "channel capacity")
	flag.Parse()
	procs := setProcs()

	queue := make(chan int, *maxsize)
	sums := make(chan int, *p)
	var producers sync.WaitGroup
	start := time.Now()
	for c := 0; c < *p; c++ {
		go func() {
			total := 0
			for item := range queue {
				total += item
			}
			sums <- total
		}()
	}
	producers.Add(*p)
	for k := 0; k < *p; k++ {
		go func(lo, hi int) {
			for i := lo; i < hi; i++ {
				queue <- i
			}
			producers.Done()
		}(*n*k / *p, *n*(k+1) / *p)
	}
	producers.Wait()
	close(queue)
	total := 0
	for c := 0; c < *p; c++ {
		total += <-sums
	}
	secs := time.Since(start).Seconds()
	if want := *n * (*n - 1) / 2; total != want {
		fmt.Fprintf(os.Stderr, "w5-queue: go: FAILED: sum is %d, expected %d\n", total, want)
		os.Exit(1)
	}
	fmt.Printf("impl=go workload=w5-queue n=%d p=%d gomaxprocs=%d secs=%.6f ns_per_item=%.1f note=buffered-chan\n",
		*n, *p, procs, secs, secs*1e9/float64(*n))
}

// setProcs keeps Go on one OS thread running goroutines unless GOMAXPROCS says otherwise.
func setProcs() int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	return runtime.GOMAXPROCS(0)
}
