package ttcp

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds ttcp's argument parser arbitrary words: it returns
// options or an error, never panics, and what it accepts validates.
func FuzzParse(f *testing.F) {
	f.Add("-t -l 65536 -n 10 198.18.0.2")
	f.Add("-r -s -nic packet:veth0 -addr 198.18.0.2/24 -gw 198.18.0.1")
	f.Add("-nic wire -json -f g")
	f.Add("-t -b -1 -p 70000 x y")
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	f.Fuzz(func(t *testing.T, line string) {
		saved := os.Stderr
		os.Stderr = devnull // the flag package prints usage on errors
		o, nic, embedded, err := Parse(strings.Fields(line))
		os.Stderr = saved
		if err != nil {
			return
		}
		if len(strings.Fields(line)) > 0 && !embedded {
			if verr := o.validate(); verr != nil {
				t.Fatalf("Parse accepted %q but validate says %v", line, verr)
			}
			if verr := nic.Validate(); verr != nil {
				t.Fatalf("Parse accepted %q but the NIC flags fail: %v", line, verr)
			}
		}
	})
}
