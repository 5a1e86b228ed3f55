package consensus

import (
	"bytes"
	"testing"
)

func TestRoleWireRoundTrip(t *testing.T) {
	m, err := decodeRoleMessage(encodeTxs([][]byte{[]byte("a"), []byte("bb")}))
	if err != nil {
		t.Fatal(err)
	}
	if m.kind != kindTxs || len(m.txs) != 2 || !bytes.Equal(m.txs[1], []byte("bb")) {
		t.Fatalf("txs decoded as %+v", m)
	}
	for _, bad := range [][]byte{nil, {0}, {99, 1}, {kindTxs, 0xff, 0xff, 0xff, 0xff}, append(encodeTxs(nil), 0),
		{kindServiceEvent, 1}} {
		if _, err := decodeRoleMessage(bad); err == nil {
			t.Fatalf("garbage %x decoded", bad)
		}
	}
}

// FuzzDecodeRoleMessage: any frame a peer sends decodes or fails with an
// error; never a panic, never an allocation beyond what the frame holds.
func FuzzDecodeRoleMessage(f *testing.F) {
	f.Add(encodeTxs([][]byte{[]byte("tx")}))
	f.Add([]byte{kindServiceEvent, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRoleMessage(b)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}
