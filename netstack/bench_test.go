package netstack_test

import (
	"context"
	"fmt"
	"github.com/goskit/goskit/netstack"
	"io"
	"testing"
	"time"

	"github.com/goskit/goskit/drivers/wire"
)

// BenchmarkWireTCP measures TCP bulk transfer between two stacks over the
// in-memory wire: the embedded default's data path without libc.
func BenchmarkWireTCP(b *testing.B) {
	for _, q := range []int{0, 1000} {
		b.Run(fmt.Sprintf("txqueue=%d", q), func(b *testing.B) { benchWireTCP(b, netstack.Config{TxQueueLen: q}) })
	}
}

func benchWireTCP(b *testing.B, cfg netstack.Config) {
	a, s := pairConfig(b, wire.Config{}, cfg)
	l, err := s.Listen("tcp", "198.18.0.2:5001")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const chunk = 64 << 10
	b.SetBytes(chunk)
	done := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- -1
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, "tcp", "198.18.0.2:5001")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, chunk)
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	if n := <-done; n != int64(b.N)*chunk {
		b.Fatalf("received %d bytes, want %d", n, int64(b.N)*chunk)
	}
}

// BenchmarkWireRoundTrip measures one-byte TCP round trips over the wire.
func BenchmarkWireRoundTrip(b *testing.B) {
	for _, q := range []int{0, 1000} {
		b.Run(fmt.Sprintf("txqueue=%d", q), func(b *testing.B) { benchWireRoundTrip(b, netstack.Config{TxQueueLen: q}) })
	}
	b.Run("ackdelay=50us", func(b *testing.B) { benchWireRoundTrip(b, netstack.Config{AckDelay: 50 * time.Microsecond}) })
}

func benchWireRoundTrip(b *testing.B, cfg netstack.Config) {
	a, s := pairConfig(b, wire.Config{}, cfg)
	l, err := s.Listen("tcp", "198.18.0.2:5002")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var x [1]byte
		for {
			if _, err := c.Read(x[:]); err != nil {
				return
			}
			if _, err := c.Write(x[:]); err != nil {
				return
			}
		}
	}()
	c := dial(b, a, "198.18.0.2:5002")
	c.(interface{ SetNoDelay(bool) error }).SetNoDelay(true)
	var x [1]byte
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(x[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(x[:]); err != nil {
			b.Fatal(err)
		}
	}
}
