package hostfs_test

import (
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/hostfs"
)

func Example() {
	// A host directory with a symlink that points out of it.
	dir, _ := os.MkdirTemp("", "hostfs-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "motd"), []byte("hello\n"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))

	h, err := hostfs.New(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()
	root, _ := h.Root()

	// Files are read and written at offsets.
	f, _ := root.Create("note", 0o640, fs.Owner{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())})
	f.WriteAt([]byte("written through hostfs\n"), 0)
	b, _ := os.ReadFile(filepath.Join(dir, "note"))
	fmt.Printf("host sees %q\n", b)

	// Lookup never follows a symlink: it is a Symlink node, its target
	// raw data for a namespace to interpret.
	n, _ := root.Lookup("passwd")
	target, _ := n.(fs.Symlink).Readlink()
	_, isFile := n.(fs.File)
	fmt.Printf("passwd: symlink to %q, a file: %v\n", target, isFile)

	// Names are single elements: nothing climbs out.
	_, err = root.Lookup("..")
	fmt.Println(err)

	// Through io/fs the link is interpreted with the directory as "/", so
	// /etc/passwd means <dir>/etc/passwd, which does not exist.
	_, err = iofs.ReadFile(fs.IOFS(h), "passwd")
	fmt.Println(err != nil)
	motd, _ := iofs.ReadFile(fs.IOFS(h), "motd")
	fmt.Printf("%q\n", motd)
	// Output:
	// host sees "written through hostfs\n"
	// passwd: symlink to "/etc/passwd", a file: false
	// hostfs: lookup ..: invalid argument
	// true
	// "hello\n"
}
