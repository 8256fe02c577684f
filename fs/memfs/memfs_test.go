package memfs_test

import (
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/memfs"
)

func TestBehaviour(t *testing.T) {
	fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
		f := memfs.New()
		t.Cleanup(func() { f.Close() })
		return f
	}, fsbehave.Options{})
}
