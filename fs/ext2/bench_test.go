package ext2_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
)

// The benchmarks put goskit's ext2 on filedisk beside Linux's ext2 on a
// loop mount of the same kind of image, made by mkfs.ext2 with 4 KiB
// blocks on tmpfs (/dev/shm) so the disk is out of the picture. Run:
//
//	go test -run XXX -bench . -benchtime 3x ./fs/ext2
//
// Linux's side needs root (loop mount) and is skipped without it.

const (
	benchImage = 1 << 30
	bulkSize   = 256 << 20
	bulkChunk  = 1 << 20
	nFiles     = 10000
)

func shmImage(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "ext2bench")
	if err != nil {
		b.Skipf("no /dev/shm: %v", err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	img := filepath.Join(dir, "bench.img")
	f, _ := os.Create(img)
	f.Truncate(benchImage)
	f.Close()
	if out, err := exec.Command("mkfs.ext2", "-q", "-F", "-b", "4096", img).CombinedOutput(); err != nil {
		b.Skipf("mkfs.ext2: %v: %s", err, out)
	}
	return img
}

// side is one file system under benchmark: goskit's or Linux's.
type side struct {
	name   string
	setup  func(b *testing.B) // mount
	remnt  func(b *testing.B) // unmount and mount again: caches cold
	write  func(b *testing.B, name string, data []byte, chunk int, sync bool)
	read   func(b *testing.B, name string, buf []byte)
	remove func(b *testing.B, name string)
	stat   func(b *testing.B, name string)
	mkdir  func(b *testing.B, name string)
}

func goskitSide(b *testing.B) *side {
	img := shmImage(b)
	var disk *filedisk.Disk
	var fsys *ext2.FS
	var root fs.Dir
	mount := func(b *testing.B) {
		var err error
		if disk, err = filedisk.Open(img, filedisk.Options{}); err != nil {
			b.Fatal(err)
		}
		if fsys, err = ext2.Mount(disk, ext2.Options{}); err != nil {
			b.Fatal(err)
		}
		root, _ = fsys.Root()
	}
	unmount := func(b *testing.B) {
		if err := fsys.Close(); err != nil {
			b.Fatal(err)
		}
		disk.Close()
	}
	b.Cleanup(func() { unmount(b) })
	dirOf := func(p string) (fs.Dir, string) {
		d, n := filepath.Split(p)
		if d == "" {
			return root, n
		}
		x, err := resolveDir(root, filepath.Clean(d))
		if err != nil {
			b.Fatal(err)
		}
		return x, n
	}
	return &side{
		name:  "goskit",
		setup: mount,
		remnt: func(b *testing.B) { unmount(b); mount(b) },
		write: func(b *testing.B, p string, data []byte, chunk int, sync bool) {
			d, n := dirOf(p)
			f, err := d.Create(n, 0o644, fs.Owner{})
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < len(data); off += chunk {
				if _, err := f.WriteAt(data[off:min(off+chunk, len(data))], int64(off)); err != nil {
					b.Fatal(err)
				}
			}
			if sync {
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		},
		read: func(b *testing.B, p string, buf []byte) {
			d, n := dirOf(p)
			node, err := d.Lookup(n)
			if err != nil {
				b.Fatal(err)
			}
			f := node.(fs.File)
			for off := int64(0); ; off += int64(len(buf)) {
				k, _ := f.ReadAt(buf, off)
				if k < len(buf) {
					break
				}
			}
		},
		remove: func(b *testing.B, p string) {
			d, n := dirOf(p)
			if err := d.Unlink(n); err != nil {
				b.Fatal(err)
			}
		},
		stat: func(b *testing.B, p string) {
			d, n := dirOf(p)
			node, err := d.Lookup(n)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := node.Stat(); err != nil {
				b.Fatal(err)
			}
		},
		mkdir: func(b *testing.B, p string) {
			d, n := dirOf(p)
			if _, err := d.Mkdir(n, 0o755, fs.Owner{}); err != nil {
				b.Fatal(err)
			}
		},
	}
}

func linuxSide(b *testing.B) *side {
	if os.Geteuid() != 0 {
		b.Skip("Linux's side needs root for the loop mount")
	}
	img := shmImage(b)
	mnt := b.TempDir()
	mount := func(b *testing.B) {
		if out, err := exec.Command("mount", "-t", "ext2", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
			b.Skipf("loop mount: %v: %s", err, out)
		}
	}
	unmount := func(b *testing.B) {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			b.Fatalf("umount: %v: %s", err, out)
		}
	}
	b.Cleanup(func() { unmount(b) })
	at := func(p string) string { return filepath.Join(mnt, p) }
	return &side{
		name:  "linux",
		setup: mount,
		remnt: func(b *testing.B) { unmount(b); mount(b) },
		write: func(b *testing.B, p string, data []byte, chunk int, sync bool) {
			f, err := os.OpenFile(at(p), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < len(data); off += chunk {
				if _, err := f.WriteAt(data[off:min(off+chunk, len(data))], int64(off)); err != nil {
					b.Fatal(err)
				}
			}
			if sync {
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		},
		read: func(b *testing.B, p string, buf []byte) {
			f, err := os.Open(at(p))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			for off := int64(0); ; off += int64(len(buf)) {
				k, _ := f.ReadAt(buf, off)
				if k < len(buf) {
					break
				}
			}
		},
		remove: func(b *testing.B, p string) {
			if err := os.Remove(at(p)); err != nil {
				b.Fatal(err)
			}
		},
		stat: func(b *testing.B, p string) {
			if _, err := os.Lstat(at(p)); err != nil {
				b.Fatal(err)
			}
		},
		mkdir: func(b *testing.B, p string) {
			if err := os.Mkdir(at(p), 0o755); err != nil {
				b.Fatal(err)
			}
		},
	}
}

func sides(b *testing.B, fn func(b *testing.B, s *side)) {
	for _, sd := range []struct {
		name string
		mk   func(*testing.B) *side
	}{{"goskit", goskitSide}, {"linux", linuxSide}} {
		b.Run(sd.name, func(b *testing.B) {
			s := sd.mk(b)
			s.setup(b)
			fn(b, s)
		})
	}
}

// BenchmarkSeqWrite256M: 256 MiB written in 1 MiB calls, then fsync.
func BenchmarkSeqWrite256M(b *testing.B) {
	sides(b, func(b *testing.B, s *side) {
		data := make([]byte, bulkSize)
		for i := range data {
			data[i] = byte(i * 7)
		}
		b.SetBytes(bulkSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("bulk%d", i)
			s.write(b, name, data, bulkChunk, true)
			b.StopTimer()
			s.remove(b, name)
			b.StartTimer()
		}
	})
}

// BenchmarkColdRead256M: 256 MiB read in 1 MiB calls after a remount.
func BenchmarkColdRead256M(b *testing.B) {
	sides(b, func(b *testing.B, s *side) {
		data := make([]byte, bulkSize)
		for i := range data {
			data[i] = byte(i * 7)
		}
		s.write(b, "bulk", data, bulkChunk, true)
		buf := make([]byte, bulkChunk)
		b.SetBytes(bulkSize)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s.remnt(b)
			b.StartTimer()
			s.read(b, "bulk", buf)
		}
	})
}

// BenchmarkFiles: create+write 4 KiB, stat, and remove of 10,000 files in
// one directory; each phase reports files per second.
func BenchmarkFiles(b *testing.B) {
	for _, phase := range []string{"create", "stat", "remove"} {
		b.Run(phase, func(b *testing.B) {
			sides(b, func(b *testing.B, s *side) {
				data := make([]byte, 4096)
				names := make([]string, nFiles)
				var total float64
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dir := fmt.Sprintf("d%d", i)
					s.mkdir(b, dir)
					for j := range names {
						names[j] = fmt.Sprintf("%s/file-%05d", dir, j)
					}
					if phase != "create" {
						for _, n := range names {
							s.write(b, n, data, 4096, false)
						}
					}
					b.StartTimer()
					start := nowNano()
					for _, n := range names {
						switch phase {
						case "create":
							s.write(b, n, data, 4096, false)
						case "stat":
							s.stat(b, n)
						case "remove":
							s.remove(b, n)
						}
					}
					total += float64(nowNano() - start)
				}
				b.ReportMetric(float64(nFiles*b.N)/(total/1e9), "files/s")
			})
		})
	}
}

func nowNano() int64 { return time.Now().UnixNano() }
