// Command fileserver is a kernel that exports a file system over 9P2000.L
// on its own TCP/IP stack: goskit's memfs filled from the kernel's boot
// modules, a host directory (-host), or the ext2 file system on a disk
// image or one of its partitions (-ext2 IMAGE [-part N]), served by
// glue/p9.
//
//	go run ./examples/fileserver                       embedded default, checked
//	fileserver -module=etc/motd:motd -- -nic packet:veth0 -addr 198.18.0.2/24
//	fileserver -- -host /srv/export -nic tap:tap0 -addr 198.18.0.2/24
//	fileserver -- -host /srv/export -nic host -listen 127.0.0.1:5640
//	fileserver -- -ext2 disk.img -part 1 -nic packet:veth0 -addr 198.18.0.2/24
//
// With -nic wire (the default) the program boots two kernels in one
// process joined by the in-memory wire: the file server, and a client
// kernel that attaches over 9P, lists and reads everything back, compares
// it with what was exported, prints what it checked, and exits (0 when all
// matched). With no other flags the exported tree is the small one
// embedded in the program (plus a generated file larger than one 9P
// message and an empty directory). With a real NIC it serves until killed.
//
// Boot options (before "--") are the kit's: -module=PATH[:NAME] adds a
// boot module, copied into the memfs at NAME (directories made from the
// name's elements).
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/drivers/blkdev/part"
	"github.com/goskit/goskit/drivers/wire"
	"github.com/goskit/goskit/examples/kernel"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/glue/p9"
	"github.com/goskit/goskit/libc"
)

//go:embed tree
var embedded embed.FS

// Generated additions to the embedded tree.
const (
	patternName = "generated/pattern.bin"
	patternSize = 300 << 10 // several 9P messages at 64 KiB msize
	emptyDir    = "generated/empty"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

type options struct {
	nic    kernel.NICFlags
	host   string
	ext2   string
	part   int
	listen string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fl := flag.NewFlagSet("fileserver", flag.ContinueOnError)
	fl.SetOutput(stderr)
	o.nic.Register(fl)
	fl.StringVar(&o.host, "host", "", "export this host directory (hostfs) instead of the boot modules")
	fl.StringVar(&o.ext2, "ext2", "", "export the ext2 file system on this disk image or block device")
	fl.IntVar(&o.part, "part", 0, "with -ext2: the partition number (MBR or GPT) holding the file system; 0 for the whole disk")
	fl.StringVar(&o.listen, "listen", ":564", "address the 9P server listens on (on the kit's stack; with -nic host, on the host)")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	if fl.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if o.host != "" && o.ext2 != "" {
		return o, errors.New("-host and -ext2 both name the export: give one")
	}
	if o.part < 0 || (o.part > 0 && o.ext2 == "") {
		return o, errors.New("-part N (N > 0) goes with -ext2")
	}
	return o, o.nic.Validate()
}

// run is the kernel's main: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fail := func(status int, format string, a ...any) int {
		fmt.Fprintf(stderr, "fileserver: "+format+"\n", a...)
		return status
	}
	info, err := boot.Hosted(args)
	if err != nil {
		return fail(2, "%v", err)
	}
	o, err := parse(info.Args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		return fail(2, "%v", err)
	}
	restore, err := kernel.UseCPUs(info)
	if err != nil {
		return fail(2, "%v", err)
	}
	defer restore()

	fsys, want, what, err := export(info, o)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer fsys.Close()

	if kind, _ := o.nic.Kind(); kind != "wire" {
		return serve(info, o, fsys, what, stdout, fail)
	}
	return embeddedPair(info, o, fsys, want, what, stdout, fail)
}

// export builds the file system to serve and the io/fs view its contents
// are checked against.
func export(info *boot.Info, o options) (fsys fs.FileSystem, want iofs.FS, what string, err error) {
	if o.ext2 != "" {
		e, err := openExt2(o.ext2, o.part)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-ext2: %w", err)
		}
		what := "ext2 on " + o.ext2
		if o.part > 0 {
			what += fmt.Sprintf(" partition %d", o.part)
		}
		return e, fs.IOFS(e), what, nil
	}
	host := o.host
	if host != "" {
		h, err := hostfs.New(host)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-host: %w", err)
		}
		return h, fs.IOFS(h), "host directory " + host, nil
	}
	m := memfs.New()
	root, err := m.Root()
	if err != nil {
		return nil, nil, "", err
	}
	if len(info.Modules) > 0 {
		for _, mod := range info.Modules {
			if err := putFile(root, mod.Name, mod.Data); err != nil {
				return nil, nil, "", fmt.Errorf("module %s: %w", mod.Name, err)
			}
		}
		return m, fs.IOFS(m), fmt.Sprintf("%d boot modules in memfs", len(info.Modules)), nil
	}
	tree, err := iofs.Sub(embedded, "tree")
	if err != nil {
		return nil, nil, "", err
	}
	if err := copyTree(root, tree); err != nil {
		return nil, nil, "", err
	}
	if err := putFile(root, patternName, pattern()); err != nil {
		return nil, nil, "", err
	}
	if _, err := mkdirAll(root, emptyDir); err != nil {
		return nil, nil, "", err
	}
	want, err = embeddedWant(tree)
	if err != nil {
		return nil, nil, "", err
	}
	return m, want, "the embedded tree in memfs", nil
}

