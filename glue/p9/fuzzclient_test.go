package p9

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
)

// fakeServer answers a client on conn from a script: a Tversion gets a
// proper Rversion (when version is true), and every other request gets the
// next size-framed message of script with the request's tag written in (a
// trailing piece that is not a whole message is sent as it is). Replies
// are written by another goroutine, so that a client blocked writing
// never deadlocks the unbuffered pipe.
func fakeServer(conn net.Conn, version bool, script []byte) {
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	out := make(chan []byte, 64)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for b := range out {
			if _, err := conn.Write(b); err != nil {
				conn.Close()
			}
		}
	}()
	// At the end of the script, the replies go out and the connection
	// closes: a client waiting for the rest of a message then fails.
	defer func() {
		close(out)
		<-written
		conn.Close()
	}()
	for i := 0; i < 64; i++ {
		var hdr [hdrLen]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		size := binary.LittleEndian.Uint32(hdr[:])
		if size < hdrLen || size > 1<<20 {
			return
		}
		body := make([]byte, size-hdrLen)
		if _, err := io.ReadFull(conn, body); err != nil {
			return
		}
		tag := binary.LittleEndian.Uint16(hdr[5:])
		if hdr[4] == msgTversion && version {
			m, v, _ := parseVersion(body)
			if v != "9P2000.L" {
				out <- rlerror(tag, 5)
				continue
			}
			out <- versionMsg(msgRversion, tag, min(m, 8192), v)
			continue
		}
		if len(script) == 0 {
			return
		}
		n := len(script)
		if len(script) >= hdrLen {
			if s := int(binary.LittleEndian.Uint32(script)); s >= hdrLen && s <= len(script) {
				n = s
			}
		}
		r := append([]byte(nil), script[:n]...)
		script = script[n:]
		if len(r) >= hdrLen {
			binary.LittleEndian.PutUint16(r[5:], tag)
		}
		out <- r
		if len(script) == 0 {
			return
		}
	}
}

// FuzzClient feeds arbitrary replies to the kit's client: Dial, a lookup,
// a read and a directory listing must fail with an error or succeed,
// never panic or hang.
func FuzzClient(f *testing.F) {
	dirQID := []byte{0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	fileQID := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}
	attr := make([]byte, 8+13+4+4+4+8+8+8+8+8*8+8*4)
	binary.LittleEndian.PutUint64(attr, 0x3fff)
	binary.LittleEndian.PutUint32(attr[8+13:], 0o100644)
	script := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = append(b, m...)
		}
		return b
	}
	good := script(
		msg(105, 0, dirQID), // Rattach
		msg(25, 0, append(append([]byte(nil), attr[:8]...), append(dirQID, attr[21:]...)...)), // Rgetattr root
		msg(111, 0, uint16(1), fileQID),             // Rwalk x
		msg(25, 0, attr),                            // Rgetattr x
		msg(111, 0, uint16(0)),                      // Rwalk clone
		msg(13, 0, fileQID, uint32(0)),              // Rlopen
		msg(117, 0, uint32(100), make([]byte, 100)), // Rread: more than asked
	)
	f.Add(true, good)
	f.Add(true, msg(msgRlerror, 1, uint32(13)))
	f.Add(true, msg(105, 1, dirQID[:5]))
	f.Add(false, versionMsg(msgRversion, noTag, 1<<30, "9P2000.L"))
	f.Add(false, versionMsg(msgRversion, noTag, 8192, "9P2000.u"))
	f.Add(false, []byte{0xff, 0xff, 0xff, 0x7f, 101, 0xff, 0xff})
	f.Add(true, []byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, version bool, script []byte) {
		a, b := net.Pipe()
		go fakeServer(a, version, script)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := Dial(b, &Options{MessageSize: 8192, Plain: true})
			if err != nil {
				return // refused: an error is the right answer
			}
			defer c.Close()
			root, _ := c.Root()
			if n, err := root.Lookup("x"); err == nil {
				if f, ok := n.(fs.File); ok {
					for _, size := range []int{10, 20000} {
						p := make([]byte, size)
						if k, _ := f.ReadAt(p, 0); k > len(p) {
							t.Errorf("ReadAt returned %d bytes for a buffer of %d", k, len(p))
						}
					}
				}
			}
			root.ReadDir(0, 0)
		}()
		select {
		case <-done:
		case <-time.After(8 * time.Second):
			t.Fatal("client hung on a broken server")
		}
	})
}

// TestClientLongRead: a server answering a read with more bytes than asked
// gets EIO, not a panic of p9's client nor a count above the buffer.
func TestClientLongRead(t *testing.T) {
	dirQID := []byte{0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	fileQID := []byte{0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}
	attr := make([]byte, 8+13+132)
	binary.LittleEndian.PutUint32(attr[8+13:], 0o100644)
	for _, size := range []int{10, 7168, 7680} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var script []byte
			for _, m := range [][]byte{
				msg(105, 0, dirQID), msg(25, 0, attr), msg(111, 0, uint16(1), fileQID), msg(25, 0, attr),
				msg(111, 0, uint16(0)), msg(13, 0, fileQID, uint32(0)),
				msg(117, 0, uint32(8000), make([]byte, 8000)),
			} {
				script = append(script, m...)
			}
			a, b := net.Pipe()
			go fakeServer(a, true, script)
			c, err := Dial(b, &Options{MessageSize: 8192, Plain: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			root, _ := c.Root()
			n, err := root.Lookup("x")
			if err != nil {
				t.Fatal(err)
			}
			k, err := n.(fs.File).ReadAt(make([]byte, size), 0)
			if !errors.Is(err, syscall.EIO) || k > size {
				t.Fatalf("ReadAt = %d, %v; want EIO", k, err)
			}
		})
	}
}
