package node

import "github.com/floe-bft/floe/consensus/model"

// StoredForTest reports whether a block with this ID is in the node's
// store (any state: finalized or certified above it).
func (n *Node) StoredForTest(id model.Identifier) bool {
	_, err := n.led.Store().Block(id)
	return err == nil
}
