package libc_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/internal/testenv"
	"github.com/goskit/goskit/libc"
	"golang.org/x/sys/unix"
)

// The file benchmarks run libc on memfs and the host's tmpfs through
// package os side by side in one run:
//
//	go test -run '^$' -bench Files -benchtime 3x ./libc/
//
// Files/meta does, per iteration, create+write 4 KiB+close, stat and
// remove of 10,000 files on each side, and reports each phase's rate;
// Files/bulk writes and reads 64 MiB in 64 KiB calls on each side.

const (
	benchFiles    = 10000
	benchBulk     = 64 << 20
	benchBulkCall = 64 << 10
)

// filesBackend is one side of the comparison.
type filesBackend struct {
	name   string
	dir    string // where the files go
	create func(path string, data []byte) error
	stat   func(path string) error
	remove func(path string) error
	write  func(path string, data []byte, total int) error
	read   func(path string, buf []byte) (int, error)
}

// hostTmpfs returns a fresh directory on a tmpfs: in /dev/shm if that is
// a tmpfs, else a tmpfs mounted on a temporary directory (root only).
func hostTmpfs(b *testing.B) (dir, where string) {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC {
		d, err := os.MkdirTemp("/dev/shm", "goskit-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		return d, "/dev/shm"
	}
	testenv.NeedRoot(b)
	d := b.TempDir()
	if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=512m"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Unmount(d, unix.MNT_DETACH) })
	return d, "a tmpfs mounted on " + d
}

func osBackend(b *testing.B) filesBackend {
	dir, _ := hostTmpfs(b)
	return filesBackend{
		name: "os-tmpfs",
		dir:  dir,
		create: func(path string, data []byte) error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			if _, err := f.Write(data); err != nil {
				return err
			}
			return f.Close()
		},
		stat:   func(path string) error { _, err := os.Stat(path); return err },
		remove: os.Remove,
		write: func(path string, data []byte, total int) error {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			for n := 0; n < total; n += len(data) {
				if _, err := f.Write(data); err != nil {
					return err
				}
			}
			return f.Close()
		},
		read: func(path string, buf []byte) (int, error) {
			f, err := os.Open(path)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			total := 0
			for {
				n, err := f.Read(buf)
				total += n
				if n == 0 || err != nil {
					return total, nil
				}
			}
		},
	}
}

func libcBackend(b *testing.B) filesBackend {
	ns, err := fs.NewNamespace(memfs.New())
	if err != nil {
		b.Fatal(err)
	}
	s := libc.New(nil, libc.FS(ns))
	if err := s.Mkdir("/bench", 0o755); err != nil {
		b.Fatal(err)
	}
	var st syscall.Stat_t
	return filesBackend{
		name: "libc-memfs",
		dir:  "/bench",
		create: func(path string, data []byte) error {
			fd, err := s.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := s.Write(fd, data); err != nil {
				return err
			}
			return s.Close(fd)
		},
		stat:   func(path string) error { return s.Stat(path, &st) },
		remove: s.Unlink,
		write: func(path string, data []byte, total int) error {
			fd, err := s.Open(path, syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			for n := 0; n < total; n += len(data) {
				if _, err := s.Write(fd, data); err != nil {
					return err
				}
			}
			return s.Close(fd)
		},
		read: func(path string, buf []byte) (int, error) {
			fd, err := s.Open(path, syscall.O_RDONLY, 0)
			if err != nil {
				return 0, err
			}
			defer s.Close(fd)
			total := 0
			for {
				n, err := s.Read(fd, buf)
				total += n
				if n == 0 || err != nil {
					return total, err
				}
			}
		},
	}
}

// measure runs f and returns the wall time and the process's CPU time
// (user and system, every thread: the GC's work on memfs's side, the
// kernel's on tmpfs's) it took. The machine these figures come from is
// shared, so CPU time is the steadier measure; wall time is reported too.
func measure(b *testing.B, f func()) (wall, cpu time.Duration) {
	var r0, r1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r0)
	t0 := time.Now()
	f()
	wall = time.Since(t0)
	unix.Getrusage(unix.RUSAGE_SELF, &r1)
	cpu = time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	return wall, cpu
}

// BenchmarkFiles runs each measurement on libc-memfs and os-tmpfs
// alternately in every iteration, so both see the same machine load, and
// reports each side's rate (wall and CPU time) and libc's ratio to os.
func BenchmarkFiles(b *testing.B) {
	b.Run("meta", func(b *testing.B) {
		bes := []filesBackend{libcBackend(b), osBackend(b)}
		names := make([][]string, len(bes))
		for j, be := range bes {
			names[j] = make([]string, benchFiles)
			for i := range names[j] {
				names[j][i] = fmt.Sprintf("%s/f%05d", be.dir, i)
			}
		}
		data := make([]byte, 4096)
		var wall, cpu [2][3]time.Duration
		for b.Loop() {
			for j, be := range bes {
				phases := []func(string) error{
					func(p string) error { return be.create(p, data) }, be.stat, be.remove,
				}
				for k, op := range phases {
					w, c := measure(b, func() {
						for _, p := range names[j] {
							if err := op(p); err != nil {
								b.Fatal(err)
							}
						}
					})
					wall[j][k] += w
					cpu[j][k] += c
				}
			}
		}
		n := float64(b.N * benchFiles)
		for k, what := range []string{"creates", "stats", "removes"} {
			for j, be := range bes {
				b.ReportMetric(n/wall[j][k].Seconds(), be.name+"-"+what+"/s")
			}
			b.ReportMetric(wall[1][k].Seconds()/wall[0][k].Seconds(), "x-"+what)
			b.ReportMetric(cpu[1][k].Seconds()/cpu[0][k].Seconds(), "x-"+what+"-cpu")
		}
	})
	b.Run("bulk", func(b *testing.B) {
		bes := []filesBackend{libcBackend(b), osBackend(b)}
		data := make([]byte, benchBulkCall)
		for _, be := range bes {
			if err := be.write(be.dir+"/bulk-r", data, benchBulk); err != nil {
				b.Fatal(err)
			}
		}
		var wall, cpu [2][2]time.Duration
		for b.Loop() {
			for j, be := range bes {
				w, c := measure(b, func() {
					if err := be.write(be.dir+"/bulk-w", data, benchBulk); err != nil {
						b.Fatal(err)
					}
				})
				wall[j][0] += w
				cpu[j][0] += c
				w, c = measure(b, func() {
					n, err := be.read(be.dir+"/bulk-r", data)
					if err != nil || n != benchBulk {
						b.Fatalf("read %d, %v", n, err)
					}
				})
				wall[j][1] += w
				cpu[j][1] += c
			}
		}
		mb := float64(b.N) * benchBulk / 1e6
		for k, what := range []string{"write", "read"} {
			for j, be := range bes {
				b.ReportMetric(mb/wall[j][k].Seconds(), be.name+"-"+what+"-MB/s")
			}
			b.ReportMetric(wall[1][k].Seconds()/wall[0][k].Seconds(), "x-"+what)
			b.ReportMetric(cpu[1][k].Seconds()/cpu[0][k].Seconds(), "x-"+what+"-cpu")
		}
	})
}
