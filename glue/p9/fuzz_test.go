package p9

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
)

// msg builds a 9P message from its type, tag and fields (uint8, uint16,
// uint32, uint64, string, []byte written raw).
func msg(typ uint8, tag uint16, fields ...any) []byte {
	b := []byte{0, 0, 0, 0, typ, byte(tag), byte(tag >> 8)}
	for _, f := range fields {
		switch v := f.(type) {
		case uint8:
			b = append(b, v)
		case uint16:
			b = binary.LittleEndian.AppendUint16(b, v)
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case uint64:
			b = binary.LittleEndian.AppendUint64(b, v)
		case string:
			b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic("msg: bad field")
		}
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

const nofid = ^uint32(0)

// session is a valid conversation touching most handlers.
func session() [][]byte {
	return [][]byte{
		msg(msgTversion, noTag, uint32(8192), "9P2000.L"),
		msg(msgTauth, 1, nofid, "", "", uint32(0)),
		msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
		msg(110, 2, uint32(1), uint32(2), uint16(1), "file"),           // Twalk
		msg(24, 3, uint32(2), uint64(0x3fff)),                          // Tgetattr
		msg(12, 4, uint32(2), uint32(2)),                               // Tlopen RDWR
		msg(msgTread, 5, uint32(2), uint64(0), uint32(1<<20)),          // Tread, count above msize
		msg(118, 6, uint32(2), uint64(3), uint32(3), []byte("xyz")),    // Twrite
		msg(110, 7, uint32(1), uint32(3), uint16(0)),                   // Twalk clone
		msg(12, 8, uint32(3), uint32(0)),                               // Tlopen dir
		msg(40, 9, uint32(3), uint64(0), uint32(4000)),                 // Treaddir
		msg(14, 10, uint32(1), "new", uint32(2), uint32(0o644), nofid), // Tlcreate on root fid (not opened)
		msg(72, 11, uint32(1), "d", uint32(0o755), nofid),              // Tmkdir
		msg(74, 12, uint32(1), "d", uint32(1), "e"),                    // Trenameat
		msg(76, 13, uint32(1), "e", uint32(0x200)),                     // Tunlinkat
		msg(8, 14, uint32(1)),                                          // Tstatfs
		msg(108, 15, uint16(5)),                                        // Tflush
		msg(30, 16, uint32(2), uint32(4), "user.x"),                    // Txattrwalk
		msg(120, 17, uint32(2)),                                        // Tclunk
		msg(122, 18, uint32(3)),                                        // Tremove
		msg(msgTversion, 19, uint32(8192), "9P2000.L"),                 // second Tversion
	}
}

// runServerInput writes data to a fresh connection of srv, drains the
// replies, and reports whether any reply was EFAULT (a handler panic).
func runServerInput(t testing.TB, srv *Server, data []byte) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeConn(a) }()
	b.SetDeadline(time.Now().Add(10 * time.Second))
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		var hdr [hdrLen]byte
		for {
			if _, err := io.ReadFull(b, hdr[:]); err != nil {
				return
			}
			size := binary.LittleEndian.Uint32(hdr[:])
			if size < hdrLen {
				t.Errorf("reply with size %d", size)
				return
			}
			body := make([]byte, size-hdrLen)
			if _, err := io.ReadFull(b, body); err != nil {
				return
			}
			if hdr[4] == msgRlerror && len(body) == 4 && binary.LittleEndian.Uint32(body) == 14 {
				t.Errorf("EFAULT reply: a handler panicked")
			}
		}
	}()
	b.Write(data) // the server may close first: that is an answer too
	b.Close()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("server connection did not end after the client closed")
	}
	<-drained
}

// FuzzServer feeds arbitrary bytes to a connection of the kit's 9P server
// over memfs: it must answer with errors or close the connection, never
// panic (p9 answers a handler panic with EFAULT, counted), and another
// connection must keep working.
func FuzzServer(f *testing.F) {
	var whole []byte
	for _, m := range session() {
		whole = append(whole, m...)
		f.Add(append([]byte(nil), whole...))
	}
	f.Add(append(msg(msgTversion, noTag, uint32(8192), "9P2000.L.Google.7"), // the extension
		append(session()[2], msg(126, 2, uint32(1), uint32(2), uint16(1), "file")...)...)) // Twalkgetattr
	f.Add(whole[:len(whole)-3])                              // truncated
	f.Add(msg(msgTread, 1, uint32(1), uint64(0), uint32(9))) // before Tversion
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 100, 0, 0})         // huge size
	f.Add([]byte{3, 0, 0, 0})                                // size below the header
	f.Add(append(msg(msgTversion, noTag, uint32(100), "9P2000.L"), whole[len(session()[0]):]...))

	f.Fuzz(func(t *testing.T, data []byte) {
		// Everything is fresh for each input, so that a failure
		// reproduces from its input alone.
		m := memfs.New()
		root, _ := m.Root()
		file, _ := root.Create("file", 0o644, fs.Owner{})
		file.WriteAt([]byte("contents"), 0)
		var mu sync.Mutex
		var logs []string
		srv := NewServer(m, &Options{Logf: func(format string, a ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(format, a...))
			mu.Unlock()
		}})
		defer srv.Close()

		// A connection that must keep working while another is fuzzed.
		ca, cb := net.Pipe()
		go srv.ServeConn(ca)
		good, err := Dial(cb, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()

		runServerInput(t, srv, data)
		if n := srv.panics.Load(); n != 0 {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%d handler panics:\n%s", n, strings.Join(logs, "\n"))
		}
		// The input may have renamed or removed anything: the other
		// connection makes, reads and removes a file of its own.
		groot, _ := good.Root()
		gf, err := groot.Create("good-connection-file", 0o644, fs.Owner{})
		if err != nil {
			t.Fatalf("other connection: create: %v", err)
		}
		buf := []byte("abc")
		if _, err := gf.WriteAt(buf, 0); err != nil {
			t.Fatalf("other connection: write: %v", err)
		}
		if _, err := gf.ReadAt(buf, 0); err != nil && err != io.EOF {
			t.Fatalf("other connection: read: %v", err)
		}
		if err := groot.Unlink("good-connection-file"); err != nil {
			t.Fatalf("other connection: unlink: %v", err)
		}
	})
}

