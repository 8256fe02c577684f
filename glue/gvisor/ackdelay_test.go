package gvisor

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/netdev"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// tcpFrame builds an Ethernet frame holding a TCP segment with gVisor's
// header package: IPv4 or IPv6, the given flags, TCP options and payload.
func tcpFrame(v6 bool, flags header.TCPFlags, ack uint32, opts []byte, payload int) []byte {
	tcpLen := header.TCPMinimumSize + len(opts)
	ipLen := header.IPv4MinimumSize
	if v6 {
		ipLen = header.IPv6MinimumSize
	}
	b := make([]byte, header.EthernetMinimumSize+ipLen+tcpLen+payload)
	eth := header.Ethernet(b)
	if v6 {
		eth.Encode(&header.EthernetFields{Type: header.IPv6ProtocolNumber})
		header.IPv6(b[header.EthernetMinimumSize:]).Encode(&header.IPv6Fields{
			PayloadLength:     uint16(tcpLen + payload),
			TransportProtocol: header.TCPProtocolNumber,
			HopLimit:          64,
			SrcAddr:           tcpip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 15: 1}),
			DstAddr:           tcpip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 15: 2}),
		})
	} else {
		eth.Encode(&header.EthernetFields{Type: header.IPv4ProtocolNumber})
		header.IPv4(b[header.EthernetMinimumSize:]).Encode(&header.IPv4Fields{
			TotalLength: uint16(ipLen + tcpLen + payload),
			TTL:         64,
			Protocol:    uint8(header.TCPProtocolNumber),
			SrcAddr:     tcpip.AddrFrom4([4]byte{198, 18, 0, 1}),
			DstAddr:     tcpip.AddrFrom4([4]byte{198, 18, 0, 2}),
		})
	}
	t := header.TCP(b[header.EthernetMinimumSize+ipLen:])
	t.Encode(&header.TCPFields{SrcPort: 5002, DstPort: 40000, AckNum: ack, DataOffset: uint8(tcpLen), Flags: flags, WindowSize: 1000})
	copy(t[header.TCPMinimumSize:], opts)
	return b
}

var (
	tsOpt   = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	sackOpt = []byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}
)

func TestParseTCPFrame(t *testing.T) {
	fragment := tcpFrame(false, header.TCPFlagAck, 1, nil, 0)
	binary.BigEndian.PutUint16(fragment[header.EthernetMinimumSize+6:], 0x2000) // MF
	extHeader := tcpFrame(true, header.TCPFlagAck, 1, nil, 0)
	extHeader[header.EthernetMinimumSize+6] = 0 // hop-by-hop options first
	badTS := tcpFrame(false, header.TCPFlagAck, 1, []byte{8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, 0)
	tests := []struct {
		name    string
		frame   []byte
		ok      bool
		bareAck bool
		payload int
	}{
		{"IPv4 bare ACK", tcpFrame(false, header.TCPFlagAck, 7, nil, 0), true, true, 0},
		{"IPv6 bare ACK with timestamps", tcpFrame(true, header.TCPFlagAck, 7, tsOpt, 0), true, true, 0},
		{"ACK with SACK blocks", tcpFrame(false, header.TCPFlagAck, 7, sackOpt, 0), true, false, 0},
		{"ACK carrying data", tcpFrame(false, header.TCPFlagAck|header.TCPFlagPsh, 7, tsOpt, 1), true, false, 1},
		{"IPv6 data", tcpFrame(true, header.TCPFlagAck, 7, nil, 100), true, false, 100},
		{"FIN", tcpFrame(false, header.TCPFlagAck|header.TCPFlagFin, 7, nil, 0), true, false, 0},
		{"malformed timestamps option", badTS, false, false, 0},
		{"IPv4 fragment", fragment, false, false, 0},
		{"IPv6 extension header", extHeader, false, false, 0},
		{"truncated", tcpFrame(false, header.TCPFlagAck, 7, nil, 0)[:40], false, false, 0},
		{"empty", nil, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := parseTCPFrame(tc.frame, len(tc.frame))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if s.ack != 7 || s.flow.sport != 5002 || s.flow.dport != 40000 || s.payload != tc.payload || s.bareAck() != tc.bareAck {
				t.Errorf("got %+v (bare ACK %v), want ack 7, ports 5002->40000, payload %d, bare ACK %v", s, s.bareAck(), tc.payload, tc.bareAck)
			}
		})
	}
	// The two directions of a connection are different flows; the same
	// direction's segments share one.
	a, _ := parseTCPFrame(tcpFrame(false, header.TCPFlagAck, 1, nil, 0), 54)
	b, _ := parseTCPFrame(tcpFrame(false, header.TCPFlagAck, 2, nil, 5), 59)
	if a.flow != b.flow {
		t.Errorf("one direction, two flows: %+v, %+v", a.flow, b.flow)
	}
}

