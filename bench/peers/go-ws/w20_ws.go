// W20-W22 with Go's gorilla/websocket (Debian's golang-github-gorilla-websocket-dev): an
// echo server on 127.0.0.1:P at /echo, one goroutine per connection reading a message and
// writing it back; W22's /room and /control are in w22_broadcast.go. Built in GOPATH mode
// against /usr/share/gocode (bench/run.sh).
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gorilla/websocket"
)

func main() {
	port := 0
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "--port=") {
			fmt.Sscanf(a[7:], "%d", &port)
		}
	}
	flag.CommandLine = flag.NewFlagSet("w20", flag.ContinueOnError)
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096,
		CheckOrigin: func(r *http.Request) bool { return true }}
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(1 << 20)
		for {
			t, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(t, m) != nil {
				return
			}
		}
	})
	routeBroadcast(&up)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; os.Exit(0) }()
	fmt.Fprintf(os.Stderr, "w20-ws: go gorilla listening on 127.0.0.1:%d\n", port)
	if err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", port), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
