package localnet

import (
	"testing"
	"time"
)

func TestParseRateAndKill(t *testing.T) {
	if r, err := ParseRate("max"); err != nil || r != 0 {
		t.Errorf("max: %d %v", r, err)
	}
	if r, err := ParseRate("300"); err != nil || r != 300 {
		t.Errorf("300: %d %v", r, err)
	}
	for _, bad := range []string{"0", "-1", "fast"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("rate %q accepted", bad)
		}
	}
	if k, err := ParseKill("node3@10s"); err != nil || *k != (Kill{Node: 3, At: 10 * time.Second}) {
		t.Errorf("node3@10s: %+v %v", k, err)
	}
	for _, bad := range []string{"node3", "3@10s", "node@10s", "node3@soon"} {
		if _, err := ParseKill(bad); err == nil {
			t.Errorf("kill %q accepted", bad)
		}
	}
}
