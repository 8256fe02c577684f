package ext2_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/drivers/blkdev/part"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/internal/testenv"
)

// TestInPartition: a GPT disk made by sfdisk, an ext2 made by mkfs.ext2
// inside its second partition; goskit finds the partition, mounts it,
// writes, and e2fsprogs checks the partition's bytes.
func TestInPartition(t *testing.T) {
	testenv.NeedTool(t, "sfdisk")
	img := newImage(t, 64<<20)
	cmd := exec.Command("sfdisk", "-q", "--no-reread", "--no-tell-kernel", img)
	cmd.Stdin = strings.NewReader("label: gpt\nstart=2048, size=8192\nstart=12288, size=40960\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	testenv.NeedTool(t, "mkfs.ext2")
	off := int64(12288 * 512)
	if out, err := exec.Command("mkfs.ext2", "-q", "-F", "-b", "1024", "-E", "offset="+strconv.FormatInt(off, 10), img, "20480").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext2: %v: %s", err, out)
	}
	d, err := filedisk.Open(img, filedisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tab, err := part.Read(d)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := tab.Find(2)
	if !ok {
		t.Fatalf("no partition 2: %+v", tab.Partitions)
	}
	pd, err := tab.Open(d, p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ext2.Mount(pd, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.Root()
	file, err := root.Create("in-a-partition", 0o644, fs.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	file.WriteAt([]byte("partitioned\n"), 0)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// The partition's bytes as their own image, for e2fsprogs.
	all, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	pimg := filepath.Join(t.TempDir(), "p2.img")
	os.WriteFile(pimg, all[off:off+p.Size*512], 0o644)
	fsck(t, pimg)
	if out := debugfs(t, pimg, false, "cat /in-a-partition"); !strings.Contains(out, "partitioned") {
		t.Errorf("debugfs: %s", out)
	}
	// Partition 1 was never touched.
	for _, c := range all[2048*512 : 10240*512] {
		if c != 0 {
			t.Fatal("partition 1 was written")
		}
	}
}
