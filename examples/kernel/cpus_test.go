package kernel_test

import (
	"runtime"
	"testing"

	"github.com/goskit/goskit/boot"
	"github.com/goskit/goskit/examples/kernel"
)

func TestCPUs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
		ok   bool
	}{
		{[]string{"k"}, kernel.DefaultCPUs, true},
		{[]string{"k", "-cpus=2", "--", "-n", "5"}, 2, true},
		{[]string{"k", "-cpus=3", "-cpus=1", "--"}, 1, true},
		{[]string{"k", "-cpus=all", "--"}, runtime.NumCPU(), true},
		{[]string{"k", "-cpus=2"}, kernel.DefaultCPUs, true}, // no "--": a program argument
		{[]string{"k", "-cpus=0", "--"}, 0, false},
		{[]string{"k", "-cpus=x", "--"}, 0, false},
		{[]string{"k", "-cpus=", "--"}, 0, false},
	} {
		info := &boot.Info{CommandLine: boot.ParseCommandLine(tc.args)}
		n, err := kernel.CPUs(info)
		if (err == nil) != tc.ok || (tc.ok && n != tc.want) {
			t.Errorf("CPUs(%q) = %d, %v; want %d, ok %v", tc.args, n, err, tc.want, tc.ok)
		}
	}
	before := runtime.GOMAXPROCS(0)
	restore, err := kernel.UseCPUs(&boot.Info{CommandLine: boot.ParseCommandLine([]string{"k", "-cpus=1", "--"})})
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOMAXPROCS(0) != 1 {
		t.Error("UseCPUs did not set GOMAXPROCS")
	}
	restore()
	if runtime.GOMAXPROCS(0) != before {
		t.Error("restore did not restore GOMAXPROCS")
	}
}