// diskFS is an ext2 file system that closes its disk when it is closed.
type diskFS struct {
	*ext2.FS
	disk *filedisk.Disk
}

func (d diskFS) Close() error { return errors.Join(d.FS.Close(), d.disk.Close()) }

// openExt2 mounts the ext2 file system on a disk image, or on one of its
// partitions.
func openExt2(path string, partition int) (fs.FileSystem, error) {
	disk, err := filedisk.Open(path, filedisk.Options{})
	if err != nil {
		return nil, err
	}
	var dev blkdev.Device = disk
	if partition > 0 {
		table, err := part.Read(disk)
		if err != nil {
			disk.Close()
			return nil, err
		}
		p, ok := table.Find(partition)
		if !ok {
			disk.Close()
			return nil, fmt.Errorf("no partition %d in the %s table", partition, table.Kind)
		}
		if dev, err = table.Open(disk, p); err != nil {
			disk.Close()
			return nil, err
		}
	}
	e, err := ext2.Mount(dev, ext2.Options{})
	if err != nil {
		disk.Close()
		return nil, err
	}
	if ro, why := e.ReadOnly(); ro {
		fmt.Fprintf(os.Stderr, "fileserver: %s mounted read-only: %s\n", path, why)
	}
	return diskFS{e, disk}, nil
}

func pattern() []byte {
	b := make([]byte, patternSize)
	for i := range b {
		b[i] = byte(i*7 + i>>10)
	}
	return b
}

// embeddedWant is the embedded tree with the generated additions: what a
// client must find, built independently of the served file system.
func embeddedWant(tree iofs.FS) (iofs.FS, error) {
	want := fstest.MapFS{
		patternName: {Data: pattern(), Mode: 0o644},
		emptyDir:    {Mode: iofs.ModeDir | 0o755},
	}
	err := iofs.WalkDir(tree, ".", func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := iofs.ReadFile(tree, p)
		want[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return err
	})
	return want, err
}

// mkdirAll makes the directories of a slash-separated path under root.
func mkdirAll(root fs.Dir, p string) (fs.Dir, error) {
	d := root
	for _, name := range strings.Split(p, "/") {
		if name == "" {
			continue
		}
		n, err := d.Lookup(name)
		if errors.Is(err, iofs.ErrNotExist) {
			n, err = d.Mkdir(name, 0o755, fs.Owner{})
		}
		if err != nil {
			return nil, err
		}
		nd, ok := n.(fs.Dir)
		if !ok {
			return nil, fmt.Errorf("%s: not a directory", name)
		}
		d = nd
	}
	return d, nil
}

// putFile writes data to a new file at the slash-separated path p.
func putFile(root fs.Dir, p string, data []byte) error {
	p = strings.Trim(path.Clean("/"+p), "/")
	dir, name := path.Split(p)
	d, err := mkdirAll(root, dir)
	if err != nil {
		return err
	}
	f, err := d.Create(name, 0o644, fs.Owner{})
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	return err
}

// copyTree copies an io/fs tree into a directory.
func copyTree(root fs.Dir, src iofs.FS) error {
	return iofs.WalkDir(src, ".", func(p string, d iofs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			_, err := mkdirAll(root, p)
			return err
		}
		data, err := iofs.ReadFile(src, p)
		if err != nil {
			return err
		}
		return putFile(root, p, data)
	})
}