// TestServerRejects checks the glue's answers to messages p9 would
// mishandle.
func TestServerRejects(t *testing.T) {
	m := memfs.New()
	srv := NewServer(m, nil)
	defer srv.Close()
	exchange := func(msgs ...[]byte) [][]byte {
		a, b := net.Pipe()
		go srv.ServeConn(a)
		defer b.Close()
		b.SetDeadline(time.Now().Add(10 * time.Second))
		var replies [][]byte
		for _, m := range msgs {
			if _, err := b.Write(m); err != nil {
				return replies
			}
			var hdr [hdrLen]byte
			if _, err := io.ReadFull(b, hdr[:]); err != nil {
				return replies
			}
			body := make([]byte, binary.LittleEndian.Uint32(hdr[:])-hdrLen)
			io.ReadFull(b, body)
			replies = append(replies, append(hdr[:], body...))
		}
		return replies
	}
	errno := func(r []byte) uint32 {
		if r[4] != msgRlerror {
			return 0
		}
		return binary.LittleEndian.Uint32(r[hdrLen:])
	}
	version := msg(msgTversion, noTag, uint32(65536), "9P2000.L")
	tests := []struct {
		name  string
		msgs  [][]byte
		check func(t *testing.T, r [][]byte)
	}{
		{"TauthENOENT", [][]byte{version, msg(msgTauth, 1, uint32(5), "u", "", uint32(0))}, func(t *testing.T, r [][]byte) {
			if len(r) != 2 || errno(r[1]) != 2 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"BeforeVersion", [][]byte{msg(msgTread, 1, uint32(1), uint64(0), uint32(9))}, func(t *testing.T, r [][]byte) {
			if len(r) != 1 || errno(r[0]) == 0 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"SecondVersion", [][]byte{version, version}, func(t *testing.T, r [][]byte) {
			if len(r) != 2 || r[0][4] != msgRversion || errno(r[1]) != 22 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"TinyMsize", [][]byte{msg(msgTversion, noTag, uint32(64), "9P2000.L")}, func(t *testing.T, r [][]byte) {
			if len(r) != 1 || errno(r[0]) != 22 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"HugeMsizeCapped", [][]byte{msg(msgTversion, noTag, uint32(1<<30), "9P2000.L")}, func(t *testing.T, r [][]byte) {
			if len(r) != 1 || r[0][4] != msgRversion || binary.LittleEndian.Uint32(r[0][hdrLen:]) != 1<<20 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"OversizedMessageCloses", [][]byte{version, bytes.Repeat([]byte{0xff}, 7)}, func(t *testing.T, r [][]byte) {
			if len(r) != 1 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"TreadClamped", [][]byte{version,
			msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
			msg(12, 2, uint32(1), uint32(0)),
			msg(msgTread, 3, uint32(1), uint64(0), uint32(1<<22)),
		}, func(t *testing.T, r [][]byte) {
			// A read of a directory fid fails, but not with EFAULT.
			if len(r) != 4 || errno(r[3]) == 14 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"TreadTrailingBytesClamped", [][]byte{version,
			msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
			msg(12, 2, uint32(1), uint32(0)),
			msg(msgTread, 3, uint32(1), uint64(0), uint32(1<<22), []byte("trailing bytes p9 ignores")),
		}, func(t *testing.T, r [][]byte) {
			if len(r) != 4 || errno(r[3]) == 14 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"WalkTooManyNames", [][]byte{version,
			msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
			msg(110, 2, uint32(1), uint32(2), uint16(17), "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"),
		}, func(t *testing.T, r [][]byte) {
			if len(r) != 3 || errno(r[2]) != 22 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"FlushSelf", [][]byte{version, msg(108, 48, uint16(48))}, func(t *testing.T, r [][]byte) {
			if len(r) != 2 || r[1][4] != 109 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"FlushIdle", [][]byte{version, msg(108, 1, uint16(7))}, func(t *testing.T, r [][]byte) {
			if len(r) != 2 || r[1][4] != 109 || binary.LittleEndian.Uint16(r[1][5:]) != 1 {
				t.Fatalf("replies %x", r)
			}
		}},
		{"XattrcreateTooBig", [][]byte{version,
			msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
			msg(32, 2, uint32(1), "user.big", uint64(1<<40), uint32(0)),
		}, func(t *testing.T, r [][]byte) {
			if len(r) != 3 || errno(r[2]) != 7 { // E2BIG
				t.Fatalf("replies %x", r)
			}
		}},
		{"TreaddirClamped", [][]byte{version,
			msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
			msg(12, 2, uint32(1), uint32(0)),
			msg(40, 3, uint32(1), uint64(0), uint32(1<<30)),
		}, func(t *testing.T, r [][]byte) {
			if len(r) != 4 || r[3][4] != 41 || len(r[3]) > 65536 {
				t.Fatalf("replies %x", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, exchange(tt.msgs...)) })
	}
	if n := srv.panics.Load(); n != 0 {
		t.Fatalf("%d handler panics", n)
	}
}
