package consensus

import "time"

// gossipBatchMax bounds one gossip frame.
const gossipBatchMax = 4096

// gossipLoop sends transactions clients submitted to this node to every
// peer, batched every GossipInterval so thousands of transactions per
// second cost a few frames. Transactions received by gossip are not
// re-gossiped: the submitting node reaches every peer directly.
func (n *Node) gossipLoop() {
	t := time.NewTicker(n.cfg.GossipInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			for {
				batch := n.outbox.drain(gossipBatchMax)
				if len(batch) == 0 {
					break
				}
				n.transport.Broadcast(encodeTxs(batch))
			}
		}
	}
}

// runLedger runs the ledger's executor until the node stops; its error
// stops the node.
func (n *Node) runLedger() {
	if err := n.led.Run(n.ctx); err != nil {
		n.fatal(err)
	}
}