// serve exports fsys on the kernel's NIC until the NIC fails or the
// process is killed.
func serve(info *boot.Info, o options, fsys fs.FileSystem, what string, stdout io.Writer, fail func(int, string, ...any) int) int {
	k, err := kernel.Boot(info, o.nic, kernel.Config{Console: stdout})
	if err != nil {
		return fail(1, "boot: %v", err)
	}
	defer k.Close()
	var l net.Listener
	if k.Stack != nil {
		l, err = k.Stack.Listen("tcp", o.listen)
	} else {
		l, err = net.Listen("tcp", o.listen)
	}
	if err != nil {
		return fail(1, "listen %s: %v", o.listen, err)
	}
	srv := p9.NewServer(fsys, &p9.Options{Logf: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }})
	defer srv.Close()
	fmt.Fprintf(stdout, "fileserver: serving %s over 9P2000.L on %s\n", what, l.Addr())
	if k.Stack == nil {
		if err := srv.Serve(l); err != nil {
			return fail(1, "%v", err)
		}
		return 0
	}
	return k.Run("fileserver", func(*libc.System) int {
		if err := srv.Serve(l); err != nil {
			return fail(1, "%v", err)
		}
		return 0
	})
}

// embeddedPair serves fsys on one kernel and checks it from another over
// the wire.
func embeddedPair(info *boot.Info, o options, fsys fs.FileSystem, want iofs.FS, what string, stdout io.Writer, fail func(int, string, ...any) int) int {
	console := &syncWriter{w: stdout}
	client, server, err := kernel.BootPair(info, wire.Config{}, o.nic, kernel.Config{Console: console})
	if err != nil {
		return fail(1, "boot: %v", err)
	}
	defer client.Close()
	defer server.Close()
	_, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return fail(2, "-listen: %v", err)
	}
	l, err := server.Stack.Listen("tcp", net.JoinHostPort(kernel.EmbeddedReceiver.Addr().String(), port))
	if err != nil {
		return fail(1, "listen: %v", err)
	}
	srv := p9.NewServer(fsys, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	defer func() { srv.Close(); <-served }()

	addr := net.JoinHostPort(kernel.EmbeddedReceiver.Addr().String(), port)
	conn, err := client.Stack.Dial(context.Background(), "tcp", addr)
	if err != nil {
		return fail(1, "dial %s: %v", addr, err)
	}
	c, err := p9.Dial(conn, nil)
	if err != nil {
		return fail(1, "9P attach: %v", err)
	}
	defer c.Close()
	fmt.Fprintf(console, "fileserver: serving %s over 9P2000.L on %s; client kernel at %s attached\n",
		what, addr, kernel.EmbeddedTransmitter.Addr())
	st, err := check(fs.IOFS(c), want, console)
	if err != nil {
		return fail(1, "check: %v", err)
	}
	fmt.Fprintf(console, "fileserver: checked %d files (%d bytes) and %d directories over 9P between two kernels on the wire: all match\n",
		st.files, st.bytes, st.dirs)
	return 0
}

type stats struct{ files, dirs, bytes int }

// check lists and reads everything the client sees and compares it with
// want: the same names, the same kinds, the same contents.
func check(got, want iofs.FS, out io.Writer) (stats, error) {
	var st stats
	wantList, err := listing(want)
	if err != nil {
		return st, fmt.Errorf("expected tree: %w", err)
	}
	gotList, err := listing(got)
	if err != nil {
		return st, fmt.Errorf("served tree: %w", err)
	}
	if len(wantList) != len(gotList) {
		return st, fmt.Errorf("served tree has %d entries, want %d:\n got %q\nwant %q", len(gotList), len(wantList), gotList, wantList)
	}
	for i := range wantList {
		if wantList[i] != gotList[i] {
			return st, fmt.Errorf("entry %d is %q, want %q", i, gotList[i], wantList[i])
		}
		p := wantList[i]
		if strings.HasSuffix(p, "/") {
			st.dirs++
			fmt.Fprintf(out, "  dir  %s\n", p)
			continue
		}
		g, err := iofs.ReadFile(got, p)
		if err != nil {
			return st, fmt.Errorf("read %s: %w", p, err)
		}
		w, err := iofs.ReadFile(want, p)
		if err != nil {
			return st, fmt.Errorf("read expected %s: %w", p, err)
		}
		if string(g) != string(w) {
			return st, fmt.Errorf("%s: read %d bytes that differ from the %d exported", p, len(g), len(w))
		}
		st.files++
		st.bytes += len(g)
		fmt.Fprintf(out, "  file %s (%d bytes)\n", p, len(g))
	}
	return st, nil
}

// listing returns every path of a tree in walk order, directories with a
// trailing slash.
func listing(f iofs.FS) ([]string, error) {
	var out []string
	err := iofs.WalkDir(f, ".", func(p string, d iofs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			p += "/"
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// syncWriter lets two kernels share one console.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