func TestSeqAfter(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want bool
	}{{2, 1, true}, {1, 2, false}, {1, 1, false}, {0, 0xffffffff, true}, {0xffffffff, 0, false}} {
		if got := seqAfter(tc.a, tc.b); got != tc.want {
			t.Errorf("seqAfter(%#x, %#x) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// FuzzParseTCPFrame feeds arbitrary frames to the parser the delayed-ACK
// logic reads every outgoing frame with: it must never panic, and what it
// accepts must agree with gVisor's own header accessors.
func FuzzParseTCPFrame(f *testing.F) {
	f.Add(tcpFrame(false, header.TCPFlagAck, 7, tsOpt, 0))
	f.Add(tcpFrame(true, header.TCPFlagAck, 7, sackOpt, 3))
	f.Add(tcpFrame(false, header.TCPFlagSyn, 0, []byte{2, 4, 5, 0xb4}, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxAckFrame {
			b = b[:maxAckFrame]
		}
		s, ok := parseTCPFrame(b, len(b))
		if !ok {
			return
		}
		if s.payload < 0 {
			t.Fatalf("negative payload %d", s.payload)
		}
		ipOff := header.EthernetMinimumSize
		var tcp header.TCP
		if s.flow.v6 {
			tcp = header.TCP(b[ipOff+header.IPv6MinimumSize:])
		} else {
			tcp = header.TCP(b[ipOff+int(header.IPv4(b[ipOff:]).HeaderLength()):])
		}
		if tcp.AckNumber() != s.ack || tcp.SourcePort() != s.flow.sport || tcp.DestinationPort() != s.flow.dport || uint8(tcp.Flags()) != s.flags {
			t.Fatalf("parsed %+v, gVisor reads ack %d ports %d->%d flags %#x", s, tcp.AckNumber(), tcp.SourcePort(), tcp.DestinationPort(), tcp.Flags())
		}
	})
}

// frameLog is a device that records the bytes of every frame transmitted.
type frameLog struct {
	mu     sync.Mutex
	frames [][]byte
}

func (d *frameLog) Info() netdev.Info {
	return netdev.Info{Name: "log", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, MTU: 1500}
}

func (d *frameLog) Transmit(f *netdev.Frame) error {
	var b []byte
	for _, s := range f.Segs {
		b = append(b, s...)
	}
	d.mu.Lock()
	d.frames = append(d.frames, b)
	d.mu.Unlock()
	return nil
}

func (d *frameLog) Receive([][]byte) (int, netdev.Offload, error) {
	return 0, netdev.Offload{}, netdev.ErrClosed
}
func (d *frameLog) Close() error { return nil }

func (d *frameLog) sent() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.frames)
}

// onFlow gives a frame made by tcpFrame its own source port, a flow of its
// own.
func onFlow(b []byte, sport uint16) []byte {
	binary.BigEndian.PutUint16(b[header.EthernetMinimumSize+header.IPv4MinimumSize:], sport)
	return b
}

// TestAckDelaySequence drives WritePackets with crafted frames of two
// connections and checks what reaches the device, frame by frame.
func TestAckDelaySequence(t *testing.T) {
	const a, b = 1000, 2000 // the two flows' source ports
	ack := func(port uint16, n uint32) []byte { return onFlow(tcpFrame(false, header.TCPFlagAck, n, nil, 0), port) }
	data := func(port uint16, n uint32) []byte {
		return onFlow(tcpFrame(false, header.TCPFlagAck|header.TCPFlagPsh, n, nil, 1), port)
	}
	rst := func(port uint16) []byte { return onFlow(tcpFrame(false, header.TCPFlagRst, 0, nil, 0), port) }
	dupAck := ack(a, 100)
	tests := []struct {
		name  string
		calls [][][]byte // the packet lists of successive WritePackets calls
		want  [][]byte   // what the device must have sent, in order
	}{
		{
			name:  "reply carries the ACK",
			calls: [][][]byte{{data(a, 100)}, {ack(a, 101)}, {data(a, 101)}},
			want:  [][]byte{data(a, 100), data(a, 101)},
		},
		{
			name:  "a newer ACK replaces the held one",
			calls: [][][]byte{{data(a, 100)}, {ack(a, 101)}, {ack(a, 102)}, {data(a, 102)}},
			want:  [][]byte{data(a, 100), data(a, 102)},
		},
		{
			name:  "another flow's ACK sends the held one first",
			calls: [][][]byte{{data(a, 100)}, {data(b, 100)}, {ack(a, 101)}, {ack(b, 101)}, {data(b, 101)}},
			want:  [][]byte{data(a, 100), data(b, 100), ack(a, 101), data(b, 101)},
		},
		{
			name:  "a segment without ACK sends the held one first",
			calls: [][][]byte{{data(a, 100)}, {ack(a, 101)}, {rst(a)}},
			want:  [][]byte{data(a, 100), ack(a, 101), rst(a)},
		},
		{
			name:  "duplicate ACKs are never held",
			calls: [][][]byte{{data(a, 100)}, {dupAck}, {dupAck}},
			want:  [][]byte{data(a, 100), dupAck, dupAck},
		},
		{
			name:  "an ACK of a flow never seen is not held",
			calls: [][][]byte{{ack(b, 5)}},
			want:  [][]byte{ack(b, 5)},
		},
		{
			name:  "an ACK of bulk data is not held",
			calls: [][][]byte{{data(a, 100)}, {ack(a, 100+64<<10)}},
			want:  [][]byte{data(a, 100), ack(a, 100+64<<10)},
		},
		{
			name:  "SACK blocks are never held",
			calls: [][][]byte{{data(a, 100)}, {onFlow(tcpFrame(false, header.TCPFlagAck, 101, sackOpt, 0), a)}},
			want:  [][]byte{data(a, 100), onFlow(tcpFrame(false, header.TCPFlagAck, 101, sackOpt, 0), a)},
		},
		{
			name:  "in one batch only the last may wait",
			calls: [][][]byte{{data(a, 100)}, {ack(a, 101), data(b, 7), ack(a, 102)}, {data(a, 102)}},
			want:  [][]byte{data(a, 100), ack(a, 101), data(b, 7), data(a, 102)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := &frameLog{}
			e, err := New(dev, Options{AckDelay: time.Hour}) // only a later segment releases
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for _, call := range tc.calls {
				var list stack.PacketBufferList
				for _, f := range call {
					list.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f)}))
				}
				n, terr := e.WritePackets(list)
				list.DecRef()
				if terr != nil || n != len(call) {
					t.Fatalf("WritePackets = %d, %v; want %d, nil", n, terr, len(call))
				}
			}
			if got := dev.sent(); !slices.EqualFunc(got, tc.want, bytes.Equal) {
				t.Errorf("device got %d frames, want %d:\ngot  %x\nwant %x", len(got), len(tc.want), got, tc.want)
			}
		})
	}
}

