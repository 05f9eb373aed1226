// Go's gorilla/websocket (Debian's golang-github-gorilla-websocket-dev) as a peer for
// tests/ws/interop.py, built there in GOPATH mode.
//
//	gorilla_peer server [deflate]     echo server: prints "PORT n", then "CLOSE code" per connection
//	gorilla_peer client URL [deflate] the interop scenario; exit 0 when every echo matched
package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gorilla_peer: "+f+"\n", a...)
	os.Exit(1)
}

func server(deflate bool) {
	up := websocket.Upgrader{EnableCompression: deflate,
		CheckOrigin: func(r *http.Request) bool { return true }}
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(2 << 20)
		for {
			t, m, err := c.ReadMessage()
			if err != nil {
				code := 1006
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				fmt.Printf("CLOSE %d\n", code)
				return
			}
			if c.WriteMessage(t, m) != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	fmt.Printf("PORT %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() { buf := make([]byte, 1); os.Stdin.Read(buf); os.Exit(0) }()
	http.Serve(ln, nil)
}

func client(url string, deflate bool) {
	d := websocket.Dialer{EnableCompression: deflate, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		fail("dial %s: %v", url, err)
	}
	if deflate && resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		fail("deflate not negotiated")
	}
	c.SetReadLimit(2 << 20)
	echo := func(t int, m []byte, what string) {
		if err := c.WriteMessage(t, m); err != nil {
			fail("%s: %v", what, err)
		}
		rt, rm, err := c.ReadMessage()
		if err != nil || rt != t || !bytes.Equal(rm, m) {
			fail("%s: echo differs (%v)", what, err)
		}
	}
	echo(websocket.TextMessage, []byte("hello, wörld"), "text")
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	echo(websocket.BinaryMessage, bin, "binary")
	// A fragmented message: NextWriter sends a frame each time its 4 KiB
	// buffer fills, so 10,000 bytes go out as three frames.
	long := bytes.Repeat([]byte("fragmented "), 1000)[:10000]
	w, _ := c.NextWriter(websocket.TextMessage)
	for i := 0; i < len(long); i += 1000 {
		w.Write(long[i : i+1000])
	}
	w.Close()
	if _, m, err := c.ReadMessage(); err != nil || !bytes.Equal(m, long) {
		fail("fragmented: %v", err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	echo(websocket.BinaryMessage, big, "1 MiB")
	pong := make(chan struct{}, 1)
	c.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	c.WriteControl(websocket.PingMessage, []byte("ping!"), time.Now().Add(5*time.Second))
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pong:
	case <-time.After(10 * time.Second):
		fail("no pong")
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"),
		time.Now().Add(5*time.Second))
	time.Sleep(200 * time.Millisecond)
	c.Close()
}

func main() {
	deflate := len(os.Args) > 2 && os.Args[len(os.Args)-1] == "deflate"
	switch {
	case len(os.Args) > 1 && os.Args[1] == "server":
		server(deflate)
	case len(os.Args) > 2 && os.Args[1] == "client":
		client(os.Args[2], deflate)
	default:
		fail("usage: gorilla_peer server|client URL [deflate]")
	}
}
