package hosted

import (
	"io"
	"sync"

	"github.com/goskit/goskit/kernsupport"
)

// console is a Console over an io.Reader and an io.Writer. Writes go straight
// through, unbuffered, one call each, so output appears as soon as a kernel
// prints it and lines from two goroutines do not interleave within a Write.
// The locks make any reader and writer safe for the concurrent use the
// Console contract promises.
type console struct {
	readMu  sync.Mutex
	in      io.Reader
	writeMu sync.Mutex
	out     io.Writer
}

var _ kernsupport.Console = (*console)(nil)

// Read reads from the console's input. With no input it reports end of file.
func (c *console) Read(p []byte) (int, error) {
	if c.in == nil {
		return 0, io.EOF
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.in.Read(p)
}

// Write writes p to the console's output. With no output it discards p.
func (c *console) Write(p []byte) (int, error) {
	if c.out == nil {
		return len(p), nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.out.Write(p)
}

// PrefixLines returns a writer that writes to w with prefix at the start of
// every line, so that two kernels sharing one terminal can be told apart:
//
//	hosted.WithConsole(os.Stdin, hosted.PrefixLines(os.Stdout, "ttcp-t: "))
//
// It buffers nothing: each Write is one Write to w, with the prefix inserted
// after every newline that is followed by more output (a prefix is written
// when its line's first byte is, never ahead of it). It is safe for
// concurrent use.
func PrefixLines(w io.Writer, prefix string) io.Writer {
	return &prefixWriter{w: w, prefix: []byte(prefix), atLineStart: true}
}

type prefixWriter struct {
	mu          sync.Mutex
	w           io.Writer
	prefix      []byte
	atLineStart bool
	buf         []byte
}

func (pw *prefixWriter) Write(p []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	out := pw.buf[:0]
	atStart := pw.atLineStart
	for _, b := range p {
		if atStart {
			out = append(out, pw.prefix...)
		}
		out = append(out, b)
		atStart = b == '\n'
	}
	pw.buf = out[:0] // reused by the next Write
	n, err := pw.w.Write(out)
	if n >= len(out) {
		pw.atLineStart = atStart
		return len(p), err
	}
	// A short write: count the bytes of p that made it out whole, so the
	// caller's retry of the rest continues exactly where this stopped; the
	// prefix is due again if the last byte out ended a line or none went.
	done, pos := 0, 0
	atStart = pw.atLineStart
	for _, b := range p {
		if atStart {
			pos += len(pw.prefix)
		}
		if pos+1 > n {
			break
		}
		pos++
		done++
		atStart = b == '\n'
	}
	pw.atLineStart = atStart
	if err == nil {
		err = io.ErrShortWrite
	}
	return done, err
}
