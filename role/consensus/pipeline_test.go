package consensus_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/collection"
	"github.com/floe-bft/floe/consensus/committee"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/genesis"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
	node "github.com/floe-bft/floe/role/consensus"
	"github.com/floe-bft/floe/role/execution"
)

// pipeNet is a testnet of a pipeline network: its consensus nodes, plus
// collection and execution members (keys only: the tests play them) of
// the genesis epoch, dealt into one cluster.
type pipeNet struct {
	*testnet
	main      model.ChainID
	chain     model.ChainID // cluster 0's chain of epoch 0
	cluster   *committee.Committee
	clusterSK []crypto.PrivateKey // by the cluster committee's (canonical) order
	executors []*genesis.NodeKeys
	others    []*genesis.NodeKeys // collectors, by genesis order
}

func newPipeNet(t testing.TB, consensusNodes, collectors, executors int) *pipeNet {
	tt, _ := t.(*testing.T)
	if tt == nil {
		tt = &testing.T{}
	}
	tn := newChainTestnet(tt, consensusNodes, "floe-pipe", 0, nil)
	pn := &pipeNet{testnet: tn}
	keys := func(seed uint64, name, role string) *genesis.NodeKeys {
		s := make([]byte, 32)
		binary.BigEndian.PutUint64(s, seed)
		k, err := genesis.KeysFromSeed(s)
		if err != nil {
			t.Fatal(err)
		}
		v, err := k.Validator(name, "127.0.0.1:1", 1)
		if err != nil {
			t.Fatal(err)
		}
		v.Role = role
		tn.gen.Validators = append(tn.gen.Validators, v)
		return k
	}
	for i := range collectors {
		pn.others = append(pn.others, keys(uint64(1000+i), fmt.Sprintf("collector%d", i), "collection"))
	}
	for i := range executors {
		pn.executors = append(pn.executors, keys(uint64(2000+i), fmt.Sprintf("executor%d", i), "execution"))
	}
	tn.gen.Params.Clusters = 1
	pn.main = model.MainChain(tn.gen.ChainID)
	pn.chain = model.ClusterChain(pn.main, 0, 0)
	scheme := crypto.BLS()
	var members []committee.Member
	byID := map[model.NodeID]crypto.PrivateKey{}
	for _, k := range pn.others {
		pk, err := scheme.DecodePublicKey(k.Staking.PublicKey().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		pop, err := k.Staking.ProvePossession()
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, committee.Member{ID: k.NodeID(), Weight: 1, StakingKey: pk, Possession: pop})
		byID[k.NodeID()] = k.Staking
	}
	c, err := committee.New(members, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	pn.cluster = c
	for _, m := range c.Members() {
		pn.clusterSK = append(pn.clusterSK, byID[m.ID])
	}
	return pn
}

// guarantee is a real guarantee by the cluster members at signers (their
// canonical indices) for collection id with reference ref on chain.
func (pn *pipeNet) guarantee(t testing.TB, id, ref model.Identifier, chain model.ChainID, signers ...int) *collection.Guarantee {
	set, err := model.NewSignerSet(pn.cluster.Size())
	if err != nil {
		t.Fatal(err)
	}
	var sigs [][]byte
	for _, i := range signers {
		sig, err := collection.SignShare(pn.clusterSK[i], id, ref, chain)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
		set.Set(i)
	}
	agg, err := crypto.BLS().AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	return &collection.Guarantee{CollectionID: id, Ref: ref, Chain: chain, Signers: set, Signature: agg}
}

// full is every cluster member's index.
func (pn *pipeNet) full() []int { return all(pn.cluster.Size()) }

func randomID() model.Identifier {
	var id model.Identifier
	rand.Read(id[:])
	return id
}

func (pn *pipeNet) finalized(i int) uint64 { return pn.nodes[i].Status().FinalizedHeight }

// genesisResult is the root of the network's result tree.
func (pn *pipeNet) genesisResult(t testing.TB) *payload.ExecutionResult {
	t.Helper()
	g, _ := pn.blockAt(t, 0, 0)
	root, err := ledger.GenesisRegisterRoot(pn.gen)
	if err != nil {
		t.Fatal(err)
	}
	return payload.GenesisResult(g.ID(), root)
}

// resultChain is a chain of results for the finalized blocks 1..h of node
// 0, from the genesis result: one chunk per guarantee of each block and
// the system chunk, with made-up states (seed) that chain.
func (pn *pipeNet) resultChain(t testing.TB, h uint64, seed byte) []*payload.ExecutionResult {
	t.Helper()
	prev := pn.genesisResult(t)
	var out []*payload.ExecutionResult
	for k := uint64(1); k <= h; k++ {
		b, pl := pn.blockAt(t, 0, k)
		r := &payload.ExecutionResult{Block: b.ID(), Height: k, Previous: prev.ID()}
		state := prev.EndState()
		for i := 0; i <= len(pl.Guarantees); i++ {
			c := payload.Chunk{StartState: state, EndState: model.Identifier{seed, byte(k), byte(i), byte(k >> 8)}}
			if i < len(pl.Guarantees) {
				c.CollectionID = pl.Guarantees[i].CollectionID
			}
			state = c.EndState
			r.Chunks = append(r.Chunks, c)
		}
		out = append(out, r)
		prev = r
	}
	return out
}

// getJSON decodes a GET answer.
func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (pn *pipeNet) blockAt(t testing.TB, i int, h uint64) (*model.Block, *payload.Payload) {
	b, err := pn.nodes[i].BlockByHeight(h)
	if err != nil {
		t.Fatalf("node %d block %d: %v", i, h, err)
	}
	pl, err := payload.Decode(b.Payload, payload.Limits{})
	if err != nil {
		t.Fatalf("node %d block %d payload: %v", i, h, err)
	}
	return b, pl
}

// included counts, on node i's finalized chain up to its finalized
// height, how often each collection was included; it fails the test on a
// block carrying transactions.
func (pn *pipeNet) included(t testing.TB, i int) map[model.Identifier]int {
	out := map[model.Identifier]int{}
	top := pn.finalized(i)
	for h := uint64(1); h <= top; h++ {
		_, pl := pn.blockAt(t, i, h)
		if len(pl.Transactions) > 0 {
			t.Fatalf("node %d: block %d carries %d transactions in a pipeline network", i, h, len(pl.Transactions))
		}
		for _, g := range pl.Guarantees {
			out[g.CollectionID]++
		}
	}
	return out
}

func (pn *pipeNet) waitIncluded(t *testing.T, i int, ids []model.Identifier) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d guarantees included on node %d", len(ids), i), time.Minute, func() bool {
		inc := pn.included(t, i)
		for _, id := range ids {
			if inc[id] == 0 {
				return false
			}
		}
		return true
	})
}

