package p9

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// fakeServer answers a client on conn: Tversion with a proper Rversion
// (when version is true), then every later request with the bytes of
// reply (the first request only), and then closes.
func fakeServer(conn net.Conn, version bool, reply []byte) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	read := func() (uint8, uint16, []byte, error) {
		var hdr [hdrLen]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return 0, 0, nil, err
		}
		size := binary.LittleEndian.Uint32(hdr[:])
		if size < hdrLen || size > 1<<20 {
			return 0, 0, nil, errFraming
		}
		body := make([]byte, size-hdrLen)
		_, err := io.ReadFull(conn, body)
		return hdr[4], binary.LittleEndian.Uint16(hdr[5:]), body, err
	}
	for i := 0; i < 4; i++ {
		typ, tag, body, err := read()
		if err != nil {
			return
		}
		if typ == msgTversion && version {
			m, v, _ := parseVersion(body)
			if v != "9P2000.L" {
				conn.Write(rlerror(tag, 5))
				continue
			}
			conn.Write(versionMsg(msgRversion, tag, min(m, 8192), v))
			continue
		}
		conn.Write(reply)
		return
	}
}

// FuzzClient feeds arbitrary replies to the kit's client: Dial and a
// lookup must fail with an error or succeed, never panic or hang.
func FuzzClient(f *testing.F) {
	qid := []byte{0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	f.Add(true, msg(105, 1, qid))                                   // Rattach
	f.Add(true, msg(msgRlerror, 1, uint32(13)))                     // attach refused
	f.Add(true, msg(105, 1, qid[:5]))                               // short Rattach
	f.Add(false, versionMsg(msgRversion, noTag, 1<<30, "9P2000.L")) // msize above the request
	f.Add(false, versionMsg(msgRversion, noTag, 8192, "9P2000.u"))
	f.Add(false, []byte{0xff, 0xff, 0xff, 0x7f, 101, 0xff, 0xff})
	f.Add(true, []byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, version bool, reply []byte) {
		a, b := net.Pipe()
		go fakeServer(a, version, reply)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := Dial(b, &Options{MessageSize: 8192})
			if err != nil {
				return // refused: an error is the right answer
			}
			defer c.Close()
			root, _ := c.Root()
			root.Lookup("x")
			root.ReadDir(0, 0)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("client hung on a broken server")
		}
	})
}
