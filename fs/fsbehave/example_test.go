package fsbehave_test

import (
	"testing"

	"github.com/goskit/goskit/fs"
	"github.com/goskit/goskit/fs/fsbehave"
	"github.com/goskit/goskit/fs/memfs"
)

// A file system's test runs the suite with a constructor for a fresh file
// system and the features it lacks. (This example is compiled, not run:
// Run needs the *testing.T of a real test.)
func ExampleRun() {
	testBehaviour := func(t *testing.T) {
		fsbehave.Run(t, func(t *testing.T) fs.FileSystem {
			m := memfs.New()
			t.Cleanup(func() { m.Close() })
			return m
		}, fsbehave.Options{
			// What memfs lacks: nothing. A 9P client might declare
			// NoXattr: true, NoAllocate: true; a host directory without root
			// NoSetOwner: true, NoMknod: true.
		})
	}
	_ = testBehaviour
}
