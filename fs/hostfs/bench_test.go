package hostfs_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
)

// The benchmarks set hostfs beside the same work done through os on the
// same host directory, so the figures show what confinement costs.

func benchDir(b *testing.B, opts ...hostfs.Option) (fs.Dir, string) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 1<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		b.Fatal(err)
	}
	h, err := hostfs.New(dir, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	r, _ := h.Root()
	return r, dir
}

func BenchmarkLookupStat(b *testing.B) {
	b.Run("hostfs", func(b *testing.B) {
		r, _ := benchDir(b)
		for b.Loop() {
			n, err := r.Lookup("f")
			if err != nil {
				b.Fatal(err)
			}
			n.Stat()
		}
	})
	b.Run("os.Lstat", func(b *testing.B) {
		_, dir := benchDir(b)
		p := filepath.Join(dir, "f")
		for b.Loop() {
			if _, err := os.Lstat(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDirLookup is a lookup in a subdirectory node, where
// VerifyBeneath adds its check.
func BenchmarkDirLookup(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []hostfs.Option
	}{{"default", nil}, {"VerifyBeneath", []hostfs.Option{hostfs.VerifyBeneath()}}} {
		b.Run(bc.name, func(b *testing.B) {
			r, dir := benchDir(b, bc.opts...)
			os.WriteFile(filepath.Join(dir, "d", "g"), nil, 0o644)
			n, _ := r.Lookup("d")
			d := n.(fs.Dir)
			for b.Loop() {
				if _, err := d.Lookup("g"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateWriteRemove(b *testing.B) {
	data := make([]byte, 4096)
	b.Run("hostfs", func(b *testing.B) {
		r, _ := benchDir(b)
		own := fs.Owner{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
		i := 0
		for b.Loop() {
			name := "n" + strconv.Itoa(i)
			i++
			f, err := r.Create(name, 0o644, own)
			if err != nil {
				b.Fatal(err)
			}
			f.WriteAt(data, 0)
			if err := r.Unlink(name); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("os", func(b *testing.B) {
		_, dir := benchDir(b)
		i := 0
		for b.Loop() {
			p := filepath.Join(dir, "n"+strconv.Itoa(i))
			i++
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			f.WriteAt(data, 0)
			f.Close()
			if err := os.Remove(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkReadAt64K(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.Run("hostfs", func(b *testing.B) {
		r, _ := benchDir(b)
		n, _ := r.Lookup("f")
		f := n.(fs.File)
		b.SetBytes(int64(len(buf)))
		off := int64(0)
		for b.Loop() {
			if _, err := f.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
			off = (off + int64(len(buf))) % (1 << 20)
		}
	})
	b.Run("os", func(b *testing.B) {
		_, dir := benchDir(b)
		f, err := os.Open(filepath.Join(dir, "f"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(int64(len(buf)))
		off := int64(0)
		for b.Loop() {
			if _, err := f.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
			off = (off + int64(len(buf))) % (1 << 20)
		}
	})
}

func BenchmarkReadDir(b *testing.B) {
	setup := func(b *testing.B) (fs.Dir, string) {
		r, dir := benchDir(b)
		for i := range 1000 {
			os.WriteFile(filepath.Join(dir, "d", "e"+strconv.Itoa(i)), nil, 0o644)
		}
		return r, filepath.Join(dir, "d")
	}
	b.Run("hostfs", func(b *testing.B) {
		r, _ := setup(b)
		n, _ := r.Lookup("d")
		d := n.(fs.Dir)
		for b.Loop() {
			if ents, err := d.ReadDir(0, 0); err != nil || len(ents) != 1000 {
				b.Fatal(len(ents), err)
			}
		}
	})
	b.Run("os", func(b *testing.B) {
		_, p := setup(b)
		for b.Loop() {
			if ents, err := os.ReadDir(p); err != nil || len(ents) != 1000 {
				b.Fatal(len(ents), err)
			}
		}
	})
}
