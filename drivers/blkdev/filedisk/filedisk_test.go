package filedisk_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/blkdevtest"
	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/internal/testenv"
)

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk.img")
	d, err := filedisk.Open(p, filedisk.Options{Create: true, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	blkdevtest.Run(t, d)
}

func TestDirect(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk.img")
	d, err := filedisk.Open(p, filedisk.Options{Create: true, Size: 1 << 20, Direct: true})
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("the host file system has no O_DIRECT: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	blkdevtest.Run(t, d)
	// What was written with O_DIRECT is what a buffered reader sees.
	d.WriteAt([]byte("direct"), 12345)
	b, _ := os.ReadFile(p)
	if string(b[12345:12351]) != "direct" {
		t.Errorf("file holds %q", b[12345:12351])
	}
}

func TestBadOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := filedisk.Open(filepath.Join(dir, "missing"), filedisk.Options{}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := filedisk.Open(dir, filedisk.Options{ReadOnly: true}); err == nil {
		t.Error("opened a directory")
	}
	p := filepath.Join(dir, "odd")
	os.WriteFile(p, make([]byte, 1000), 0o644)
	if _, err := filedisk.Open(p, filedisk.Options{Direct: true}); err == nil {
		t.Error("O_DIRECT on a file of 1000 bytes succeeded")
	}
}

func TestReadOnly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	d, err := filedisk.Open(p, filedisk.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write: %v", err)
	}
	if err := d.Discard(0, 1); !errors.Is(err, syscall.EROFS) {
		t.Errorf("discard: %v", err)
	}
	b := make([]byte, 20)
	n, err := d.ReadAt(b, 0)
	if n != 10 || string(b[:n]) != "0123456789" {
		t.Errorf("ReadAt = %d, %v", n, err)
	}
	d.Close()
	if _, err := d.ReadAt(b, 0); !errors.Is(err, blkdev.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}

func ExampleOpen() {
	p := filepath.Join(os.TempDir(), fmt.Sprintf("filedisk-example-%d.img", os.Getpid()))
	defer os.Remove(p)
	d, err := filedisk.Open(p, filedisk.Options{Create: true, Size: 1 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	d.WriteAt([]byte("data"), 4096)
	d.Flush()
	fmt.Println(d.Size())
	// Output: 1048576
}

// TestBlockDevice: a host block device (a loop device over a file), where
// the size comes from BLKGETSIZE64 and Discard is BLKZEROOUT.
func TestBlockDevice(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedTool(t, "losetup")
	p := filepath.Join(t.TempDir(), "backing.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(p, 4<<20)
	out, err := exec.Command("losetup", "--find", "--show", p).CombinedOutput()
	if err != nil {
		testenv.Unavailable(t, "losetup: %v: %s", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", loop, err, out)
		}
	})
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprint("direct=", direct), func(t *testing.T) {
			d, err := filedisk.Open(loop, filedisk.Options{Direct: direct})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Size() != 4<<20 {
				t.Errorf("size %d", d.Size())
			}
			blkdevtest.Run(t, d)
		})
	}
}
