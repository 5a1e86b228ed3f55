package localnet

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/genesis"
)

func noEnv(string) (string, bool) { return "", false }

// The homes ConfigHomes writes are what 'floe start' and 'floe follow'
// read: every node's configuration names its own addresses and log level.
func TestConfigHomes(t *testing.T) {
	p := genesis.DefaultParams()
	net, err := Setup(Options{Dir: filepath.Join(t.TempDir(), "tn"), Nodes: 3, Followers: 1, LogLevel: "warn", Params: &p, Homes: ConfigHomes{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range net.Nodes {
		cfg, err := config.Load(tn.Dir, noEnv)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.API.Listen != tn.APIAddr || cfg.Debug.Listen != tn.DebugAddr || cfg.Log.Level != "warn" {
			t.Fatalf("%s config %+v", tn.Name, cfg)
		}
		g, err := genesis.Load(filepath.Join(tn.Dir, config.Dir, config.GenesisFile))
		if err != nil || g.ChainID != ChainID {
			t.Fatalf("%s genesis: %v", tn.Name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(net.Nodes[0].Dir, config.Dir, config.KeysFile)); err != nil {
		t.Fatal(err)
	}
}

func TestSummaryText(t *testing.T) {
	var b bytes.Buffer
	(&Summary{Nodes: 4, DurationS: 10, Rate: "300", TxSize: 250, SubmittedTx: 3000, FinalizedTx: 2990, BlockTx: 2990,
		FinalizedBlocks: 20, Killed: "node3", KilledAtS: 5, Error: "boom", Dir: "tn"}).WriteText(&b)
	for _, want := range []string{"testnet summary: 4 nodes, 10.0s, rate 300, 250-byte transactions\n",
		"  submitted     3000 tx accepted by mempools\n", "  kill          node3 killed at 5.0 s", "  ERROR: boom\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "WARNING") || strings.Contains(b.String(), "interrupted") {
		t.Errorf("summary:\n%s", b.String())
	}
}