func (pn *pipeNet) waitBlocks(t *testing.T, n uint64) {
	t.Helper()
	target := pn.finalized(0) + n
	waitFor(t, fmt.Sprintf("finalized height %d", target), time.Minute, func() bool { return pn.finalized(0) >= target })
}

// checkOnce: on every node, every collection of ids is included exactly
// once and the nodes finalized the same chain.
func (pn *pipeNet) checkOnce(t *testing.T, ids []model.Identifier) {
	t.Helper()
	top := pn.finalized(0)
	for i := range pn.nodes {
		waitFor(t, "node caught up", time.Minute, func() bool { return pn.finalized(i) >= top })
	}
	pn.sameChain(top, all(len(pn.nodes))...)
	for i := range pn.nodes {
		inc := pn.included(t, i)
		for _, id := range ids {
			if inc[id] != 1 {
				t.Fatalf("node %d: collection %v included %d times", i, id, inc[id])
			}
		}
	}
}

func submitAll(t *testing.T, pn *pipeNet, gs []*collection.Guarantee) {
	t.Helper()
	for i, nd := range pn.nodes {
		resp, err := nd.SubmitGuarantees(context.Background(), gs)
		if err != nil || resp.Accepted != len(gs) {
			t.Fatalf("node %d: %+v, %v", i, resp, err)
		}
	}
}

