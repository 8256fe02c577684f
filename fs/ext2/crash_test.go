package ext2_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev"
	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
	"github.com/goskit/goskit/internal/testenv"
)

// cutDisk is a disk that fails every write (and flush) from its cut point
// on, as a disk whose power went: writes before the cut landed whole,
// writes after it did not land at all.
type cutDisk struct {
	*ramdisk.Disk
	mu     sync.Mutex
	writes int
	cut    int // -1: never
}

func (c *cutDisk) fail() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.cut >= 0 && c.writes > c.cut
}

func (c *cutDisk) WriteAt(p []byte, off int64) (int, error) {
	if c.fail() {
		return 0, fmt.Errorf("cut: %w", syscall.EIO)
	}
	return c.Disk.WriteAt(p, off)
}

func (c *cutDisk) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut >= 0 && c.writes >= c.cut {
		return fmt.Errorf("cut: %w", syscall.EIO)
	}
	return nil
}

var _ blkdev.Device = (*cutDisk)(nil)

// crashWorkload runs a seeded workload (creates, writes reaching indirect
// blocks, directory growth, renames of files and directories, truncates,
// unlinks, syncs) until the disk fails, and returns the files that were
// synced and not touched afterwards, with their contents.
func crashWorkload(t *testing.T, f *ext2.FS, seed int64) map[string][]byte {
	rng := rand.New(rand.NewSource(seed))
	root, _ := f.Root()
	model := map[string][]byte{}
	synced := map[string][]byte{}
	touched := map[string]bool{}
	dirs := []string{"d0", "d1", "d2"}
	touch := func(p string) { touched[p] = true }
	for _, d := range dirs {
		if _, err := root.Mkdir(d, 0o755, fs.Owner{}); err != nil {
			return synced
		}
	}
	getDir := func(name string) fs.Dir {
		n, err := root.Lookup(name)
		if err != nil {
			return nil
		}
		d, _ := n.(fs.Dir)
		return d
	}
	for step := 0; step < 400; step++ {
		d := dirs[rng.Intn(len(dirs))]
		dir := getDir(d)
		if dir == nil {
			return synced
		}
		name := fmt.Sprintf("f%d", rng.Intn(30))
		p := d + "/" + name
		var err error
		switch k := rng.Intn(10); {
		case k < 4: // create or overwrite with new contents
			touch(p)
			var fl fs.File
			n, lerr := dir.Lookup(name)
			if lerr == nil {
				fl, _ = n.(fs.File)
			} else {
				fl, err = dir.Create(name, 0o644, fs.Owner{})
			}
			if err != nil || fl == nil {
				break
			}
			data := make([]byte, rng.Intn(40000))
			rng.Read(data)
			if err = fl.Truncate(0); err != nil {
				break
			}
			if _, err = fl.WriteAt(data, 0); err != nil {
				break
			}
			model[p] = data
		case k == 4: // directory growth
			for i := 0; i < 30 && err == nil; i++ {
				q := fmt.Sprintf("%s/grow-%03d-%d", d, i, step)
				touch(q)
				_, err = dir.Create(filepath.Base(q), 0o644, fs.Owner{})
				if err == nil {
					model[q] = []byte{}
				}
			}
		case k == 5: // rename a file, maybe across directories, maybe onto another
			d2 := dirs[rng.Intn(len(dirs))]
			q := d2 + "/" + fmt.Sprintf("f%d", rng.Intn(30))
			if _, ok := model[p]; !ok || p == q {
				break
			}
			touch(p)
			touch(q)
			if err = dir.Rename(name, getDir(d2), filepath.Base(q)); err == nil {
				model[q] = model[p]
				delete(model, p)
			}
		case k == 6: // truncate
			if data, ok := model[p]; ok && len(data) > 0 {
				touch(p)
				n, lerr := dir.Lookup(name)
				if lerr != nil {
					err = lerr
					break
				}
				size := rng.Intn(len(data))
				if err = n.(fs.File).Truncate(int64(size)); err == nil {
					model[p] = data[:size]
				}
			}
		case k == 7: // unlink
			if _, ok := model[p]; ok {
				touch(p)
				if err = dir.Unlink(name); err == nil {
					delete(model, p)
				}
			}
		case k == 8: // rename a directory: everything under it moves
			i := rng.Intn(len(dirs))
			nd := fmt.Sprintf("r%d", step)
			if err = root.Rename(dirs[i], root, nd); err == nil {
				old := dirs[i] + "/"
				for q, v := range model {
					if strings.HasPrefix(q, old) {
						touch(q)
						delete(model, q)
						model[nd+"/"+strings.TrimPrefix(q, old)] = v
					}
				}
				dirs[i] = nd
			}
		default: // sync
			if err = f.Sync(); err == nil {
				synced = map[string][]byte{}
				for q, v := range model {
					synced[q] = v
				}
				touched = map[string]bool{}
			}
		}
		if err != nil {
			break
		}
	}
	out := map[string][]byte{}
	for q, v := range synced {
		if !touched[q] {
			out[q] = v
		}
	}
	return out
}

func TestCrash(t *testing.T) {
	testenv.NeedTool(t, "e2fsck")
	cuts := 50
	if *wide {
		cuts = 300
	}
	const size = 24 << 20
	newDisk := func(cut int) *cutDisk {
		d, _ := ramdisk.New(size)
		if err := ext2.Format(d, ext2.FormatOptions{BlockSize: 1024}); err != nil {
			t.Fatal(err)
		}
		return &cutDisk{Disk: d, cut: cut}
	}
	// Count the writes of the whole workload.
	full := newDisk(-1)
	f, err := ext2.Mount(full, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	crashWorkload(t, f, 1)
	total := full.writes
	t.Logf("the workload writes %d times", total)
	checked := 0
	for i := 0; i < cuts; i++ {
		cut := 1 + int(int64(i)*int64(total)/int64(cuts))
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			d := newDisk(cut)
			f, err := ext2.Mount(d, ext2.Options{})
			if err != nil {
				return // the cut came during mount: nothing was synced
			}
			want := crashWorkload(t, f, 1)
			img := filepath.Join(t.TempDir(), "crashed.img")
			if err := os.WriteFile(img, d.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("e2fsck", "-fy", img).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() >= 4 || err != nil && !ok {
				t.Fatalf("e2fsck -fy: %v\n%s", err, out)
			}
			fsck(t, img) // and now it is clean
			g := mountImage(t, img, ext2.Options{ReadOnly: true})
			root, _ := g.Root()
			for p, data := range want {
				n, err := resolve(root, p)
				if err != nil {
					t.Fatalf("%s (synced, untouched) is gone: %v", p, err)
				}
				fl, ok := n.(fs.File)
				if !ok {
					t.Fatalf("%s is not a file", p)
				}
				got := make([]byte, len(data)+1)
				k, _ := fl.ReadAt(got, 0)
				if !bytes.Equal(got[:k], data) {
					t.Fatalf("%s: %d bytes, want %d, or different bytes", p, k, len(data))
				}
				checked++
			}
		})
	}
	t.Logf("%d synced files checked across %d cut points", checked, cuts)
}
