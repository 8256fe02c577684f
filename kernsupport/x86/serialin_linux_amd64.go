//go:build linux && amd64

package x86

// Console input: the 16550's receive interrupt (IRQ 4) fills a ring, and
// read on fds 0-2 takes from it, blocking the thread while it is empty, as
// a read on a terminal does.

const (
	vecSerial = 32 + 4
	inRing    = 4096
	thRead    = 5 // blocked in read on the console
)

var (
	inBuf   [inRing]byte
	inHead  uint64 // next byte to take
	inTail  uint64 // next free slot
	readBuf [maxThreads]uint64
	readLen [maxThreads]uint64
)

// serialInterrupt moves the received bytes into the ring and completes
// the reads waiting for them.
//
//go:nosplit
//go:noinline
func serialInterrupt() {
	for i := 0; i < 64 && inb(com1+5)&1 != 0; i++ {
		c := inb(com1)
		if inTail-inHead < inRing {
			inBuf[inTail%inRing] = c
			inTail++
		}
	}
	for i := range threads {
		if inTail == inHead {
			break
		}
		t := &threads[i]
		if t.state == thRead {
			t.tf.RAX = takeInput(readBuf[i], readLen[i])
			t.state = thRunnable
		}
	}
}

// takeInput copies up to n buffered bytes to buf (paged in already).
//
//go:nosplit
func takeInput(buf, n uint64) uint64 {
	k := uint64(0)
	for k < n && inHead != inTail {
		*(*byte)(phys(buf + k)) = inBuf[inHead%inRing]
		inHead++
		k++
	}
	return k
}

// consoleRead is read on fds 0-2.
//
//go:nosplit
//go:noinline
func consoleRead(t *thread, buf, n uint64) {
	if n == 0 {
		t.tf.RAX = 0
		return
	}
	if !prefault(buf, n) {
		t.tf.RAX = neg(eFAULT)
		return
	}
	if inHead != inTail {
		t.tf.RAX = takeInput(buf, n)
		return
	}
	i := cur & (maxThreads - 1)
	readBuf[i], readLen[i] = buf, n
	block(t, thRead, 0)
}
