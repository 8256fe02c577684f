package memfs_test

import (
	"errors"
	"syscall"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
)

// FuzzOps runs operation sequences decoded from the input over a few names
// in a few directories and checks the tree's invariants after each: no
// panic, every error an errno, directory link counts 2 + subdirectories,
// file link counts equal to the names that reach them, ReadDir agreeing
// with Lookup, and sizes agreeing with Blocks.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{1, 0, 1, 1, 16, 2, 5, 0, 1, 3, 33, 7, 1, 0, 2, 9, 4, 4})
	f.Add([]byte{1, 1, 1, 2, 1, 3, 5, 1, 2, 5, 2, 1, 8, 3, 0, 8, 1, 1})
	f.Fuzz(func(t *testing.T, prog []byte) {
		m := memfs.New()
		root, _ := m.Root()
		names := []string{"a", "b", "c", "d"}
		// dirs are the directories ops act in: the root and whatever
		// Lookup finds under the names that are directories.
		pick := func(b byte) fs.Dir {
			d := root
			for i := 0; i < int(b%3); i++ {
				n, err := d.Lookup(names[int(b/3+byte(i))%len(names)])
				if err != nil {
					return d
				}
				sub, ok := n.(fs.Dir)
				if !ok {
					return d
				}
				d = sub
			}
			return d
		}
		for len(prog) >= 4 && len(prog) < 4000 {
			op, a, b, c := prog[0], prog[1], prog[2], prog[3]
			prog = prog[4:]
			d1, d2 := pick(a), pick(c)
			n1, n2 := names[int(b)%len(names)], names[int(b>>4)%len(names)]
			var err error
			switch op % 10 {
			case 0:
				_, err = d1.Create(n1, 0o644, own)
			case 1:
				_, err = d1.Mkdir(n1, 0o755, own)
			case 2:
				_, err = d1.Symlink(n1, n2, own)
			case 3:
				err = d1.Unlink(n1)
			case 4:
				err = d1.Rmdir(n1)
			case 5:
				err = d1.Rename(n1, d2, n2)
			case 6:
				var n fs.Node
				if n, err = d1.Lookup(n1); err == nil {
					err = d2.Link(n2, n)
				}
			case 7:
				var n fs.Node
				if n, err = d1.Lookup(n1); err == nil {
					if file, ok := n.(fs.File); ok {
						_, err = file.WriteAt([]byte{c, c, c}, int64(c)*1500)
					}
				}
			case 8:
				var n fs.Node
				if n, err = d1.Lookup(n1); err == nil {
					if file, ok := n.(fs.File); ok {
						err = file.Truncate(int64(c) * 700)
					}
				}
			case 9:
				var n fs.Node
				if n, err = d1.Lookup(n1); err == nil {
					if file, ok := n.(fs.File); ok {
						err = file.(fs.Allocater).Allocate(int64(b)*300, int64(c)*300+1, op&16 != 0)
					}
				}
			}
			var errno syscall.Errno
			if err != nil && !errors.As(err, &errno) {
				t.Fatalf("op %d: error %v is not an errno", op%10, err)
			}
			check(t, root)
		}
	})
}

// check walks the tree from root and verifies link counts and listings.
func check(t *testing.T, root fs.Dir) {
	t.Helper()
	links := map[uint64]int{}
	nlink := map[uint64]uint32{}
	var walk func(d fs.Dir, depth int)
	walk = func(d fs.Dir, depth int) {
		if depth > 64 {
			t.Fatalf("directory tree deeper than 64: a cycle")
		}
		ents, err := d.ReadDir(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		subdirs := 0
		for _, e := range ents {
			n, err := d.Lookup(e.Name)
			if err != nil {
				t.Fatalf("ReadDir lists %q, Lookup: %v", e.Name, err)
			}
			a, _ := n.Stat()
			if a.Ino != e.Ino || a.Mode.Type() != e.Type {
				t.Fatalf("%q: ReadDir %d %o, Stat %d %o", e.Name, e.Ino, e.Type, a.Ino, a.Mode)
			}
			switch n := n.(type) {
			case fs.Dir:
				subdirs++
				walk(n, depth+1)
			default:
				links[a.Ino]++
				nlink[a.Ino] = a.Nlink
				if a.Mode.IsRegular() && a.Blocks*512 > (a.Size+4095)/4096*4096 {
					t.Fatalf("%q: %d blocks for size %d", e.Name, a.Blocks, a.Size)
				}
			}
		}
		if a, _ := d.Stat(); a.Nlink != uint32(2+subdirs) {
			t.Fatalf("directory with %d subdirectories has Nlink %d", subdirs, a.Nlink)
		}
	}
	walk(root, 0)
	for ino, c := range links {
		if nlink[ino] != uint32(c) {
			t.Fatalf("inode %d reached by %d names has Nlink %d", ino, c, nlink[ino])
		}
	}
}
