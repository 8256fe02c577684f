package hostfs_test

import (
	"os"
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/hostfs"
	"github.com/goskit/goskit/internal/testenv"
)

// newHost returns a hostfs on a fresh temporary directory, closed at the
// end of the test, and the directory's path.
func newHost(t *testing.T, opts ...hostfs.Option) (*hostfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	h, err := hostfs.New(dir, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h, dir
}

func TestBehaviour(t *testing.T) {
	testenv.NeedRoot(t) // owners other than the test's own
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		h, _ := newHost(t)
		return h
	}, fsbehave.Options{})
}

func TestBehaviourReadOnly(t *testing.T) {
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		dir := t.TempDir()
		os.WriteFile(dir+"/a", []byte("hello"), 0o644)
		os.Mkdir(dir+"/d", 0o755)
		os.Symlink("../../etc/passwd", dir+"/l")
		h, err := hostfs.New(dir, hostfs.ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}, fsbehave.Options{ReadOnly: true})
}
