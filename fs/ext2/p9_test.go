package ext2_test

import (
	"net"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/glue/p9"
)

// TestOver9P: an ext2 image (filled by debugfs) exported by the kit's 9P
// server and read through the kit's 9P client, as examples/fileserver
// would export it.
func TestOver9P(t *testing.T) {
	img := mkfs(t, 64<<20, 4096)
	es := tree()
	var small []*entry
	for _, e := range es {
		if e.mode.Type() == fs.ModeSymlink && e.path != "fastlink" {
			continue // dangling: fstest follows links
		}
		if strings.HasPrefix(e.path, "bigdir/") && !strings.HasSuffix(e.path, "9") {
			continue // a few are enough here
		}
		if e.size < 1<<20 { // the big sparse files would cross 9P whole
			small = append(small, e)
		}
	}
	fillDebugfs(t, img, small)
	disk := mountImage(t, img, ext2.Options{})
	a, b := net.Pipe()
	srv := p9.NewServer(disk, nil)
	go srv.ServeConn(a)
	defer srv.Close()
	c, err := p9.Dial(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := fstest.TestFS(fs.IOFS(c), "small", "dir/sub/medium", "bigdir/an-entry-with-a-rather-long-name-299"); err != nil {
		t.Fatal(err)
	}
	// Write through 9P, read back from ext2 directly.
	root, _ := c.Root()
	f, err := root.Create("via9p", 0o644, fs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("written over 9P"), 0); err != nil {
		t.Fatal(err)
	}
	n, err := walk(t, disk, "via9p")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 15)
	n.(fs.File).ReadAt(buf, 0)
	if string(buf) != "written over 9P" {
		t.Errorf("ext2 holds %q", buf)
	}
}
