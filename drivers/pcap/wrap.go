package pcap

import (
	"io"

	"github.com/goskit/goskit/drivers/netdev"
)

// Recorder is a device that records its traffic; Wrap returns one.
type Recorder interface {
	netdev.Device
	// Unwrap returns the recorded device.
	Unwrap() netdev.Device
	// Err returns the first error writing the capture, if any. Recording
	// stops after it; the device keeps working.
	Err() error
}

// Wrap returns a device that behaves as dev and records every frame it
// transmits (when the transmit succeeds) and receives into a capture file
// written to w; the file header is written before Wrap returns. The
// returned device has the same Info, Features included, and offers
// netdev.BatchTransmitter and netdev.BatchReceiver exactly when dev does.
// Closing it closes dev; w is the caller's to flush and close.
//
// A failure to write the capture does not fail the device's calls: Err
// reports it.
func Wrap(dev netdev.Device, w io.Writer, opts Options) (Recorder, error) {
	pw, err := NewWriter(w, opts)
	if err != nil {
		return nil, err
	}
	r := &recorder{dev: dev, w: pw, complete: opts.CompleteChecksums}
	bt, isBT := dev.(netdev.BatchTransmitter)
	br, isBR := dev.(netdev.BatchReceiver)
	switch {
	case isBT && isBR:
		return &recorderTxRx{r, batchTx{r, bt}, batchRx{r, br}}, nil
	case isBT:
		return &recorderTx{r, batchTx{r, bt}}, nil
	case isBR:
		return &recorderRx{r, batchRx{r, br}}, nil
	}
	return r, nil
}

// The four shapes of a recorder, one per combination of optional
// interfaces, so a type assertion on the wrapper answers as it would on the
// device.
type (
	recorderTx struct {
		*recorder
		batchTx
	}
	recorderRx struct {
		*recorder
		batchRx
	}
	recorderTxRx struct {
		*recorder
		batchTx
		batchRx
	}
)

var (
	_ Recorder                = (*recorder)(nil)
	_ netdev.BatchTransmitter = (*recorderTx)(nil)
	_ netdev.BatchReceiver    = (*recorderRx)(nil)
	_ netdev.BatchTransmitter = (*recorderTxRx)(nil)
	_ netdev.BatchReceiver    = (*recorderTxRx)(nil)
)

type recorder struct {
	dev      netdev.Device
	w        *Writer
	complete bool
}

func (r *recorder) Info() netdev.Info     { return r.dev.Info() }
func (r *recorder) Close() error          { return r.dev.Close() }
func (r *recorder) Unwrap() netdev.Device { return r.dev }
func (r *recorder) Err() error            { return r.w.Err() }

// record writes one frame of n bytes held in segs.
func (r *recorder) record(segs [][]byte, n int, off netdev.Offload) {
	var fix func([]byte)
	if r.complete && off.Flags&netdev.OffloadNeedsChecksum != 0 {
		fix = func(frame []byte) { netdev.CompleteChecksum(frame, off) }
	}
	// Record only the frame's n bytes of the posted buffers.
	var cut [8][]byte
	parts := cut[:0]
	for _, s := range segs {
		if n <= 0 {
			break
		}
		s = s[:min(len(s), n)]
		parts = append(parts, s)
		n -= len(s)
	}
	r.w.writeFrame(parts, fix)
}

func (r *recorder) Transmit(f *netdev.Frame) error {
	err := r.dev.Transmit(f)
	if err == nil {
		r.record(f.Segs, f.Len(), f.Offload)
	}
	return err
}

func (r *recorder) Receive(bufs [][]byte) (int, netdev.Offload, error) {
	n, off, err := r.dev.Receive(bufs)
	if err == nil {
		r.record(bufs, n, off)
	}
	return n, off, err
}

type batchTx struct {
	r  *recorder
	bt netdev.BatchTransmitter
}

func (b batchTx) TransmitBatch(frames []netdev.Frame) (int, error) {
	n, err := b.bt.TransmitBatch(frames)
	for i := range frames[:n] {
		b.r.record(frames[i].Segs, frames[i].Len(), frames[i].Offload)
	}
	return n, err
}

type batchRx struct {
	r  *recorder
	br netdev.BatchReceiver
}

func (b batchRx) ReceiveBatch(slots []netdev.RxSlot) (int, error) {
	n, err := b.br.ReceiveBatch(slots)
	for i := range slots[:n] {
		b.r.record(slots[i].Bufs, slots[i].N, slots[i].Offload)
	}
	return n, err
}
