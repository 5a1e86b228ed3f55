package network

import (
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLogLimiter(10 * time.Second)
	l.setClock(func() time.Time { return now })

	if ok, n := l.allow("a"); !ok || n != 0 {
		t.Fatalf("first line: %v %d", ok, n)
	}
	for range 5 {
		if ok, _ := l.allow("a"); ok {
			t.Fatal("a second line within the interval")
		}
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another reason was limited")
	}
	now = now.Add(9 * time.Second)
	if ok, _ := l.allow("a"); ok {
		t.Fatal("a line before the interval elapsed")
	}
	now = now.Add(time.Second)
	if ok, n := l.allow("a"); !ok || n != 6 {
		t.Fatalf("after the interval: %v, suppressed %d, want true 6", ok, n)
	}
	if ok, _ := l.allow("a"); ok {
		t.Fatal("the window did not restart")
	}
	now = now.Add(time.Hour)
	if ok, n := l.allow("a"); !ok || n != 1 {
		t.Fatalf("after an hour: %v, suppressed %d, want true 1", ok, n)
	}
	if ok, n := l.allow("b"); !ok || n != 0 {
		t.Fatalf("reason b: %v, suppressed %d, want true 0", ok, n)
	}
}
