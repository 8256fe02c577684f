package qemu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Config describes a boot.
type Config struct {
	// QEMU is the emulator binary; "" is qemu-system-x86_64.
	QEMU string
	// Image is the kernel image (MakeImage's output).
	Image string
	// CommandLine is the kernel's command line, argv with the program
	// name first. It is passed with -append; for a Multiboot image, whose
	// command line QEMU starts with the image's path, the first word is
	// left out, so the program name is the image's path there.
	CommandLine string
	// Memory is the guest's memory size for -m; "" is 1G.
	Memory string
	// Machine is the -machine value; "" is q35.
	Machine string
	// Timeout caps the whole boot; 0 is 90 s.
	Timeout time.Duration
	// Silence is how long the serial port may stay quiet; 0 is 20 s.
	Silence time.Duration
	// Serial receives the guest's serial output; nil discards it.
	Serial io.Writer
	// Stdin, if not nil, is the guest's serial input.
	Stdin io.Reader
	// Modules are boot modules, each "FILE" or "FILE STRING", passed with
	// -initrd: a Multiboot image gets them all, a PVH image (QEMU's
	// limit) only one.
	Modules []string
	// Extra are further QEMU arguments.
	Extra []string
}

// Result is how a boot ended.
type Result struct {
	// Status is the kernel's exit status, valid when Exited.
	Status int
	// Exited reports that the kernel stopped the machine through
	// isa-debug-exit.
	Exited bool
	// QEMUExit is QEMU's own exit code (-1 if killed).
	QEMUExit int
	// Duration is the time from QEMU's start to its end.
	Duration time.Duration
}

// ErrTimeout and ErrSilent report a boot that was killed.
var (
	ErrTimeout = errors.New("qemu: boot exceeded its time cap")
	ErrSilent  = errors.New("qemu: serial output silent too long")
)

// Args returns the QEMU command line for c.
func (c Config) Args() []string {
	mem, machine := c.Memory, c.Machine
	if mem == "" {
		mem = "1G"
	}
	if machine == "" {
		machine = "q35"
	}
	args := []string{"-machine", machine, "-cpu", "max", "-m", mem, "-nographic", "-no-reboot",
		"-monitor", "none", "-serial", "stdio",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-kernel", c.Image, "-append", c.appendLine()}
	if len(c.Modules) > 0 {
		args = append(args, "-initrd", strings.Join(c.Modules, ","))
	}
	return append(args, c.Extra...)
}

// appendLine is the -append value: CommandLine, less its first word for
// a Multiboot image.
func (c Config) appendLine() string {
	if !IsMultiboot(c.Image) {
		return c.CommandLine
	}
	words := strings.Fields(c.CommandLine)
	if len(words) == 0 {
		return ""
	}
	return strings.Join(words[1:], " ")
}

// IsMultiboot reports whether the image file has a Multiboot v1 header
// (magic and checksum at a 4-byte boundary in its first 8 KiB), which
// makes QEMU boot it by Multiboot.
func IsMultiboot(image string) bool {
	f, err := os.Open(image)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, multibootSearch)
	n, _ := io.ReadFull(f, buf)
	buf = buf[:n]
	for off := 0; off+12 <= len(buf); off += 4 {
		magic := binary.LittleEndian.Uint32(buf[off:])
		flags := binary.LittleEndian.Uint32(buf[off+4:])
		sum := binary.LittleEndian.Uint32(buf[off+8:])
		if magic == multibootHeaderMagic && magic+flags+sum == 0 {
			return true
		}
	}
	return false
}

// watchWriter forwards the serial output and notes when it last moved.
type watchWriter struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = time.Now()
	if w.w != nil {
		w.w.Write(p)
	}
	return len(p), nil
}

func (w *watchWriter) quiet() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.last)
}

// Run boots c.Image and waits for the machine to stop. A kernel that exits
// through isa-debug-exit gives Exited and its Status; a boot killed for
// exceeding the time cap or the silence limit returns ErrTimeout or
// ErrSilent with the Result so far.
func Run(ctx context.Context, c Config) (Result, error) {
	timeout, silence := c.Timeout, c.Silence
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	if silence == 0 {
		silence = 20 * time.Second
	}
	bin := c.QEMU
	if bin == "" {
		bin = "qemu-system-x86_64"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &watchWriter{w: c.Serial, last: time.Now()}
	cmd := exec.CommandContext(ctx, bin, c.Args()...)
	cmd.Stdout = w
	cmd.Stderr = w
	// Copy the input ourselves: exec's own copying would make Wait wait
	// for the input's end, which may never come. WaitDelay bounds the
	// wait for the output copying once QEMU is gone.
	var stdin io.WriteCloser
	if c.Stdin != nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return Result{}, fmt.Errorf("qemu: %w", err)
		}
	}
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("qemu: %w", err)
	}
	if stdin != nil {
		go func() {
			io.Copy(stdin, c.Stdin)
			stdin.Close()
		}()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var killed error
	for {
		select {
		case err := <-done:
			res := Result{Duration: time.Since(start), QEMUExit: cmd.ProcessState.ExitCode()}
			if killed != nil {
				return res, killed
			}
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				return res, fmt.Errorf("qemu: %w", err)
			}
			if st, ok := decode(res.QEMUExit); ok {
				res.Status, res.Exited = st, true
			}
			return res, nil
		case <-tick.C:
			if killed != nil {
				continue
			}
			switch {
			case time.Since(start) > timeout:
				killed = ErrTimeout
			case w.quiet() > silence:
				killed = ErrSilent
			}
			if killed != nil {
				cmd.Process.Kill()
			}
		}
	}
}

// decode turns QEMU's exit code into the kernel's status: isa-debug-exit
// makes QEMU exit with status<<1 | 1.
func decode(code int) (int, bool) {
	if code <= 0 || code&1 == 0 {
		return 0, false
	}
	return code >> 1, true
}
