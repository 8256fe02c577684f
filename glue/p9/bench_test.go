package p9

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"testing"

	hp "github.com/hugelgupf/p9/p9"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/fs/memfs"
)

const (
	benchFileSize = 16 << 20
	benchChunk    = 1 << 20
	benchMsize    = 64 << 10
)

// benchServer starts one of the compared servers and returns the kit's
// client of it: plain 9P2000.L at 64 KiB msize over host TCP on
// 127.0.0.1, for every server.
type benchServer struct {
	name  string
	start func(b *testing.B) fs.FileSystem
}

func benchDial(b *testing.B, addr, aname string) fs.FileSystem {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c, err := Dial(conn, &Options{MessageSize: benchMsize, Aname: aname, Plain: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func benchServers() []benchServer {
	return []benchServer{
		{"kit-memfs", func(b *testing.B) fs.FileSystem {
			return benchDial(b, serveTCP(b, memfs.New()), "")
		}},
		{"kit-hostfs", func(b *testing.B) fs.FileSystem {
			h, err := hostfs.New(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return benchDial(b, serveTCP(b, h), "")
		}},
		{"diod", func(b *testing.B) fs.FileSystem {
			dir := b.TempDir()
			return benchDial(b, startDiod(b, dir), dir)
		}},
	}
}

// rawRoot is the p9 file of the client's root, for the rows that count
// protocol operations exactly (walk, getattr, clunk).
func rawRoot(c fs.FileSystem) hp.File { return c.(*client).root.f }

func mkBenchFile(b *testing.B, c fs.FileSystem) fs.File {
	root, _ := c.Root()
	f, err := root.Create("data", 0o644, fs.Owner{})
	if err != nil {
		b.Fatal(err)
	}
	buf := bytes.Repeat([]byte{0x5a}, benchChunk)
	for off := int64(0); off < benchFileSize; off += benchChunk {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

type benchOp struct {
	name string
	run  func(b *testing.B, c fs.FileSystem)
}

var benchOps = []benchOp{
	{"Read", func(b *testing.B, c fs.FileSystem) {
		mkBenchFile(b, c)
		root, _ := c.Root()
		n, err := root.Lookup("data")
		if err != nil {
			b.Fatal(err)
		}
		f := n.(fs.File)
		buf := make([]byte, benchChunk)
		b.SetBytes(benchChunk)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.ReadAt(buf, int64(i)*benchChunk%benchFileSize); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"Write", func(b *testing.B, c fs.FileSystem) {
		f := mkBenchFile(b, c)
		buf := bytes.Repeat([]byte{0xa5}, benchChunk)
		b.SetBytes(benchChunk)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f.WriteAt(buf, int64(i)*benchChunk%benchFileSize); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"WalkGetattrClunk", func(b *testing.B, c fs.FileSystem) {
		mkBenchFile(b, c)
		root := rawRoot(c)
		names := []string{"data"}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_, f, err := root.Walk(names)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, _, err := f.GetAttr(hp.AttrMaskAll); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"CreateWriteClunk", func(b *testing.B, c fs.FileSystem) {
		root := rawRoot(c)
		data := bytes.Repeat([]byte{1}, 4096)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_, f, err := root.Walk(nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, _, err := f.Create(fmt.Sprintf("f%d", i), hp.ReadWrite, 0o644, hp.NoUID, hp.NoGID); err != nil {
				b.Fatal(err)
			}
			if _, err := f.WriteAt(data, 0); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}},
	{"Remove", func(b *testing.B, c fs.FileSystem) {
		root := rawRoot(c)
		dir, _ := c.Root()
		for i := 0; i < b.N; i++ {
			if _, err := dir.Create(fmt.Sprintf("f%d", i), 0o644, fs.Owner{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			// walk + Tremove: what every server here answers (diod
			// refuses Tunlinkat).
			_, f, err := root.Walk([]string{fmt.Sprintf("f%d", i)})
			if err != nil {
				b.Fatal(err)
			}
			if err := f.(interface{ Remove() error }).Remove(); err != nil {
				b.Fatal(err)
			}
		}
	}},
}

// BenchmarkServer compares the kit's 9P server (over memfs and over
// hostfs) with diod, with the same client (the kit's), plain 9P2000.L at
// 64 KiB msize on host TCP over 127.0.0.1.
func BenchmarkServer(b *testing.B) {
	for _, op := range benchOps {
		b.Run(op.name, func(b *testing.B) {
			for _, s := range benchServers() {
				b.Run(s.name, func(b *testing.B) { op.run(b, s.start(b)) })
			}
		})
	}
}

// BenchmarkServerNetstack compares 9P between two of the kit's netstacks
// over the in-memory wire with 9P over host loopback TCP, both to the
// kit's server over memfs.
func BenchmarkServerNetstack(b *testing.B) {
	nets := []benchServer{
		{"host-tcp", func(b *testing.B) fs.FileSystem {
			return benchDial(b, serveTCP(b, memfs.New()), "")
		}},
		{"netstack-wire", func(b *testing.B) fs.FileSystem {
			info, err := boot.Hosted([]string{"bench"})
			if err != nil {
				b.Fatal(err)
			}
			client, server, err := kernel.BootPair(info, wire.Config{}, kernel.NICFlags{TxQueue: -1}, kernel.Config{Console: os.Stderr})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { client.Close(); server.Close() })
			l, err := server.Stack.Listen("tcp", net.JoinHostPort(kernel.EmbeddedReceiver.Addr().String(), "564"))
			if err != nil {
				b.Fatal(err)
			}
			srv := NewServer(memfs.New(), nil)
			go srv.Serve(l)
			b.Cleanup(func() { srv.Close() })
			conn, err := client.Stack.Dial(context.Background(), "tcp", net.JoinHostPort(kernel.EmbeddedReceiver.Addr().String(), "564"))
			if err != nil {
				b.Fatal(err)
			}
			c, err := Dial(conn, &Options{MessageSize: benchMsize, Plain: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.Close() })
			return c
		}},
	}
	for _, op := range benchOps[:3] {
		b.Run(op.name, func(b *testing.B) {
			for _, s := range nets {
				b.Run(s.name, func(b *testing.B) { op.run(b, s.start(b)) })
			}
		})
	}
}
