//go:build linux && amd64

package x86

// The file descriptors the runtime itself opens: its network poller's
// epoll instance and the eventfd it wakes the poller with. The console is
// fds 0-2; anything else a program opens hosted (files, sockets) does not
// exist here yet: openat answers ENOENT.

const maxFDs = 16

const (
	fdNone = iota
	fdConsole
	fdEvent
	fdEpoll
)

type epollWatch struct {
	epfd   uint64 // the epoll instance watching this fd, 0 if none
	events uint32
	data   uint64
}

var (
	fdKind  [maxFDs]uint8
	fdCount [maxFDs]uint64 // eventfd counters
	watches [maxFDs]epollWatch
)

const (
	nrEpollWait  = 232
	nrEpollCtl   = 233
	nrEpollPwait = 281
	nrEventfd2   = 290
	nrEpollCr1   = 291
	thEpoll      = 4
)

//go:nosplit
func fdValid(fd uint64) bool {
	if fd < 3 {
		return true
	}
	return fd < maxFDs && fdKind[fd&(maxFDs-1)] != fdNone
}

//go:nosplit
//go:noinline
func newFD(kind uint8) uint64 {
	for fd := uint64(3); fd < maxFDs; fd++ {
		if fdKind[fd] == fdNone {
			fdKind[fd] = kind
			fdCount[fd] = 0
			watches[fd] = epollWatch{}
			return fd
		}
	}
	return neg(24) // EMFILE
}

//go:nosplit
//go:noinline
func closeFD(fd uint64) uint64 {
	if fd < 3 {
		return 0
	}
	if !fdValid(fd) {
		return neg(eBADF)
	}
	fdKind[fd&(maxFDs-1)] = fdNone
	for i := range watches {
		if watches[i].epfd == fd {
			watches[i] = epollWatch{}
		}
	}
	return 0
}

// eventRead and eventWrite are read and write on an eventfd (always
// non-blocking: the runtime opens it with EFD_NONBLOCK).
//
//go:nosplit
//go:noinline
func eventRead(fd, buf, n uint64) uint64 {
	fd &= maxFDs - 1
	if n < 8 {
		return neg(eINVAL)
	}
	if fdCount[fd] == 0 {
		return neg(eAGAIN)
	}
	setU64(buf, fdCount[fd])
	fdCount[fd] = 0
	return 8
}

//go:nosplit
//go:noinline
func eventWrite(fd, buf, n uint64) uint64 {
	fd &= maxFDs - 1
	if n < 8 {
		return neg(eINVAL)
	}
	fdCount[fd] += u64(buf)
	if w := watches[fd]; w.epfd != 0 {
		// Wake the threads waiting on the watching epoll instance; they
		// return with no events and poll again.
		for i := range threads {
			t := &threads[i]
			if t.state == thEpoll && t.waitAddr == w.epfd {
				t.state = thRunnable
				t.deadline = 0
				t.tf.RAX = 0
			}
		}
	}
	return 8
}

//go:nosplit
//go:noinline
func epollCtl(epfd, op, fd, ev uint64) uint64 {
	const add, del, mod = 1, 2, 3
	if epfd >= maxFDs || fdKind[epfd] != fdEpoll || fd >= maxFDs || !fdValid(fd) {
		return neg(eBADF)
	}
	switch op {
	case add, mod:
		watches[fd] = epollWatch{epfd: epfd, events: u32(ev), data: u64(ev + 4)}
	case del:
		watches[fd] = epollWatch{}
	default:
		return neg(eINVAL)
	}
	return 0
}

// epollWait reports the ready fds watched by epfd (an eventfd with a
// non-zero count is readable; the console never becomes ready through
// epoll), blocking for timeout milliseconds (-1: until woken) when none is.
//
//go:nosplit
//go:noinline
func epollWait(t *thread, epfd, events, maxEvents, timeout uint64) {
	if epfd >= maxFDs || fdKind[epfd] != fdEpoll {
		t.tf.RAX = neg(eBADF)
		return
	}
	n := uint64(0)
	for fd := uint64(0); fd < maxFDs && n < maxEvents; fd++ {
		w := watches[fd]
		if w.epfd == epfd && fdKind[fd] == fdEvent && fdCount[fd] > 0 && w.events&1 != 0 {
			*(*uint32)(phys(events + n*12)) = 1 // EPOLLIN
			setU64(events+n*12+4, w.data)
			n++
		}
	}
	to := int64(int32(timeout))
	if n > 0 || to == 0 {
		t.tf.RAX = n
		return
	}
	var deadline int64
	if to > 0 {
		deadline = nanotime() + to*1e6
	}
	t.waitAddr = epfd
	t.tf.RAX = 0
	block(t, thEpoll, deadline)
}
