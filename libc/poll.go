package libc

import (
	"syscall"
	"time"

	"github.com/goskit/goskit/netstack"
	"golang.org/x/sys/unix"
)

// PollFd is struct pollfd: an fd, the events asked for (POLLIN, POLLOUT,
// POLLPRI...), and the events that hold, set by Poll (with POLLERR,
// POLLHUP and POLLNVAL always reported).
type PollFd struct {
	Fd      int32
	Events  int16
	Revents int16
}

// mixedSlice bounds each wait when one Poll holds both host and kit
// sockets, which neither wait covers alone.
const mixedSlice = 10 * time.Millisecond

// Poll waits until an event of fds holds or timeout passes (a negative
// timeout waits for ever, zero does not wait) and returns how many entries
// have events, as poll(2). Entries with a negative Fd are ignored; an fd
// that is not open gets POLLNVAL.
//
// Console fds are always ready for POLLOUT and, as an approximation (the
// platform console has no readiness interface), for POLLIN: a Read may
// then still block until input arrives, as with a regular file. Kit
// sockets wait on their netstack readiness notifications; host sockets are
// polled with poll(2) itself. A System has one sockets backend, so one
// Poll holds one kind of socket; a set that holds both (not possible
// through the public API today) is waited on in slices of 10ms, correct
// and bounded, if not instant. When the kit's NIC fails for good (the
// stack's Done), a Poll waiting on kit sockets returns with POLLERR on
// them, as blocked reads and writes return ENETDOWN.
func (s *System) Poll(fds []PollFd, timeout time.Duration) (int, error) {
	if len(fds) > 1<<20 {
		return 0, syscall.EINVAL
	}
	type ent struct {
		i int
		f *file
	}
	var kit, host []ent
	for i := range fds {
		fds[i].Revents = 0
		if fds[i].Fd < 0 {
			continue
		}
		f, err := s.get(int(fds[i].Fd))
		if err != nil {
			continue
		}
		switch f.sock.(type) {
		case *kitSock:
			kit = append(kit, ent{i, f})
		case *hostSock:
			host = append(host, ent{i, f})
		}
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	start := time.Now()

	// scan fills Revents of everything but host sockets and counts the
	// ready entries.
	scan := func() int {
		n := 0
		for i := range fds {
			pf := &fds[i]
			if pf.Fd < 0 {
				continue
			}
			f, err := s.get(int(pf.Fd))
			if err != nil {
				pf.Revents = unix.POLLNVAL
				n++
				continue
			}
			switch sk := f.sock.(type) {
			case *hostSock:
				continue // hostPoll's
			case nil:
				pf.Revents = pf.Events & (unix.POLLIN | pollRdNorm | unix.POLLOUT | pollWrNorm)
			case *kitSock:
				pf.Revents = kitRevents(sk.s.Ready(kitEvents(pf.Events)), pf.Events)
			}
			if pf.Revents != 0 {
				n++
			}
		}
		return n
	}

	// hostPoll polls the host sockets for up to wait (negative: for ever)
	// and adds their events; it returns how many are ready.
	hostPoll := func(wait time.Duration) (int, error) {
		if len(host) == 0 {
			return 0, nil
		}
		pfds := make([]unix.PollFd, 0, len(host))
		var held []*hostSock
		defer func() {
			for _, h := range held {
				h.release()
			}
		}()
		for _, e := range host {
			h := e.f.sock.(*hostSock)
			fd, err := h.acquire()
			if err != nil {
				fd = -1 // closed meanwhile: scan reports POLLNVAL
			} else {
				held = append(held, h)
			}
			pfds = append(pfds, unix.PollFd{Fd: int32(fd), Events: fds[e.i].Events})
		}
		ms := -1
		if wait >= 0 {
			ms = int((wait + time.Millisecond - 1) / time.Millisecond)
		}
		for {
			_, err := unix.Poll(pfds, ms)
			if err == unix.EINTR {
				if wait >= 0 {
					left := wait - time.Since(start)
					if left < 0 {
						left = 0
					}
					ms = int((left + time.Millisecond - 1) / time.Millisecond)
				}
				continue
			}
			if err != nil {
				return 0, errnoOf(err)
			}
			break
		}
		n := 0
		for j, e := range host {
			if pfds[j].Fd < 0 {
				continue
			}
			if pfds[j].Revents != 0 {
				fds[e.i].Revents = pfds[j].Revents
				n++
			}
		}
		return n, nil
	}

	var ch chan struct{}
	for {
		n := scan()
		if n > 0 || timeout == 0 {
			m, err := hostPoll(0)
			return n + m, err
		}
		if len(host) > 0 {
			wait := time.Duration(-1)
			if timeout > 0 {
				wait = max(timeout-time.Since(start), 0)
			}
			if len(kit) > 0 && (wait < 0 || wait > mixedSlice) {
				wait = mixedSlice
			}
			m, err := hostPoll(wait)
			if err != nil || m > 0 {
				return scan() + m, err
			}
			if timeout > 0 && time.Since(start) >= timeout {
				return scan(), nil
			}
			continue
		}
		if len(kit) > 0 && ch == nil {
			// Register for every kit socket's events, then scan again
			// before waiting, so an event in between is not lost.
			ch = make(chan struct{}, 1)
			for _, e := range kit {
				cancel := e.f.sock.(*kitSock).s.Notify(kitEvents(fds[e.i].Events), ch)
				defer cancel()
			}
			continue
		}
		var failed <-chan struct{}
		if len(kit) > 0 {
			failed = s.stack.Done()
		}
		select {
		case <-ch: // nil without kit sockets: only the timeout ends the wait
		case <-deadline:
			return scan(), nil
		case <-failed:
			// The NIC is gone for good: report every kit socket in error
			// now rather than after TCP's timeouts.
			n := scan()
			for _, e := range kit {
				if fds[e.i].Revents == 0 {
					n++
				}
				fds[e.i].Revents |= unix.POLLERR
			}
			return n, nil
		}
	}
}

func kitEvents(ev int16) netstack.Events {
	var m netstack.Events
	if ev&(unix.POLLIN|pollRdNorm|unix.POLLPRI) != 0 {
		m |= netstack.EventIn
	}
	if ev&(unix.POLLOUT|pollWrNorm) != 0 {
		m |= netstack.EventOut
	}
	return m
}

func kitRevents(m netstack.Events, asked int16) int16 {
	var r int16
	if m&netstack.EventIn != 0 {
		r |= asked & (unix.POLLIN | pollRdNorm)
	}
	if m&netstack.EventOut != 0 {
		r |= asked & (unix.POLLOUT | pollWrNorm)
	}
	if m&netstack.EventErr != 0 {
		r |= unix.POLLERR
	}
	if m&netstack.EventHup != 0 {
		r |= unix.POLLHUP
	}
	return r
}

// Linux's POLLRDNORM and POLLWRNORM, which x/sys/unix lacks.
const (
	pollRdNorm = 0x40
	pollWrNorm = 0x100
)
