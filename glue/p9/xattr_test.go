package p9

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
)

// exchange sends each message on a new connection to srv and returns the
// replies, one per message.
func exchange(t *testing.T, srv *Server, msgs ...[]byte) [][]byte {
	t.Helper()
	a, b := net.Pipe()
	go srv.ServeConn(a)
	defer b.Close()
	b.SetDeadline(time.Now().Add(10 * time.Second))
	var replies [][]byte
	for _, m := range msgs {
		if _, err := b.Write(m); err != nil {
			t.Fatalf("write: %v", err)
		}
		var hdr [hdrLen]byte
		if _, err := io.ReadFull(b, hdr[:]); err != nil {
			t.Fatalf("read: %v", err)
		}
		body := make([]byte, binary.LittleEndian.Uint32(hdr[:])-hdrLen)
		io.ReadFull(b, body)
		replies = append(replies, append(hdr[:], body...))
	}
	return replies
}

// TestServerXattr sets and reads an extended attribute through the 9P
// server (Txattrcreate + Twrite + Tclunk, Txattrwalk + Tread), which Linux
// clients use and p9's own client does not offer.
func TestServerXattr(t *testing.T) {
	m := memfs.New()
	root, _ := m.Root()
	f, _ := root.Create("file", 0o644, fs.Owner{})
	if _, ok := f.(fs.Xattrer); !ok {
		t.Skip("memfs files have no xattrs")
	}
	srv := NewServer(m, nil)
	defer srv.Close()
	r := exchange(t, srv,
		msg(msgTversion, noTag, uint32(65536), "9P2000.L"),
		msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
		msg(110, 2, uint32(1), uint32(2), uint16(1), "file"),
		msg(32, 3, uint32(2), "user.k", uint64(3), uint32(0)), // Txattrcreate
		msg(118, 4, uint32(2), uint64(0), uint32(3), []byte("abc")),
		msg(120, 5, uint32(2)),
		msg(110, 6, uint32(1), uint32(3), uint16(1), "file"),
		msg(30, 7, uint32(3), uint32(4), "user.k"), // Txattrwalk
		msg(msgTread, 8, uint32(4), uint64(0), uint32(3)),
	)
	for i, rep := range r {
		if rep[4] == msgRlerror {
			t.Fatalf("reply %d: Rlerror %d", i, binary.LittleEndian.Uint32(rep[hdrLen:]))
		}
	}
	if size := binary.LittleEndian.Uint64(r[7][hdrLen:]); size != 3 {
		t.Fatalf("Rxattrwalk size %d", size)
	}
	if got := string(r[8][hdrLen+4:]); got != "abc" {
		t.Fatalf("xattr read back %q", got)
	}
	if v, err := f.(fs.Xattrer).GetXattr("user.k"); err != nil || string(v) != "abc" {
		t.Fatalf("memfs has %q, %v", v, err)
	}
}
