package ext2_test

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/fs/fsbehave"
)

// newRAM returns a fresh ext2 on a ramdisk, formatted by Format.
func newRAM(t testing.TB, size int64, bs int) (*ext2.FS, *ramdisk.Disk) {
	t.Helper()
	d, err := ramdisk.New(size)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext2.Format(d, ext2.FormatOptions{BlockSize: bs}); err != nil {
		t.Fatal(err)
	}
	f, err := ext2.Mount(d, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f, d
}

func TestBehave(t *testing.T) {
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		// 4 KiB blocks: symlink targets up to 4095 bytes, as Linux.
		f, _ := newRAM(t, 64<<20, 4096)
		t.Cleanup(func() { f.Close() })
		// The suite wants an empty root; Format made lost+found.
		root, _ := f.Root()
		if err := root.Rmdir("lost+found"); err != nil {
			t.Fatal(err)
		}
		return f
	}, fsbehave.Options{
		NoUnlinkedAccess: true, // a file's last unlink frees it: there are no open files in the fs interface
		TimesGranularity: time.Nanosecond,
	})
}

func TestFSTest(t *testing.T) {
	f, _ := newRAM(t, 16<<20, 4096)
	defer f.Close()
	root, _ := f.Root()
	a, _ := root.Mkdir("a", 0o755, fs.Owner{})
	b, _ := a.Mkdir("b", 0o755, fs.Owner{})
	for i, d := range []fs.Dir{root, a, b} {
		x, _ := d.Create("file", 0o644, fs.Owner{})
		x.WriteAt([]byte("hello from level "+itoa(i)), 0)
	}
	big, _ := b.Create("big", 0o600, fs.Owner{})
	big.WriteAt(make([]byte, 300000), 0)
	root.Symlink("link", "a/file", fs.Owner{})
	for i := 0; i < 200; i++ {
		a.Create("many"+itoa(i), 0o644, fs.Owner{})
	}
	if err := fstest.TestFS(fs.IOFS(f), "file", "a/file", "a/b/file", "a/b/big", "a/many0", "a/many199", "lost+found"); err != nil {
		t.Fatal(err)
	}
}
