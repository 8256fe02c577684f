package hosted

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestPrefixLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "nothing", writes: nil, want: ""},
		{name: "empty write", writes: []string{""}, want: ""},
		{name: "one line", writes: []string{"hello\n"}, want: "> hello\n"},
		{name: "no newline yet", writes: []string{"hel", "lo"}, want: "> hello"},
		{name: "line split across writes", writes: []string{"he", "llo\nwor", "ld\n"}, want: "> hello\n> world\n"},
		{name: "prefix waits for the next line's first byte", writes: []string{"a\n", "b\n"}, want: "> a\n> b\n"},
		{name: "empty lines", writes: []string{"\n\n"}, want: "> \n> \n"},
		{name: "several lines in one write", writes: []string{"a\nb\nc"}, want: "> a\n> b\n> c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := PrefixLines(&out, "> ")
			for _, s := range tt.writes {
				n, err := io.WriteString(w, s)
				if n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if out.String() != tt.want {
				t.Fatalf("wrote %q, want %q", out.String(), tt.want)
			}
		})
	}
}

// shortWriter accepts at most limit bytes per call and then fails.
type shortWriter struct {
	out   bytes.Buffer
	limit int
}

var errFull = errors.New("full")

func (s *shortWriter) Write(p []byte) (int, error) {
	if len(p) <= s.limit {
		return s.out.Write(p)
	}
	s.out.Write(p[:s.limit])
	return s.limit, errFull
}

func TestPrefixLinesShortWrite(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		in       string
		wantN    int
		thenIn   string
		wantOut  string
		wantNext string // what the retry of the rest writes
	}{
		// "> ab\n> cd": a limit of 6 carries "> ab\n>", so 3 bytes of p.
		{name: "cut inside the next prefix", limit: 6, in: "ab\ncd", wantN: 3, wantOut: "> ab\n>", wantNext: "> cd"},
		// a limit of 3 carries "> a": 1 byte, the next write continues the line.
		{name: "cut inside a line", limit: 3, in: "ab\ncd", wantN: 1, wantOut: "> a", wantNext: "b\n> cd"},
		// a limit of 1 carries part of the prefix only: 0 bytes.
		{name: "cut inside the first prefix", limit: 1, in: "ab", wantN: 0, wantOut: ">", wantNext: "> ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := &shortWriter{limit: tt.limit}
			w := PrefixLines(sw, "> ")
			n, err := io.WriteString(w, tt.in)
			if n != tt.wantN || !errors.Is(err, errFull) {
				t.Fatalf("Write = %d, %v; want %d, errFull", n, err, tt.wantN)
			}
			if sw.out.String() != tt.wantOut {
				t.Fatalf("wrote %q, want %q", sw.out.String(), tt.wantOut)
			}
			sw.out.Reset()
			sw.limit = 1 << 20
			if _, err := io.WriteString(w, tt.in[n:]); err != nil {
				t.Fatal(err)
			}
			if sw.out.String() != tt.wantNext {
				t.Fatalf("retry wrote %q, want %q", sw.out.String(), tt.wantNext)
			}
		})
	}
}