// TestPipelineOrdersGuaranteesOnceAndCarriesReceipts: four consensus nodes
// of a pipeline network refuse transactions, include every guarantee
// handed to one node or to all of them exactly once (also when resubmitted
// after inclusion, and after every node restarted), carry a valid receipt
// as the result of the block that includes it, and refuse bad receipts.
func TestPipelineOrdersGuaranteesOnceAndCarriesReceipts(t *testing.T) {
	pn := newPipeNet(t, 4, 4, 2)
	pn.startAll()
	waitFor(t, "first finalized blocks", time.Minute, func() bool { return pn.finalized(0) >= 2 })

	// (e) Transactions are refused, in process and over HTTP, with the
	// clear error, and never enter a block (included checks every block).
	res := pn.nodes[0].SubmitTxs([][]byte{setTx(t, "k", "v")})
	if !errors.Is(res[0].Error, node.ErrPipelineNetwork) {
		t.Fatalf("transaction submitted to a pipeline consensus node: %v", res[0].Error)
	}
	srv := serveAPI(t, pn.nodes[0])
	resp, err := http.Post(srv.URL+"/v1/transactions", "application/json", strings.NewReader(`{"tx":"68656c6c6f"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.String(), "submit transactions to an access node") {
		t.Fatalf("POST /v1/transactions: %d %s", resp.StatusCode, body.String())
	}

	// (a) 20 guarantees to node 0 over HTTP, 20 in process to every node.
	refBlock, _ := pn.blockAt(t, 0, 1)
	var gs []*collection.Guarantee
	var ids []model.Identifier
	for i := range 40 {
		signers := pn.full()
		if i%2 == 0 {
			signers = signers[1:] // 3 of 4 is more than 2/3
		}
		g := pn.guarantee(t, randomID(), refBlock.ID(), pn.chain, signers...)
		gs, ids = append(gs, g), append(ids, g.CollectionID)
	}
	cl := client.New(srv.URL)
	gr, err := cl.SubmitGuarantees(context.Background(), gs[:20])
	if err != nil || gr.Accepted != 20 || len(gr.Rejected) != 0 {
		t.Fatalf("POST /v1/guarantees: %+v, %v", gr, err)
	}
	submitAll(t, pn, gs[20:])

	// (c) Receipts: executor 0 signs a chained result for every height
	// finalized everywhere; bad receipts are refused with their reason.
	h := pn.finalized(0)
	for i := range pn.nodes {
		h = min(h, pn.finalized(i))
	}
	exec := pn.executors[0]
	results := pn.resultChain(t, h, 0xab)
	var good []*payload.Receipt
	for _, r := range results {
		rc, err := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), r)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, rc)
	}
	last := results[len(results)-1]
	collector := pn.others[0]
	notExecutor, _ := payload.SignReceipt(collector.Staking, pn.main, collector.NodeID(), last)
	wrongBlock := *last
	wrongBlock.Block = model.Identifier{1}
	wrongBlockRc, _ := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), &wrongBlock)
	otherChain, _ := payload.SignReceipt(exec.Staking, model.MainChain("elsewhere"), exec.NodeID(), last)
	badSig := *good[len(good)-1]
	badSig.Result.Chunks = append([]payload.Chunk(nil), badSig.Result.Chunks...)
	badSig.Result.Chunks[0].Computation++
	aheadRes := *last
	aheadRes.Height = h + 1000
	ahead, _ := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), &aheadRes)
	extraChunk := *last
	extraChunk.Chunks = append([]payload.Chunk{{CollectionID: randomID(), StartState: last.StartState(), EndState: last.StartState()}}, last.Chunks...)
	wrongChunks, _ := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), &extraChunk)
	for name, c := range map[string]struct {
		r    *payload.Receipt
		want error
	}{
		"a collector's":          {notExecutor, node.ErrNotExecutor},
		"another block's":        {wrongBlockRc, node.ErrReceiptWrongBlock},
		"another chain's":        {otherChain, node.ErrBadReceiptSignature},
		"a tampered result":      {&badSig, node.ErrBadReceiptSignature},
		"a height not finalized": {ahead, node.ErrReceiptNotFinalized},
		"chunks not the block's": {wrongChunks, node.ErrReceiptChunks},
	} {
		if err := pn.nodes[1].SubmitReceipt(c.r); !errors.Is(err, c.want) {
			t.Errorf("receipt %s: %v, want %v", name, err, c.want)
		}
	}
	for name, c := range map[string]struct {
		r      *payload.Receipt
		status int
	}{"a collector's": {notExecutor, http.StatusForbidden}, "a tampered result": {&badSig, http.StatusBadRequest},
		"a height not finalized": {ahead, http.StatusConflict}} {
		if err := cl.SubmitReceipt(context.Background(), c.r); !client.IsStatus(err, c.status) {
			t.Errorf("POST /v1/receipts with %s: %v, want HTTP %d", name, err, c.status)
		}
	}
	// Newest first: a leader can include a receipt only once the one
	// below it is incorporated, so order of arrival does not matter.
	for i := len(good) - 1; i >= 0; i-- {
		if err := cl.SubmitReceipt(context.Background(), good[i]); err != nil {
			t.Fatalf("POST /v1/receipts: %v", err)
		}
		for _, nd := range pn.nodes[1:] {
			if err := nd.SubmitReceipt(good[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The same executor signing another result for a block it already
	// answered for is refused (its first stays).
	twice := pn.resultChain(t, 1, 0x77)[0]
	conflicting, _ := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), twice)
	if err := pn.nodes[1].SubmitReceipt(conflicting); !errors.Is(err, node.ErrConflictingReceipt) {
		t.Errorf("a second result for one block from one executor: %v", err)
	}
	// Executor 1 disagrees about height 1: its receipt chains onto the
	// genesis result, so it is incorporated, and the disagreement is
	// recorded.
	other := pn.executors[1]
	disagreeing, _ := payload.SignReceipt(other.Staking, pn.main, other.NodeID(), twice)
	for _, nd := range pn.nodes {
		if err := nd.SubmitReceipt(disagreeing); err != nil {
			t.Fatal(err)
		}
	}

	pn.waitIncluded(t, 0, ids)
	waitFor(t, "every receipt included", time.Minute, func() bool {
		return metric(t, pn.regs[0], "floe_receipts_included_total") >= float64(len(good)+1)
	})
	// Every receipt is carried once; each block's Result follows its
	// receipts (the first of the greatest height above its parent's), so
	// the results end at the last good receipt's.
	genesisResult := pn.genesisResult(t)
	want := genesisResult.Summary()
	carried := map[[2]uint64]int{}
	for hh := uint64(1); hh <= pn.finalized(0); hh++ {
		_, pl := pn.blockAt(t, 0, hh)
		for _, r := range pl.Receipts {
			who := uint64(0)
			if r.Executor == other.NodeID() {
				who = 1
			}
			carried[[2]uint64{who, r.Height()}]++
			if who == 0 && r.Result.ID() != results[r.Height()-1].ID() {
				t.Fatalf("block %d carries an unexpected receipt %+v", hh, r)
			}
		}
		want = payload.FromReceipts(want, pl.Receipts)
		if pl.Result == nil || *pl.Result != want {
			t.Fatalf("block %d carries result %+v, want %+v", hh, pl.Result, want)
		}
	}
	if want != last.Summary() {
		t.Fatalf("results end at %+v, want the last receipt's %+v", want, last.Summary())
	}
	for k, n := range carried {
		if n != 1 {
			t.Fatalf("executor %d's receipt for height %d carried %d times", k[0], k[1], n)
		}
	}
	if len(carried) != len(good)+1 {
		t.Fatalf("%d receipts carried, want %d", len(carried), len(good)+1)
	}
	d := pn.nodes[0].Disagreements()
	if len(d.Disagreements) != 1 || d.Disagreements[0].Height != 1 || d.Disagreements[0].Results[1].Result != twice.ID().Hex() {
		t.Fatalf("disagreements %+v, want executor 1's result for height 1", d)
	}
	var dresp node.DisagreementsResponse
	if err := getJSON(srv.URL+"/v1/execution/disagreements", &dresp); err != nil || len(dresp.Disagreements) != 1 {
		t.Fatalf("GET /v1/execution/disagreements: %+v, %v", dresp, err)
	}

	// Resubmitted after inclusion, to every node: known, never included again.
	submitAll(t, pn, gs)
	pn.waitBlocks(t, 8)
	pn.checkOnce(t, ids)
	if got := metric(t, pn.regs[0], "floe_guarantees_included_total"); got != float64(len(ids)) {
		t.Fatalf("floe_guarantees_included_total = %v, want %d", got, len(ids))
	}

	// (d) Every node restarts (pools and remembered collections gone, the
	// index rebuilt from the store); the same guarantees are resubmitted
	// to every node and still never included twice.
	before := pn.finalized(0)
	pn.stopAll()
	pn.startAll()
	waitFor(t, "blocks after the restart", time.Minute, func() bool { return pn.finalized(0) > before })
	submitAll(t, pn, gs)
	fresh := pn.guarantee(t, randomID(), refBlock.ID(), pn.chain, pn.full()...)
	submitAll(t, pn, []*collection.Guarantee{fresh})
	pn.waitIncluded(t, 0, []model.Identifier{fresh.CollectionID})
	pn.waitBlocks(t, 5)
	pn.checkOnce(t, append(ids, fresh.CollectionID))
	for i := range pn.nodes {
		if got := metric(t, pn.regs[i], "floe_guarantees_included_total"); got != 1 {
			t.Fatalf("node %d included %v guarantees since its restart, want only the fresh one", i, got)
		}
	}
	pn.stopAll()

	// (b), (e) and the receipt rules on the proposal side: a node opened on
	// node 0's store (not started, so the test owns its loop's state)
	// refuses blocks that break a rule.
	validateSide(t, pn, gs[0], good, results)
}

// validateSide checks Validate on a node opened (not started) on node 0's
// store, whose chain included included and the receipt good.
func validateSide(t *testing.T, pn *pipeNet, included *collection.Guarantee, good []*payload.Receipt, results []*payload.ExecutionResult) {
	reg := prometheus.NewRegistry()
	nd, err := node.New(pn.config(0, reg))
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Stop()
	top := nd.Status().FinalizedHeight
	parent, err := nd.BlockByHeight(top)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := nd.BlockByHeight(top - 1)
	if err != nil {
		t.Fatal(err)
	}
	parentPl, err := payload.Decode(parent.Payload, payload.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res := *parentPl.Result
	qc := &model.QC{View: parent.View, BlockID: parent.ID(), Signers: parent.QC.Signers, Signature: []byte{1}}
	block := func(pl *payload.Payload) *model.Block {
		raw := pl.Encode()
		b, err := model.NewBlock(model.Header{ChainID: parent.ChainID, View: parent.View + 1, Height: parent.Height + 1,
			ParentID: parent.ID(), QC: qc, ProposerID: pn.keys[0].NodeID(), Timestamp: parent.Timestamp,
			PayloadHash: model.PayloadHash(raw)}, raw)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	valid := pn.guarantee(t, randomID(), ref.ID(), pn.chain, pn.full()...)
	if err := nd.ValidatePayloadForTest(block(&payload.Payload{Result: &res, Guarantees: []*collection.Guarantee{valid}}), parent); err != nil {
		t.Fatalf("a block with a valid guarantee: %v", err)
	}
	forged := map[string]struct {
		g    *collection.Guarantee
		want error
	}{
		"two of four signers": {pn.guarantee(t, randomID(), ref.ID(), pn.chain, 0, 1), collection.ErrTooLittleWeight},
		"a bad signature": {func() *collection.Guarantee {
			g := pn.guarantee(t, randomID(), ref.ID(), pn.chain, pn.full()...)
			g.CollectionID = randomID()
			return g
		}(), collection.ErrBadSignature},
		"an unknown cluster chain": {pn.guarantee(t, randomID(), ref.ID(), model.ClusterChain(pn.main, 0, 7), pn.full()...), collection.ErrUnknownCluster},
		"an unknown reference":     {pn.guarantee(t, randomID(), randomID(), pn.chain, pn.full()...), collection.ErrUnknownRef},
		"an included collection":   {included, collection.ErrIncluded},
	}
	for name, c := range forged {
		b := block(&payload.Payload{Result: &res, Guarantees: []*collection.Guarantee{valid, c.g}})
		if err := nd.ValidatePayloadForTest(b, parent); !errors.Is(err, c.want) || !errors.Is(err, model.ErrInvalid) {
			t.Errorf("block with %s: %v, want %v", name, err, c.want)
		}
		if name == "an included collection" {
			continue // known: intake answers it as accepted, and pools nothing
		}
		resp, err := nd.SubmitGuarantees(context.Background(), []*collection.Guarantee{c.g})
		if err != nil || resp.Accepted != 0 || len(resp.Rejected) != 1 || !strings.Contains(resp.Rejected[0].Error, strings.TrimPrefix(c.want.Error(), collection.ErrInvalid.Error()+": ")) {
			t.Errorf("intake of %s: %+v, %v", name, resp, err)
		}
	}
	twice := block(&payload.Payload{Result: &res, Guarantees: []*collection.Guarantee{valid, valid}})
	if err := nd.ValidatePayloadForTest(twice, parent); !errors.Is(err, collection.ErrIncluded) {
		t.Errorf("a block with one collection twice: %v", err)
	}
	// (e) Transactions make a proposal invalid.
	if err := nd.ValidatePayloadForTest(block(&payload.Payload{Result: &res, Transactions: [][]byte{setTx(t, "a", "b")}}), parent); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("a block with a transaction: %v", err)
	}
	// Receipts: a new valid one (executor 1's for the last height, chained
	// on executor 0's incorporated result below it) gives the block's
	// result; the Result must follow the receipts; an included, unchained,
	// misplaced or collector's receipt is refused.
	exec := pn.executors[1]
	lastRes := results[len(results)-1]
	newer, err := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), lastRes)
	if err != nil {
		t.Fatal(err)
	}
	sameAsParent := res
	if err := nd.ValidatePayloadForTest(block(&payload.Payload{Result: &sameAsParent, Receipts: []*payload.Receipt{newer}}), parent); err != nil {
		t.Fatalf("a block with another executor's agreeing receipt: %v", err)
	}
	unchained := *lastRes
	unchained.Previous = randomID()
	unchainedRc, _ := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), &unchained)
	wrongStart := *lastRes
	wrongStart.Chunks = append([]payload.Chunk(nil), lastRes.Chunks...)
	wrongStart.Chunks[0].StartState[0] ^= 1
	if len(wrongStart.Chunks) > 1 {
		wrongStart.Chunks[0].EndState = wrongStart.Chunks[0].StartState
		for i := 1; i < len(wrongStart.Chunks); i++ {
			wrongStart.Chunks[i].StartState = wrongStart.Chunks[i-1].EndState
			wrongStart.Chunks[i].EndState = wrongStart.Chunks[i].StartState
		}
	} else {
		wrongStart.Chunks[0].EndState = wrongStart.Chunks[0].StartState
	}
	wrongStartRc, _ := payload.SignReceipt(exec.Staking, pn.main, exec.NodeID(), &wrongStart)
	collector := pn.others[1]
	byCollector, _ := payload.SignReceipt(collector.Staking, pn.main, collector.NodeID(), lastRes)
	other := payload.Result{Height: res.Height + 1, Root: model.Identifier{0x99}}
	for name, c := range map[string]struct {
		pl   *payload.Payload
		want error
	}{
		"an included receipt":               {&payload.Payload{Result: &res, Receipts: []*payload.Receipt{good[0]}}, node.ErrReceiptIncluded},
		"an unchained receipt":              {&payload.Payload{Result: &res, Receipts: []*payload.Receipt{unchainedRc}}, node.ErrReceiptUnchained},
		"a receipt starting elsewhere":      {&payload.Payload{Result: &res, Receipts: []*payload.Receipt{wrongStartRc}}, node.ErrReceiptChunks},
		"a collector's receipt":             {&payload.Payload{Result: &res, Receipts: []*payload.Receipt{byCollector}}, node.ErrNotExecutor},
		"a result its receipts do not give": {&payload.Payload{Result: &other, Receipts: []*payload.Receipt{newer}}, model.ErrInvalid},
		"a result without a receipt":        {&payload.Payload{Result: &other}, model.ErrInvalid},
		"one receipt twice in a block":      {&payload.Payload{Result: &res, Receipts: []*payload.Receipt{newer, newer}}, node.ErrReceiptIncluded},
	} {
		err := nd.ValidatePayloadForTest(block(c.pl), parent)
		if !errors.Is(err, c.want) || !errors.Is(err, model.ErrInvalid) {
			t.Errorf("block with %s: %v, want %v", name, err, c.want)
		}
	}
	// Forged guarantees are counted by reason (at intake and in blocks).
	for _, reason := range []string{"too_little_weight", "bad_signature", "unknown_cluster", "unknown_ref"} {
		if got := labelled(t, reg, "floe_guarantees_refused_total", "reason", reason); got != 2 {
			t.Errorf("floe_guarantees_refused_total{reason=%q} = %v, want 2", reason, got)
		}
	}
	nd.Stop()

	// Expiry and a full pool, on a node with a short expiry window and a
	// pool of two.
	pn.tune = func(cfg *node.Config) { cfg.GuaranteeExpiry, cfg.GuaranteePoolSize = 2, 2 }
	defer func() { pn.tune = nil }()
	reg2 := prometheus.NewRegistry()
	nd2, err := node.New(pn.config(0, reg2))
	if err != nil {
		t.Fatal(err)
	}
	defer nd2.Stop()
	old, err := nd2.BlockByHeight(top - 4)
	if err != nil {
		t.Fatal(err)
	}
	expired := pn.guarantee(t, randomID(), old.ID(), pn.chain, pn.full()...)
	resp, err := nd2.SubmitGuarantees(context.Background(), []*collection.Guarantee{expired})
	if err != nil || len(resp.Rejected) != 1 || !strings.Contains(resp.Rejected[0].Error, "guarantee expired") {
		t.Errorf("intake of an expired guarantee: %+v, %v", resp, err)
	}
	if err := nd2.ValidatePayloadForTest(block(&payload.Payload{Result: &res, Guarantees: []*collection.Guarantee{expired}}), parent); !errors.Is(err, collection.ErrGuaranteeExpired) {
		t.Errorf("a block with an expired guarantee: %v", err)
	}
	var three []*collection.Guarantee
	for range 3 {
		three = append(three, pn.guarantee(t, randomID(), parent.ID(), pn.chain, pn.full()...))
	}
	resp, err = nd2.SubmitGuarantees(context.Background(), three)
	if !errors.Is(err, node.ErrGuaranteePoolFull) || resp.Accepted != 2 {
		t.Errorf("three guarantees into a pool of two: %+v, %v", resp, err)
	}
	srv := serveAPI(t, nd2)
	httpResp, err := http.Post(srv.URL+"/v1/guarantees", "application/octet-stream", bytes.NewReader(collection.EncodeGuarantees(three[2:])))
	if err != nil {
		t.Fatal(err)
	}
	httpResp.Body.Close()
	if httpResp.StatusCode != http.StatusServiceUnavailable || httpResp.Header.Get("Retry-After") == "" {
		t.Errorf("POST /v1/guarantees to a full pool: %d, Retry-After %q", httpResp.StatusCode, httpResp.Header.Get("Retry-After"))
	}
	httpResp, err = http.Post(srv.URL+"/v1/guarantees", "application/json", bytes.NewReader(collection.EncodeGuarantees(three[2:])))
	if err != nil {
		t.Fatal(err)
	}
	httpResp.Body.Close()
	if httpResp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST /v1/guarantees as JSON: %d", httpResp.StatusCode)
	}
	if got := labelled(t, reg2, "floe_guarantees_refused_total", "reason", "expired"); got != 2 {
		t.Errorf("floe_guarantees_refused_total{reason=\"expired\"} = %v, want 2", got)
	}
}

// TestNoPipelineRoutesWithoutClusters: a network without clusters keeps
// taking transactions and serves neither pipeline endpoint.
func TestNoPipelineRoutesWithoutClusters(t *testing.T) {
	tn := newTestnet(t, 1)
	nd, err := node.New(tn.config(0, prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	defer nd.Stop()
	srv := serveAPI(t, nd)
	for _, path := range []string{"/v1/guarantees", "/v1/receipts"} {
		resp, err := http.Post(srv.URL+path, "application/octet-stream", bytes.NewReader([]byte{0, 0, 0, 1}))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s on a network without clusters: %d", path, resp.StatusCode)
		}
	}
	if res := nd.SubmitTxs([][]byte{setTx(t, "k", "v")}); res[0].Error != nil {
		t.Errorf("a transaction on a network without clusters: %v", res[0].Error)
	}
}

// TestPipelineIncludesAnExecutionNodesReceipts: a real execution node
// (role/execution) follows the four consensus nodes over their HTTP APIs
// and hands them receipts; the chain carries them in height order, each
// chaining onto the one below, with the state the execution node
// computed.
func TestPipelineIncludesAnExecutionNodesReceipts(t *testing.T) {
	pn := newPipeNet(t, 4, 4, 1)
	pn.startAll()
	var urls []string
	for _, nd := range pn.nodes {
		urls = append(urls, serveAPI(t, nd).URL)
	}
	ex, err := execution.New(execution.Config{Genesis: pn.gen, DataDir: t.TempDir(), StakingKey: pn.executors[0].Staking,
		Upstreams: urls, ReceiptTargets: urls, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ex.Stop()
	waitFor(t, "two receipts included", time.Minute, func() bool {
		return metric(t, pn.regs[0], "floe_receipts_included_total") >= 2
	})
	genesis := pn.genesisResult(t)
	carried := 0
	prev := map[uint64]*payload.ExecutionResult{0: genesis}
	for h := uint64(1); h <= pn.finalized(0); h++ {
		_, pl := pn.blockAt(t, 0, h)
		for _, r := range pl.Receipts {
			carried++
			if r.Executor != pn.executors[0].NodeID() || pl.Result.Height < r.Height() {
				t.Fatalf("block %d: receipt %+v, result %+v", h, r, pl.Result)
			}
			b, _ := pn.blockAt(t, 0, r.Height())
			if b.ID() != r.Result.Block {
				t.Fatalf("block %d carries a receipt for %v at height %d, the chain has %v", h, r.Result.Block, r.Height(), b.ID())
			}
			// Receipts come in height order and chain.
			p := prev[r.Height()-1]
			if p == nil || r.Result.Previous != p.ID() {
				t.Fatalf("block %d carries the receipt of height %d before one of height %d", h, r.Height(), r.Height()-1)
			}
			prev[r.Height()] = &r.Result
			// No guarantee was ordered: executing the chain leaves the
			// genesis state, whatever the height.
			if r.Result.EndState() != genesis.EndState() || len(r.Result.Chunks) != 1 {
				t.Fatalf("receipt for height %d ends at %v in %d chunks; executing empty blocks gives the genesis state %v in the system chunk",
					r.Height(), r.Result.EndState(), len(r.Result.Chunks), genesis.EndState())
			}
		}
	}
	if carried < 2 {
		t.Fatalf("%d finalized blocks carry a receipt", carried)
	}
}
