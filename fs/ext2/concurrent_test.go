package ext2_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev/filedisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
)

// TestConcurrent: writers, readers, renamers and syncs at once on one file
// system; every file reads back what its writer wrote, and e2fsck finds
// the result clean.
func TestConcurrent(t *testing.T) {
	img := newImage(t, 64<<20)
	d, err := filedisk.Open(img, filedisk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := ext2.Format(d, ext2.FormatOptions{BlockSize: 1024}); err != nil {
		t.Fatal(err)
	}
	f, err := ext2.Mount(d, ext2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.Root()
	shared, _ := root.Mkdir("shared", 0o755, fs.Owner{})
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			own, err := root.Mkdir(fmt.Sprintf("g%d", g), 0o755, fs.Owner{})
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 40; i++ {
				name := fmt.Sprintf("f%d", i)
				data := gen(fmt.Sprint(g, i), 1000*i+17)
				file, err := own.Create(name, 0o644, fs.Owner{})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := file.WriteAt(data, 0); err != nil {
					t.Error(err)
					return
				}
				got := make([]byte, len(data))
				if _, err := file.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
					t.Errorf("g%d/%s read back wrong: %v", g, name, err)
					return
				}
				// Entries come and go in a directory everyone uses.
				sname := fmt.Sprintf("s-%d-%d", g, i)
				if err := shared.Link(sname, file); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if err := shared.Rename(sname, own, "moved"+name); err != nil {
						t.Error(err)
						return
					}
				} else if i%3 == 1 {
					if err := shared.Unlink(sname); err != nil {
						t.Error(err)
						return
					}
				}
				if i%10 == 0 {
					if err := f.Sync(); err != nil {
						t.Error(err)
					}
					f.StatFS()
				}
				if i%4 == 0 {
					if err := file.Truncate(int64(i * 100)); err != nil {
						t.Error(err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fsck(t, img)
}
