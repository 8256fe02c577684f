package netdev_test

import (
	"bytes"
	"testing"

	"github.com/goskit/goskit/drivers/netdev"
)

func TestCopySegs(t *testing.T) {
	src := [][]byte{[]byte("abc"), nil, []byte("defgh"), []byte("ij")}
	tests := []struct {
		name string
		dst  []int // segment sizes
		n    int
		want string
	}{
		{"one buffer", []int{20}, 10, "abcdefghij"},
		{"split", []int{4, 1, 5}, 10, "abcdefghij"},
		{"prefix", []int{2, 2}, 3, "abc"},
		{"short destination", []int{2, 2}, 10, "abcd"},
		{"empty destination segments", []int{0, 10, 0}, 10, "abcdefghij"},
		{"nothing", []int{5}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var dst [][]byte
			for _, n := range tc.dst {
				dst = append(dst, make([]byte, n))
			}
			got := netdev.CopySegs(dst, src, tc.n)
			if got != len(tc.want) || !bytes.Equal(bytes.Join(dst, nil)[:got], []byte(tc.want)) {
				t.Errorf("CopySegs = %d, %q; want %q", got, bytes.Join(dst, nil), tc.want)
			}
		})
	}
}

func TestCopySegsAcrossBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		segs, bufs []int // lengths
	}{
		{"one to one", []int{10}, []int{10}},
		{"many segments, one buffer", []int{3, 4, 5}, []int{12}},
		{"one segment, many buffers", []int{12}, []int{5, 5, 5}},
		{"misaligned", []int{7, 9, 2}, []int{4, 11, 0, 6}},
		{"empty segment", []int{0, 5}, []int{5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []byte
			var segs [][]byte
			for _, n := range tc.segs {
				s := make([]byte, n)
				for i := range s {
					s[i] = byte(len(want) + i + 1)
				}
				want = append(want, s...)
				segs = append(segs, s)
			}
			var bufs [][]byte
			for _, n := range tc.bufs {
				bufs = append(bufs, make([]byte, n))
			}
			n := netdev.CopySegs(bufs, segs, len(want))
			var got []byte
			for _, b := range bufs {
				got = append(got, b...)
			}
			if n != len(want) || !bytes.Equal(got[:n], want) {
				t.Errorf("CopySegs = %d, %v; want %d, %v", n, got, len(want), want)
			}
		})
	}
}
