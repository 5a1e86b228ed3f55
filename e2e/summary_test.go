package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// WriteSummary prints a line a container and the totals 'floe e2e gen'
// reports.
func TestNetworkWriteSummary(t *testing.T) {
	spec := testSpec()
	net, err := GenerateNetwork(filepath.Join(t.TempDir(), "net"), spec)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := net.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(net.Nodes)+1 || lines[0] != "floe-test-node0  172.30.9.10  api http://127.0.0.1:30000" ||
		!strings.HasPrefix(lines[len(lines)-1], "generated 4 validators and 0 followers in "+net.Dir) {
		t.Fatalf("summary:\n%s", b.String())
	}
}
