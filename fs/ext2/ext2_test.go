package ext2_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/libc"
)

func TestFormatFsck(t *testing.T) {
	for _, tc := range []struct {
		size int64
		opts ext2.FormatOptions
	}{
		{64 << 20, ext2.FormatOptions{BlockSize: 1024}},
		{64 << 20, ext2.FormatOptions{BlockSize: 2048}},
		{64 << 20, ext2.FormatOptions{BlockSize: 4096}},
		{300 << 20, ext2.FormatOptions{BlockSize: 1024, InodeSize: 128}}, // many groups, sparse_super backups
		{1 << 20, ext2.FormatOptions{}},                                  // tiny: one group
		{(8<<20)*3 + 40<<10, ext2.FormatOptions{BlockSize: 1024}},        // a last group too small is dropped
		{600 << 20, ext2.FormatOptions{Label: "goskit"}},                 // default 4 KiB blocks
	} {
		t.Run(fmt.Sprintf("%d-%d-%d", tc.size, tc.opts.BlockSize, tc.opts.InodeSize), func(t *testing.T) {
			img := newImage(t, tc.size)
			d, err := filedisk.Open(img, filedisk.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := ext2.Format(d, tc.opts); err != nil {
				t.Fatal(err)
			}
			fsck(t, img)
			if tc.opts.Label != "" {
				out, _ := exec.Command("dumpe2fs", "-h", img).CombinedOutput()
				if !strings.Contains(string(out), "goskit") {
					t.Errorf("label missing:\n%s", out)
				}
			}
			f, err := ext2.Mount(d, ext2.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, _ := f.StatFS()
			if st.Type != 0xEF53 || st.BlocksFree == 0 || st.FilesFree == 0 {
				t.Errorf("StatFS %+v", st)
			}
			f.Close()
		})
	}
	d, _ := ramdisk.New(16 << 10)
	if err := ext2.Format(d, ext2.FormatOptions{}); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Format of 16 KiB: %v", err)
	}
	d, _ = ramdisk.New(16 << 20)
	if err := ext2.Format(d, ext2.FormatOptions{BlockSize: 3000}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Format with 3000-byte blocks: %v", err)
	}
}

func TestFeatures(t *testing.T) {
	tests := []struct {
		name     string
		features string
		refused  string // the feature named in Mount's error
		readOnly string // the reason named by ReadOnly
	}{
		{"extents", "extents", "extents", ""},
		{"64bit", "64bit,extents", "64bit", ""},
		{"meta_bg", "meta_bg,^resize_inode", "meta_bg", ""},
		{"flex_bg", "flex_bg", "flex_bg", ""},
		{"journal", "has_journal", "", "has_journal"},
		{"huge_file", "huge_file", "", "huge_file"},
		{"metadata_csum", "metadata_csum", "", "metadata_csum"},
		{"defaults", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var extra []string
			if tt.features != "" {
				extra = []string{"-O", tt.features}
			}
			img := mkfs(t, 32<<20, 1024, extra...)
			d, err := filedisk.Open(img, filedisk.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			f, err := ext2.Mount(d, ext2.Options{})
			if tt.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("Mount = %v, want an error naming %s", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ro, why := f.ReadOnly()
			if tt.readOnly == "" {
				if ro {
					t.Fatalf("read-only: %s", why)
				}
				f.Close()
				return
			}
			if !ro || !strings.Contains(why, tt.readOnly) {
				t.Fatalf("ReadOnly = %v, %q; want the reason %s", ro, why, tt.readOnly)
			}
			root, _ := f.Root()
			if _, err := root.Create("x", 0o644, fs.Owner{}); !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), tt.readOnly) {
				t.Errorf("Create on a read-only mount: %v", err)
			}
			if _, err := root.Lookup("lost+found"); err != nil {
				t.Errorf("reading a read-only mount: %v", err)
			}
			f.Close()
			if _, err := ext2.Mount(d, ext2.Options{Writable: true}); !errors.Is(err, syscall.EROFS) {
				t.Errorf("Mount Writable = %v, want EROFS", err)
			}
		})
	}
	t.Run("NotExt2", func(t *testing.T) {
		d, _ := ramdisk.New(1 << 20)
		if _, err := ext2.Mount(d, ext2.Options{}); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Mount of zeros: %v", err)
		}
	})
	t.Run("ReadOnlyDevice", func(t *testing.T) {
		_, d := newRAM(t, 8<<20, 1024)
		f, err := ext2.Mount(blkdev.ReadOnly(d), ext2.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		root, _ := f.Root()
		if err := root.Rmdir("lost+found"); !errors.Is(err, syscall.EROFS) {
			t.Errorf("Rmdir: %v", err)
		}
	})
}

// TestPartition: ext2 inside a partition of a disk, as a Sub view.
func TestPartitionView(t *testing.T) {
	disk, _ := ramdisk.New(40 << 20)
	part, _ := blkdev.Sub(disk, 1<<20, 32<<20)
	if err := ext2.Format(part, ext2.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := ext2.Mount(part, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.Root()
	if _, err := root.Create("x", 0o644, fs.Owner{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b := disk.Bytes()
	for _, r := range [][2]int{{0, 1 << 20}, {33 << 20, 40 << 20}} {
		for _, c := range b[r[0]:r[1]] {
			if c != 0 {
				t.Fatalf("ext2 wrote outside its partition [%d,%d)", r[0], r[1])
			}
		}
	}
}

// TestLibcMount: a kernel mounts an ext2 disk image in libc's namespace.
func TestLibcMount(t *testing.T) {
	img := mkfs(t, 32<<20, 4096)
	d, err := filedisk.Open(img, filedisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	disk, err := ext2.Mount(d, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := fs.NewNamespace(memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	s := libc.New(nil, libc.FS(ns))
	if err := s.Mkdir("/disk", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Mount("/disk", disk); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir("/disk/etc", 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := s.Open("/disk/etc/motd", syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(fd, []byte("written through libc\n")); err != nil {
		t.Fatal(err)
	}
	s.Close(fd)
	if err := s.Symlink("etc/motd", "/disk/motd"); err != nil {
		t.Fatal(err)
	}
	fd, err = s.Open("/disk/motd", syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, _ := s.Read(fd, buf)
	s.Close(fd)
	if string(buf[:n]) != "written through libc\n" {
		t.Fatalf("read %q through the symlink", buf[:n])
	}
	if err := s.Unmount("/disk"); err != nil {
		t.Fatal(err)
	}
	if err := disk.Close(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
	if out := debugfs(t, img, false, "cat /etc/motd"); !strings.Contains(out, "written through libc") {
		t.Errorf("debugfs cat: %s", out)
	}
}

// Format a disk image, mount it, and write a file.
func Example() {
	img, _ := os.CreateTemp("", "ext2-example-*.img")
	img.Close()
	defer os.Remove(img.Name())
	disk, err := filedisk.Open(img.Name(), filedisk.Options{Size: 16 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer disk.Close()
	if err := ext2.Format(disk, ext2.FormatOptions{BlockSize: 4096}); err != nil {
		fmt.Println(err)
		return
	}
	fsys, err := ext2.Mount(disk, ext2.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	root, _ := fsys.Root()
	f, _ := root.Create("hello.txt", 0o644, fs.Owner{})
	f.WriteAt([]byte("hello, disk\n"), 0)
	a, _ := f.Stat()
	fmt.Printf("%d %o\n", a.Size, a.Mode)
	fmt.Println(fsys.Close())
	// Output:
	// 12 100644
	// <nil>
}
