// W22 with gorilla/websocket, written the way its chat example runs a hub: each member of
// the room has a writer goroutine draining a buffered channel, and a fan-out hands every
// member the message without waiting (one PreparedMessage, framed once). A member whose
// channel is full has stopped reading -- the kernel's buffers and then sendCap messages are
// queued for it -- and is closed with 1008 and leaves the room: the same cap as cio's
// W22 room (write_cap 8 KiB, SO_SNDBUF 4 KiB), counted in messages because a channel is.
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
	send chan *websocket.PreparedMessage
}

var room = struct {
	sync.Mutex
	members map[*member]bool
}{members: map[*member]bool{}}

// writer sends what the fan-outs queued, one message at a time.
func (m *member) writer() {
	for pm := range m.send {
		if m.conn.WritePreparedMessage(pm) != nil {
			break
		}
	}
	m.conn.Close()
}

// kick closes a member that stopped reading: a 1008 close frame if the socket still takes
// one within 100 ms, then the connection (which also ends its writer's blocked write).
func (m *member) kick() {
	m.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "slow"),
		time.Now().Add(100*time.Millisecond))
	m.conn.Close()
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

func fanout(pm *websocket.PreparedMessage) {
	room.Lock()
	for m := range room.members {
		select {
		case m.send <- pm:
		default:
			delete(room.members, m)
			close(m.send)
			go m.kick()
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
		m := &member{conn: c, send: make(chan *websocket.PreparedMessage, sendCap)}
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
				pm, _ := websocket.NewPreparedMessage(websocket.BinaryMessage, data)
				fanout(pm)
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
