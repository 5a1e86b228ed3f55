package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"testing"
)

// TuneGC sets the defaults only where the Go runtime's own variables are
// unset. The settings are process-wide, so the test puts back what it found.
func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	TuneGC(noEnv)
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Errorf("GC percent %d, want %d", got, DefaultGCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != DefaultMemoryLimit {
		t.Errorf("memory limit %d, want %d", got, DefaultMemoryLimit)
	}

	TuneGC(func(k string) (string, bool) { return "", k == "GOGC" || k == "GOMEMLIMIT" })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit changed to %d", got)
	}
}

func TestP2PListen(t *testing.T) {
	home := initHome(t)
	c := &Node{}
	if got := c.P2PListen(home); got != "127.0.0.1:30001" {
		t.Errorf("from validator.json: %q", got)
	}
	c.P2P.Listen = "127.0.0.1:1"
	if got := c.P2PListen(home); got != "127.0.0.1:1" {
		t.Errorf("p2p.listen: %q", got)
	}
	if err := os.Remove(filepath.Join(home, Dir, ValidatorFile)); err != nil {
		t.Fatal(err)
	}
	if got := (&Node{}).P2PListen(home); got != "" {
		t.Errorf("without validator.json: %q, want empty (the genesis entry)", got)
	}
}

func TestFollowerUpstreams(t *testing.T) {
	c := &Node{}
	if _, err := c.FollowerUpstreams(nil); !errors.Is(err, ErrNoUpstream) {
		t.Errorf("none: %v", err)
	}
	c.Follower.Upstreams = []string{"http://a"}
	if got, err := c.FollowerUpstreams(nil); err != nil || !reflect.DeepEqual(got, []string{"http://a"}) {
		t.Errorf("configured: %v %v", got, err)
	}
	if got, err := c.FollowerUpstreams([]string{"http://b"}); err != nil || !reflect.DeepEqual(got, []string{"http://b"}) {
		t.Errorf("flags replace the configured: %v %v", got, err)
	}
	c.Follower.MaxUncertified = -1
	if _, err := c.FollowerUpstreams(nil); !errors.Is(err, ErrNegativeFollower) {
		t.Errorf("negative max_uncertified: %v", err)
	}
}
