// W22 with gorilla/websocket, written the way its chat example runs a hub: each member of
// the room has a writer goroutine draining a buffered channel, and a fan-out hands every
// member the message without waiting (the frame built once, shared). A member whose
// channel is full has stopped reading -- the kernel's buffers and then sendCap messages are
// queued for it -- and is closed with 1008 and leaves the room: the same cap as cio's
// W22 room (write_cap 8 KiB, SO_SNDBUF 4 KiB), counted in messages because a channel is.
//
// The writer sends what has queued up in one write (up to 4 KiB of frames), as cio's
// writer does: gorilla writes every message with a write call of its own, and at 10,000
// members that fell behind the fan-outs until readers that kept up hit the cap. The data
// frames are built here (a server frame is unmasked: opcode, length, payload) and written
// to the connection under gorilla; the writer is the only one writing to its connection
// (it sends the 1008 close itself), so frames never interleave.
//
//	/room     joins the room until the connection ends
//	/control  a text "go K" runs K fan-outs of 64 B, 10 ms apart, and answers
//	          "fanouts=K ms_median=.. ms_max=.. closed=N members=M"
package main

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const sendCap = 8192 / 66 // cio's 8 KiB cap in 66-byte frames (64 B and a 2-byte header)

type member struct {
	conn *websocket.Conn
	send chan []byte
	slow chan struct{} // closed when the member is kicked for falling behind
}

var room = struct {
	sync.Mutex
	members map[*member]bool
}{members: map[*member]bool{}}

// frame is a server's unmasked binary frame of a payload under 126 bytes.
func frame(data []byte) []byte {
	return append([]byte{0x82, byte(len(data))}, data...)
}

// writer sends what the fan-outs queued, batched up to 4 KiB per write. Kicked (slow
// closed), it sends a 1008 close frame if the socket takes one within 100 ms, then closes
// the connection.
func (m *member) writer() {
	nc := m.conn.UnderlyingConn()
	buf := make([]byte, 0, 4096)
	for f := range m.send {
		buf = append(buf[:0], f...)
	batch:
		for len(buf)+len(f) <= cap(buf) {
			select {
			case g, ok := <-m.send:
				if !ok {
					break batch
				}
				buf = append(buf, g...)
			default:
				break batch
			}
		}
		if _, err := nc.Write(buf); err != nil {
			break
		}
	}
	select {
	case <-m.slow:
		nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		nc.Write([]byte{0x88, 6, 0x03, 0xf0, 's', 'l', 'o', 'w'}) // 1008 "slow"
	default:
	}
	m.conn.Close()
}

// kick stops a member that stopped reading: its writer, maybe blocked in a write to the
// full socket, is woken by a write deadline and closes the connection.
func (m *member) kick() {
	close(m.slow)
	m.conn.UnderlyingConn().SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
}

// leave takes m out of the room unless a fan-out already did (the room's lock decides).
func leave(m *member) {
	room.Lock()
	if room.members[m] {
		delete(room.members, m)
		close(m.send)
	}
	room.Unlock()
}

func fanout(f []byte) {
	room.Lock()
	for m := range room.members {
		select {
		case m.send <- f:
		default:
			delete(room.members, m)
			m.kick()
			close(m.send)
		}
	}
	room.Unlock()
}

func join(up *websocket.Upgrader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if tc, ok := c.UnderlyingConn().(*net.TCPConn); ok {
			tc.SetWriteBuffer(4096)
		}
		m := &member{conn: c, send: make(chan []byte, sendCap), slow: make(chan struct{})}
		room.Lock()
		room.members[m] = true
		room.Unlock()
		go m.writer()
		// The reader answers pings and sees the close; members send nothing else.
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break
			}
		}
		leave(m)
	}
}

func control(up *websocket.Upgrader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			k := 0
			if n, _ := fmt.Sscanf(string(msg), "go %d", &k); n != 1 || k <= 0 {
				continue
			}
			room.Lock()
			members := len(room.members)
			room.Unlock()
			ms := make([]float64, k)
			for i := 0; i < k; i++ {
				data := make([]byte, 64) // its own buffer: writers still hold the last one
				for j := range data {
					data[j] = 'b'
				}
				copy(data, fmt.Sprintf("%08d", i)) // the readers check the order
				t0 := time.Now()
				fanout(frame(data))
				ms[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
				time.Sleep(10 * time.Millisecond)
			}
			room.Lock()
			open := len(room.members)
			room.Unlock()
			sort.Float64s(ms)
			answer := fmt.Sprintf("fanouts=%d ms_median=%.3f ms_max=%.3f closed=%d members=%d",
				k, ms[k/2], ms[k-1], members-open, members)
			if c.WriteMessage(websocket.TextMessage, []byte(answer)) != nil {
				return
			}
		}
	}
}

func routeBroadcast(up *websocket.Upgrader) {
	http.HandleFunc("/room", join(up))
	http.HandleFunc("/control", control(up))
}