// TestAckDelayTimer checks that a held ACK nothing replaces goes out when
// its delay ends, and that Close stops it.
func TestAckDelayTimer(t *testing.T) {
	dev := &frameLog{}
	e, err := New(dev, Options{AckDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	write := func(f []byte) {
		var list stack.PacketBufferList
		list.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f)}))
		e.WritePackets(list)
		list.DecRef()
	}
	write(tcpFrame(false, header.TCPFlagAck|header.TCPFlagPsh, 100, nil, 1))
	held := tcpFrame(false, header.TCPFlagAck, 101, nil, 0)
	write(held)
	deadline := time.Now().Add(10 * time.Second) // bounded wait, not a timing check
	for len(dev.sent()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := dev.sent(); len(got) != 2 || !bytes.Equal(got[1], held) {
		t.Fatalf("after the delay the device has %x, want the data and then %x", got, held)
	}
	if d, el := e.Stats().TxAcksDelayed.Load(), e.Stats().TxAcksElided.Load(); d != 1 || el != 0 {
		t.Errorf("stats: %d delayed, %d elided; want 1, 0", d, el)
	}
	// Held at Close: never sent.
	write(tcpFrame(false, header.TCPFlagAck|header.TCPFlagPsh, 101, nil, 1))
	write(tcpFrame(false, header.TCPFlagAck, 102, nil, 0))
	e.Close()
	time.Sleep(20 * time.Millisecond)
	if got := dev.sent(); len(got) != 3 {
		t.Errorf("after Close the device has %d frames, want 3 (the held ACK dropped)", len(got))
	}
}
