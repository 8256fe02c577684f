package ext2_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/internal/testenv"
)

// newImage returns the path of a new sparse image file of size bytes.
func newImage(t testing.TB, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ext2.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

// mkfs makes an ext2 file system with mkfs.ext2 (e2fsprogs' defaults).
func mkfs(t testing.TB, size int64, bs int, extra ...string) string {
	t.Helper()
	testenv.NeedTool(t, "mkfs.ext2")
	p := newImage(t, size)
	args := append([]string{"-q", "-F", "-b", itoa(bs)}, extra...)
	args = append(args, p)
	if out, err := exec.Command("mkfs.ext2", args...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext2 %v: %v: %s", args, err, out)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// fsck runs e2fsck -fn and fails the test unless the image is clean.
func fsck(t testing.TB, img string) {
	t.Helper()
	testenv.NeedTool(t, "e2fsck")
	out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
}

// debugfs runs debugfs requests on the image and returns the output.
func debugfs(t testing.TB, img string, write bool, requests ...string) string {
	t.Helper()
	testenv.NeedTool(t, "debugfs")
	args := []string{}
	if write {
		args = append(args, "-w")
	}
	args = append(args, "-f", "-", img)
	cmd := exec.Command("debugfs", args...)
	cmd.Stdin = strings.NewReader(strings.Join(requests, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v: %s", err, out)
	}
	return string(out)
}

// mountImage mounts the image file with goskit.
func mountImage(t testing.TB, img string, opts ext2.Options) *ext2.FS {
	t.Helper()
	d, err := filedisk.Open(img, filedisk.Options{ReadOnly: opts.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	f, err := ext2.Mount(d, opts)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	return f
}
