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

// blockingFS makes reads of its files wait for release.
type blockingFS struct {
	fs.FileSystem
	release chan struct{}
}

type blockingDir struct {
	fs.Dir
	release chan struct{}
}

type blockingFile struct {
	fs.File
	release chan struct{}
}

func (b blockingFS) Root() (fs.Dir, error) {
	d, err := b.FileSystem.Root()
	return blockingDir{d, b.release}, err
}

func (d blockingDir) Lookup(name string) (fs.Node, error) {
	n, err := d.Dir.Lookup(name)
	if f, ok := n.(fs.File); ok {
		return blockingFile{f, d.release}, err
	}
	return n, err
}

func (f blockingFile) ReadAt(p []byte, off int64) (int, error) {
	<-f.release
	return f.File.ReadAt(p, off)
}

// TestServerFlushWaits: the glue answers a Tflush of a request in flight
// only after that request's reply.
func TestServerFlushWaits(t *testing.T) {
	m := memfs.New()
	root, _ := m.Root()
	f, _ := root.Create("file", 0o644, fs.Owner{})
	f.WriteAt([]byte("data"), 0)
	release := make(chan struct{})
	srv := NewServer(blockingFS{m, release}, nil)
	defer srv.Close()
	a, b := net.Pipe()
	go srv.ServeConn(a)
	defer b.Close()
	b.SetDeadline(time.Now().Add(10 * time.Second))
	replies := make(chan []byte, 10)
	go func() {
		for {
			var hdr [hdrLen]byte
			if _, err := io.ReadFull(b, hdr[:]); err != nil {
				close(replies)
				return
			}
			body := make([]byte, binary.LittleEndian.Uint32(hdr[:])-hdrLen)
			io.ReadFull(b, body)
			replies <- append(hdr[:], body...)
		}
	}()
	for _, m := range [][]byte{
		msg(msgTversion, noTag, uint32(65536), "9P2000.L"),
		msg(msgTattach, 1, uint32(1), nofid, "", "", uint32(0)),
		msg(110, 2, uint32(1), uint32(2), uint16(1), "file"),
		msg(12, 3, uint32(2), uint32(0)),
	} {
		b.Write(m)
		if r := <-replies; r[4] == msgRlerror {
			t.Fatalf("setup reply %x", r)
		}
	}
	b.Write(msg(msgTread, 9, uint32(2), uint64(0), uint32(100)))
	b.Write(msg(108, 10, uint16(9))) // Tflush of the blocked read
	select {
	case r := <-replies:
		t.Fatalf("reply %x before the read finished", r)
	case <-time.After(50 * time.Millisecond): // only shortens the test if wrong
	}
	close(release)
	first, second := <-replies, <-replies
	if first[4] != 117 || binary.LittleEndian.Uint16(first[5:]) != 9 {
		t.Fatalf("first reply %x, want Rread tag 9", first)
	}
	if second[4] != 109 || binary.LittleEndian.Uint16(second[5:]) != 10 {
		t.Fatalf("second reply %x, want Rflush tag 10", second)
	}
}
