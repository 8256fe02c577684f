package memfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
)

// The benchmarks mirror the libc-on-memfs against tmpfs table (issue 4):
// metadata operations per file, and bulk I/O in 64 KiB calls. They call the
// component directly; libc adds its fd table and path walk on top.

var page4k = make([]byte, 4096)

func names(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("file%06d", i)
	}
	return s
}

// round is the benchmark population: 10,000 files, created,
// stat'ed and removed in turn, so the heap is reused as a kernel's would be.
const round = 10000

// BenchmarkCreateWrite4K: create a file and write 4 KiB into it, in a
// directory that holds up to 10,000 files (each round's files are removed,
// untimed, before the next round).
func BenchmarkCreateWrite4K(b *testing.B) {
	r := root(b, memfs.New())
	ns := names(round)
	b.SetBytes(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%round == 0 && i > 0 {
			b.StopTimer()
			for _, n := range ns {
				r.Unlink(n)
			}
			b.StartTimer()
		}
		f, err := r.Create(ns[i%round], 0o644, own)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(page4k, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStat: look a name up in a directory of 10,000 and stat it.
func BenchmarkStat(b *testing.B) {
	r := root(b, memfs.New())
	ns := names(10000)
	for _, n := range ns {
		r.Create(n, 0o644, own)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n, err := r.Lookup(ns[i%len(ns)])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.Stat(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemove: unlink files of 4 KiB from a directory of 10,000
// (refilled, untimed, after each round).
func BenchmarkRemove(b *testing.B) {
	r := root(b, memfs.New())
	ns := names(round)
	fill := func() {
		for _, n := range ns {
			f, _ := r.Create(n, 0o644, own)
			f.WriteAt(page4k, 0)
		}
	}
	fill()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%round == 0 && i > 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		if err := r.Unlink(ns[i%round]); err != nil {
			b.Fatal(err)
		}
	}
}

const bulk, chunk = 64 << 20, 64 << 10

// BenchmarkSeqWrite64M: write a 64 MiB file in 64 KiB calls (a new file
// each time, so pages are allocated as in a first write).
func BenchmarkSeqWrite64M(b *testing.B) {
	r := root(b, memfs.New())
	buf := make([]byte, chunk)
	b.SetBytes(bulk)
	b.ResetTimer()
	for i := range b.N {
		f, _ := r.Create(fmt.Sprint(i), 0o644, own)
		for off := int64(0); off < bulk; off += chunk {
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		r.Unlink(fmt.Sprint(i))
		b.StartTimer()
	}
}

// BenchmarkRewrite64M: truncate a 64 MiB file to 0 (as O_TRUNC does) and
// write it again in 64 KiB calls; the truncated pages are reused.
func BenchmarkRewrite64M(b *testing.B) {
	r := root(b, memfs.New())
	buf := make([]byte, chunk)
	f, _ := r.Create("f", 0o644, own)
	b.SetBytes(bulk)
	b.ResetTimer()
	for range b.N {
		if err := f.Truncate(0); err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < bulk; off += chunk {
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSeqRead64M: read a 64 MiB file in 64 KiB calls.
func BenchmarkSeqRead64M(b *testing.B) {
	r := root(b, memfs.New())
	buf := make([]byte, chunk)
	f, _ := r.Create("f", 0o644, own)
	for off := int64(0); off < bulk; off += chunk {
		f.WriteAt(buf, off)
	}
	b.SetBytes(bulk)
	b.ResetTimer()
	for range b.N {
		for off := int64(0); off < bulk; off += chunk {
			if _, err := f.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkParallelWrite: writers to different files in parallel (no
// shared lock on the data path).
func BenchmarkParallelWrite(b *testing.B) {
	r := root(b, memfs.New())
	b.SetBytes(chunk)
	var next int64
	var mu = make(chan struct{}, 1)
	b.RunParallel(func(pb *testing.PB) {
		mu <- struct{}{}
		next++
		name := fmt.Sprint(next)
		<-mu
		f, err := r.Create(name, 0o644, own)
		if err != nil {
			b.Error(err)
			return
		}
		buf := make([]byte, chunk)
		var off int64
		for pb.Next() {
			f.WriteAt(buf, off%bulk)
			off += chunk
		}
	})
}

var _ fs.File

// The host's tmpfs through package os, the baseline the issue compares
// with (skipped where /dev/shm is not a tmpfs).
func shmDir(b *testing.B) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != 0x01021994 {
		b.Skip("no tmpfs at /dev/shm")
	}
	d, err := os.MkdirTemp("/dev/shm", "memfs-bench")
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func BenchmarkTmpfsCreateWrite4K(b *testing.B) {
	d := shmDir(b)
	ns := names(round)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := range b.N {
		if i%round == 0 && i > 0 {
			b.StopTimer()
			for _, n := range ns {
				os.Remove(filepath.Join(d, n))
			}
			b.StartTimer()
		}
		f, err := os.OpenFile(filepath.Join(d, ns[i%round]), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		f.Write(page4k)
		f.Close()
	}
}

func BenchmarkTmpfsStat(b *testing.B) {
	d := shmDir(b)
	ns := names(round)
	for _, n := range ns {
		os.WriteFile(filepath.Join(d, n), nil, 0o644)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := os.Stat(filepath.Join(d, ns[i%round])); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTmpfsSeqWrite64M(b *testing.B) {
	d := shmDir(b)
	buf := make([]byte, chunk)
	b.SetBytes(bulk)
	b.ResetTimer()
	for i := range b.N {
		p := filepath.Join(d, fmt.Sprint(i))
		f, _ := os.Create(p)
		for off := 0; off < bulk; off += chunk {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		f.Close()
		b.StopTimer()
		os.Remove(p)
		b.StartTimer()
	}
}

func BenchmarkTmpfsRewrite64M(b *testing.B) {
	d := shmDir(b)
	buf := make([]byte, chunk)
	f, _ := os.Create(filepath.Join(d, "f"))
	defer f.Close()
	b.SetBytes(bulk)
	b.ResetTimer()
	for range b.N {
		if err := f.Truncate(0); err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < bulk; off += chunk {
			if _, err := f.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkTmpfsSeqRead64M(b *testing.B) {
	d := shmDir(b)
	buf := make([]byte, chunk)
	p := filepath.Join(d, "f")
	os.WriteFile(p, make([]byte, bulk), 0o644)
	f, _ := os.Open(p)
	defer f.Close()
	b.SetBytes(bulk)
	b.ResetTimer()
	for range b.N {
		for off := int64(0); off < bulk; off += chunk {
			if _, err := f.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
}
