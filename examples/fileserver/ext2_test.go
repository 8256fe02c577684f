package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
)

// TestExt2Export formats an image with the kit's ext2, fills it, and has
// the fileserver export it over 9P to a client kernel on the wire, which
// reads everything back.
func TestExt2Export(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	disk, err := filedisk.Open(img, filedisk.Options{Create: true, Size: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := ext2.Format(disk, ext2.FormatOptions{Label: "goskit"}); err != nil {
		t.Fatal(err)
	}
	e, err := ext2.Mount(disk, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := e.Root()
	d, err := root.Mkdir("docs", 0o755, fs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Create("paper.txt", 0o644, fs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte("The Flux OSKit. "), 20000), 0)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	disk.Close()

	var out, errb bytes.Buffer
	if code := run([]string{"fileserver", "--", "-ext2", img}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, w := range []string{"ext2 on", "docs/paper.txt (320000 bytes)", "all match"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	for _, bad := range [][]string{
		{"fileserver", "--", "-ext2", img, "-host", "/tmp"},
		{"fileserver", "--", "-part", "1"},
	} {
		if code := run(bad, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
	if code := run([]string{"fileserver", "--", "-ext2", img, "-part", "3"}, &out, &errb); code != 1 {
		t.Errorf("-part 3 of an unpartitioned disk: exit %d, want 1", code)
	}
}
