package p9_test

import (
	"fmt"
	iofs "io/fs"
	"net"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/memfs"
	"github.com/goskit/goskit/glue/p9"
)

// A memfs served over 9P on one end of a pipe, and used through the 9P
// client on the other: the client is itself an fs.FileSystem.
func Example() {
	m := memfs.New()
	root, _ := m.Root()
	f, _ := root.Create("hello", 0o644, fs.Owner{})
	f.WriteAt([]byte("hello over 9P\n"), 0)

	a, b := net.Pipe()
	srv := p9.NewServer(m, nil)
	go srv.ServeConn(a)
	defer srv.Close()

	c, err := p9.Dial(b, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	data, err := iofs.ReadFile(fs.IOFS(c), "hello")
	fmt.Printf("%q %v\n", data, err)
	// Output: "hello over 9P\n" <nil>
}
