package boot

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseCommandLine(t *testing.T) {
	tests := []struct {
		name  string
		words []string
		want  CommandLine
	}{
		{name: "empty", words: nil, want: CommandLine{}},
		{name: "empty slice", words: []string{}, want: CommandLine{}},
		{name: "program only", words: []string{"k"}, want: CommandLine{Program: "k"}},
		{
			name:  "no separator: every word is an argument",
			words: []string{"k", "-d", "A=1", "x"},
			want:  CommandLine{Program: "k", Args: []string{"-d", "A=1", "x"}},
		},
		{
			name:  "the OSKit's example",
			words: []string{"kernel", "DISPLAY=host:0", "-d", "--", "-rf", "foo", "bar"},
			want: CommandLine{
				Program: "kernel",
				Options: []string{"-d"},
				Vars:    []string{"DISPLAY=host:0"},
				Args:    []string{"-rf", "foo", "bar"},
			},
		},
		{
			name:  "leading separator: no options, all arguments",
			words: []string{"k", "--", "a", "B=2"},
			want:  CommandLine{Program: "k", Args: []string{"a", "B=2"}},
		},
		{
			name:  "trailing separator: no arguments",
			words: []string{"k", "-h", "A=1", "--"},
			want:  CommandLine{Program: "k", Options: []string{"-h"}, Vars: []string{"A=1"}},
		},
		{
			name:  "separator alone",
			words: []string{"k", "--"},
			want:  CommandLine{Program: "k"},
		},
		{
			name:  "second separator is an argument",
			words: []string{"k", "-d", "--", "a", "--", "b"},
			want:  CommandLine{Program: "k", Options: []string{"-d"}, Args: []string{"a", "--", "b"}},
		},
		{
			name:  "settings after the separator are arguments",
			words: []string{"k", "A=1", "--", "B=2"},
			want:  CommandLine{Program: "k", Vars: []string{"A=1"}, Args: []string{"B=2"}},
		},
		{
			name:  "program named -- is still the program",
			words: []string{"--", "a", "--", "b"},
			want:  CommandLine{Program: "--", Options: []string{"a"}, Args: []string{"b"}},
		},
		{
			name:  "empty value",
			words: []string{"k", "A=", "--"},
			want:  CommandLine{Program: "k", Vars: []string{"A="}},
		},
		{
			name:  "empty name is an option",
			words: []string{"k", "=x", "=", "--"},
			want:  CommandLine{Program: "k", Options: []string{"=x", "="}},
		},
		{
			name:  "value containing =",
			words: []string{"k", "A=b=c", "--"},
			want:  CommandLine{Program: "k", Vars: []string{"A=b=c"}},
		},
		{
			name:  "dash name is an option with a value",
			words: []string{"k", "-module=a.txt:b", "--x=1", "--"},
			want:  CommandLine{Program: "k", Options: []string{"-module=a.txt:b", "--x=1"}},
		},
		{
			name:  "words with spaces stay whole",
			words: []string{"my kernel", "A=b c", "-o p q", "--", "x y", " "},
			want: CommandLine{
				Program: "my kernel",
				Options: []string{"-o p q"},
				Vars:    []string{"A=b c"},
				Args:    []string{"x y", " "},
			},
		},
		{
			name:  "empty words",
			words: []string{"", "", "--", ""},
			want:  CommandLine{Options: []string{""}, Args: []string{""}},
		},
		{
			name:  "order kept",
			words: []string{"k", "B=2", "-a", "A=1", "-b", "B=3", "--"},
			want: CommandLine{
				Program: "k",
				Options: []string{"-a", "-b"},
				Vars:    []string{"B=2", "A=1", "B=3"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseCommandLine(tt.words)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCommandLine(%q)\n got %#v\nwant %#v", tt.words, got, tt.want)
			}
			if back := ParseCommandLine(got.Words()); !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip through Words %q: got %#v", got.Words(), back)
			}
		})
	}
}

func TestParseCommandLineDoesNotAlias(t *testing.T) {
	words := []string{"k", "a", "b"}
	c := ParseCommandLine(words)
	words[1] = "changed"
	if c.Args[0] != "a" {
		t.Fatalf("Args alias the input: %q", c.Args)
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		name string
		in   CommandLine
		want []string
	}{
		{name: "zero", in: CommandLine{}, want: []string{""}},
		{name: "args only, no separator", in: CommandLine{Program: "k", Args: []string{"a"}}, want: []string{"k", "a"}},
		{
			name: "options need the separator",
			in:   CommandLine{Program: "k", Options: []string{"-d"}, Vars: []string{"A=1"}, Args: []string{"a"}},
			want: []string{"k", "-d", "A=1", "--", "a"},
		},
		{
			name: "an argument -- needs the separator",
			in:   CommandLine{Program: "k", Args: []string{"a", "--"}},
			want: []string{"k", "--", "a", "--"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Words(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Words() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitCommandLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t\n", nil},
		{"kernel", []string{"kernel"}},
		{" kernel  A=1\t-d\r\n--\v x\fy ", []string{"kernel", "A=1", "-d", "--", "x", "y"}},
		{"k \u00a0x", []string{"k", "\u00a0x"}}, // only ASCII white space separates
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := SplitCommandLine(tt.in)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SplitCommandLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseCommandLine checks that the parser accepts anything, that every
// word lands in exactly one place, and that Words round-trips. The fuzzer's
// string is split into words at NUL bytes so that words may hold spaces, '='
// and "--".
func FuzzParseCommandLine(f *testing.F) {
	for _, s := range []string{
		"", "k", "k\x00--", "k\x00A=1\x00-d\x00--\x00x", "k\x00=x\x00A=\x00--\x00--",
		"--\x00--\x00--", "k\x00a b\x00-m=p:n:s\x00--\x00 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var words []string
		if s != "" {
			words = strings.Split(s, "\x00")
		}
		c := ParseCommandLine(words)
		if back := ParseCommandLine(c.Words()); !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip: %q -> %#v -> %q -> %#v", words, c, c.Words(), back)
		}
		n := len(c.Options) + len(c.Vars) + len(c.Args)
		if len(words) > 0 {
			n++ // the program name
		}
		if n != len(words) && n != len(words)-1 { // the separator is dropped
			t.Fatalf("%d words became %d parts: %#v", len(words), n, c)
		}
		for _, v := range c.Vars {
			if !IsVar(v) {
				t.Fatalf("setting %q is not NAME=value", v)
			}
		}
		for _, o := range c.Options {
			if IsVar(o) || o == Separator {
				t.Fatalf("option %q should not be an option", o)
			}
		}
		_ = SplitCommandLine(s)
	})
}
