package boot

import "strings"

// Separator is the word that ends the boot options and environment settings
// on a command line; the words after it are the program's arguments.
const Separator = "--"

// CommandLine is a kernel command line split by the OSKit's rule (see
// ParseCommandLine).
type CommandLine struct {
	// Program is the first word, argv[0].
	Program string
	// Options are the boot options: the words before "--" that are not
	// environment settings, in order (the OSKit's oskit_bootargv).
	Options []string
	// Vars are the environment settings of the command line: the words
	// before "--" of the form NAME=value, in order. Later settings of a
	// name win over earlier ones.
	Vars []string
	// Args are the program's arguments, without the program name.
	Args []string
}

// ParseCommandLine splits words, a command line whose first word is the
// program name, by the OSKit's rule:
//
//	prog [boot-options and NAME=value ...] -- args...
//
// The words between the program name and the first "--" are boot options,
// except those that are environment settings, which go to Vars; the words
// after that "--" are the program's arguments (a later "--" is an ordinary
// argument). With no "--", every word after the program name is a program
// argument and there are no options or settings.
//
// A word is an environment setting when it has the form NAME=value with NAME
// not empty and not starting with '-'. The OSKit took every word containing
// '='; goskit keeps "=x" (which names no variable) and "-flag=value" (the
// spelling of a boot option with a value, such as -module=PATH) as boot
// options. The value may be empty ("A=") and may contain '=' ("A=b=c").
//
// ParseCommandLine accepts any input; an empty words gives the zero
// CommandLine.
func ParseCommandLine(words []string) CommandLine {
	var c CommandLine
	if len(words) == 0 {
		return c
	}
	c.Program = words[0]
	rest := words[1:]
	sep := -1
	for i, w := range rest {
		if w == Separator {
			sep = i
			break
		}
	}
	if sep < 0 {
		c.Args = clone(rest)
		return c
	}
	for _, w := range rest[:sep] {
		if IsVar(w) {
			c.Vars = append(c.Vars, w)
		} else {
			c.Options = append(c.Options, w)
		}
	}
	c.Args = clone(rest[sep+1:])
	return c
}

// IsVar reports whether word is an environment setting on a command line:
// NAME=value with NAME not empty and not starting with '-'.
func IsVar(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	return ok && name != "" && name[0] != '-'
}

// Words formats c back into command-line words that ParseCommandLine turns
// into c again: the program name, the options, the settings, then "--" and
// the arguments. The "--" is left out when nothing needs it (no options or
// settings, and no argument that is itself "--").
//
// The round trip holds for every CommandLine that ParseCommandLine returns;
// for one built by hand it holds when no option is "--" or a setting (IsVar)
// and every setting is one.
func (c CommandLine) Words() []string {
	words := make([]string, 0, 2+len(c.Options)+len(c.Vars)+len(c.Args))
	words = append(words, c.Program)
	needSep := len(c.Options) > 0 || len(c.Vars) > 0
	for _, a := range c.Args {
		if a == Separator {
			needSep = true
			break
		}
	}
	if needSep {
		words = append(words, c.Options...)
		words = append(words, c.Vars...)
		words = append(words, Separator)
	}
	return append(words, c.Args...)
}

// SplitCommandLine splits a command line given as one string (as a Multiboot
// boot loader passes it) into words at runs of ASCII white space, as the
// OSKit did. There is no quoting: a word cannot contain white space.
func SplitCommandLine(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			return true
		}
		return false
	})
}

// clone copies s so that a CommandLine never aliases its caller's slice; it
// keeps nil for an empty s so that zero values compare equal.
func clone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}
