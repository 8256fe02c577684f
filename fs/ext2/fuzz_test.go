package ext2_test

import (
	"encoding/binary"
	"io"
	"sync"
	"testing"

	"github.com/goskit/goskit/drivers/blkdev/ramdisk"
	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/ext2"
)

// fuzzBase is a small populated image and the offsets of its metadata,
// which fuzz inputs patch.
type fuzzBase struct {
	img     []byte
	regions [][2]int // [start, end) of: superblock, descriptors, inode table, a directory block, an indirect block, an attribute block
}

var (
	fuzzOnce sync.Once
	fuzzImg  fuzzBase
)

func baseImage(t testing.TB) fuzzBase {
	fuzzOnce.Do(func() {
		d, _ := ramdisk.New(512 << 10)
		if err := ext2.Format(d, ext2.FormatOptions{BlockSize: 1024, BytesPerInode: 8192}); err != nil {
			panic(err)
		}
		f, err := ext2.Mount(d, ext2.Options{})
		if err != nil {
			panic(err)
		}
		root, _ := f.Root()
		dir, _ := root.Mkdir("dir", 0o755, fs.Owner{})
		for i := 0; i < 40; i++ {
			dir.Create("file-with-a-long-name-"+itoa(i), 0o644, fs.Owner{})
		}
		file, _ := root.Create("indirect", 0o644, fs.Owner{})
		file.WriteAt([]byte("data"), 13*1024) // needs the indirect block
		file.WriteAt([]byte("data"), 0)
		root.Symlink("fast", "target", fs.Owner{})
		long := make([]byte, 100)
		for i := range long {
			long[i] = 'l'
		}
		root.Symlink("slow", string(long), fs.Owner{})
		file.(fs.Xattrer).SetXattr("user.x", []byte("value"), 0)
		root.Link("hard", file)
		f.Close()
		img := d.Bytes()
		le := binary.LittleEndian
		// Locate: descriptors at block 2; inode table from group 0's.
		itable := int(le.Uint32(img[2048+8:])) * 1024
		inode := func(ino int) []byte { return img[itable+(ino-1)*256:][:256] }
		rootBlk := int(le.Uint32(inode(2)[40:])) * 1024
		// The file's inode: the first inode after lost+found's dir and
		// its 40 files is found through the root directory's entries.
		var fileIno int
		for off := 0; off < 1024; {
			ino := int(le.Uint32(img[rootBlk+off:]))
			rl := int(le.Uint16(img[rootBlk+off+4:]))
			nl := int(img[rootBlk+off+6])
			if string(img[rootBlk+off+8:rootBlk+off+8+nl]) == "indirect" {
				fileIno = ino
			}
			if rl == 0 {
				break
			}
			off += rl
		}
		in := inode(fileIno)
		ind := int(le.Uint32(in[40+12*4:])) * 1024
		xblk := int(le.Uint32(in[104:])) * 1024
		if fileIno == 0 || ind == 0 || xblk == 0 {
			panic("base image: no indirect or attribute block found")
		}
		fuzzImg = fuzzBase{img: append([]byte(nil), img...), regions: [][2]int{
			{1024, 2048}, {2048, 3072}, {itable, itable + 64*256}, {rootBlk, rootBlk + 1024},
			{ind, ind + 1024}, {xblk, xblk + 1024},
		}}
	})
	return fuzzImg
}

// FuzzImage mounts a corrupted image and uses it. The input is a list of
// patches: [region byte][offset u16][length byte][bytes]. Errors are
// expected; a panic, a hang or an access outside the device (the ramdisk
// refuses it with an error, which must come back as an error) are not.
func FuzzImage(f *testing.F) {
	base := baseImage(f)
	f.Add([]byte{})
	for r := range base.regions {
		f.Add([]byte{byte(r), 0, 0, 4, 0xff, 0xff, 0xff, 0xff})
		f.Add([]byte{byte(r), 40, 0, 4, 0, 0, 0, 0})
		f.Add([]byte{byte(r), 4, 0, 2, 0, 0})
	}
	f.Add([]byte{0, 24, 0, 1, 9})         // block size
	f.Add([]byte{0, 4, 0, 4, 0, 0, 1, 0}) // blocks count
	f.Add([]byte{2, 0x28 + 1, 1, 4, 0xaa, 0xbb, 0xcc, 0xdd})
	f.Fuzz(func(t *testing.T, patches []byte) {
		img := append([]byte(nil), base.img...)
		for len(patches) >= 4 {
			r := base.regions[int(patches[0])%len(base.regions)]
			off := r[0] + int(binary.LittleEndian.Uint16(patches[1:]))%(r[1]-r[0])
			n := min(int(patches[3]), len(patches)-4, r[1]-off)
			copy(img[off:], patches[4:4+n])
			patches = patches[4+n:]
		}
		exercise(t, ramdisk.FromBytes(img))
	})
}

// exercise mounts and uses a possibly corrupt file system, bounding the
// work.
func exercise(t *testing.T, d *ramdisk.Disk) {
	fsys, err := ext2.Mount(d, ext2.Options{})
	if err != nil {
		return
	}
	defer fsys.Close()
	root, err := fsys.Root()
	if err != nil {
		return
	}
	budget := 300
	var visit func(d fs.Dir, depth int)
	visit = func(d fs.Dir, depth int) {
		ents, _ := d.ReadDir(0, 100)
		for _, e := range ents {
			if budget--; budget < 0 || depth > 8 {
				return
			}
			n, err := d.Lookup(e.Name)
			if err != nil {
				continue
			}
			n.Stat()
			if x, ok := n.(fs.Xattrer); ok {
				if names, err := x.ListXattr(); err == nil {
					for _, k := range names {
						x.GetXattr(k)
					}
				}
			}
			switch v := n.(type) {
			case fs.File:
				b := make([]byte, 64<<10)
				if _, err := v.ReadAt(b, 0); err != nil && err != io.EOF {
					continue
				}
				v.WriteAt([]byte("x"), 5000)
				v.Truncate(100)
			case fs.Symlink:
				v.Readlink()
			case fs.Dir:
				visit(v, depth+1)
				d.Rename(e.Name, root, "renamed")
			}
		}
		if nf, err := d.Create("new", 0o644, fs.Owner{}); err == nil {
			nf.WriteAt(make([]byte, 3000), 0)
			nf.(fs.Xattrer).SetXattr("user.n", []byte("v"), 0)
		}
		d.Mkdir("newdir", 0o755, fs.Owner{})
		for _, e := range ents {
			d.Unlink(e.Name)
			d.Rmdir(e.Name)
		}
	}
	visit(root, 0)
	fsys.StatFS()
	fsys.Sync()
}
