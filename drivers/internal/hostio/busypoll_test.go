package hostio

import (
	"testing"
	"time"
)

func TestBusyPoll(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		spins  bool
	}{
		{"zero never spins", 0, false},
		{"negative never spins", -time.Second, false},
		{"positive spins", time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBusyPoll(tt.window)
			b.Start()
			begin := time.Now()
			if got := b.Again(); got != tt.spins {
				t.Fatalf("first Again = %v, want %v", got, tt.spins)
			}
			if !tt.spins {
				return
			}
			// It stops once the window has passed, and not before.
			n := 0
			for b.Again() {
				n++
				if n > 10_000_000 {
					t.Fatal("Again never ended")
				}
			}
			if took := time.Since(begin); took < tt.window {
				t.Errorf("spun %v, want about %v", took, tt.window)
			}
			// Start opens a new window.
			b.Start()
			if !b.Again() {
				t.Error("Again after Start = false, want true")
			}
		})
	}
}
