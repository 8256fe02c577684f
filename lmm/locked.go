package lmm

import (
	"io"
	"sync"
)

// Locked wraps an LMM with a mutex, for concurrent use: the OSKit's answer
// to a pure component in an impure environment. Every method takes the lock
// for its duration and never blocks otherwise.
type Locked struct {
	mu sync.Mutex
	m  *LMM
}

// NewLocked returns a Locked wrapping m, which the caller must not use
// directly afterwards except inside Do.
func NewLocked(m *LMM) *Locked { return &Locked{m: m} }

// Do runs f with the lock held, for compound operations (reserve, then add).
func (l *Locked) Do(f func(m *LMM)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.m)
}

// AddRegion is LMM.AddRegion under the lock.
func (l *Locked) AddRegion(min, size uint64, flags Flags, pri int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.AddRegion(min, size, flags, pri)
}

// AddFree is LMM.AddFree under the lock.
func (l *Locked) AddFree(addr, size uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.AddFree(addr, size)
}

// RemoveFree is LMM.RemoveFree under the lock.
func (l *Locked) RemoveFree(addr, size uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.RemoveFree(addr, size)
}

// Alloc is LMM.Alloc under the lock.
func (l *Locked) Alloc(size uint64, flags Flags) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Alloc(size, flags)
}

// AllocAligned is LMM.AllocAligned under the lock.
func (l *Locked) AllocAligned(size uint64, flags Flags, alignBits uint, alignOffset uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.AllocAligned(size, flags, alignBits, alignOffset)
}

// AllocGen is LMM.AllocGen under the lock.
func (l *Locked) AllocGen(size uint64, flags Flags, alignBits uint, alignOffset, min, windowSize uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.AllocGen(size, flags, alignBits, alignOffset, min, windowSize)
}

// AllocPage is LMM.AllocPage under the lock.
func (l *Locked) AllocPage(flags Flags) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.AllocPage(flags)
}

// Free is LMM.Free under the lock.
func (l *Locked) Free(addr, size uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Free(addr, size)
}

// FreePage is LMM.FreePage under the lock.
func (l *Locked) FreePage(addr uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.FreePage(addr)
}

// Avail is LMM.Avail under the lock.
func (l *Locked) Avail(flags Flags) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Avail(flags)
}

// FindFree is LMM.FindFree under the lock.
func (l *Locked) FindFree(addr uint64) (Block, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.FindFree(addr)
}

// Stats is LMM.Stats under the lock.
func (l *Locked) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Stats()
}

// Check is LMM.Check under the lock.
func (l *Locked) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Check()
}

// Regions is LMM.Regions under the lock.
func (l *Locked) Regions() []Region {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Regions()
}

// Dump is LMM.Dump under the lock; w must not call back into l.
func (l *Locked) Dump(w io.Writer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Dump(w)
}
