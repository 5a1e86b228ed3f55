package access

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/app/merkle"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/ledger"
	"github.com/floe-bft/floe/payload"
	"github.com/floe-bft/floe/state"
	"github.com/floe-bft/floe/storage"
)

// State reads are proven, never relayed: an access node holds no
// execution state, so it asks the epoch's execution nodes for a register
// at the height of the Result a finalized block carries and serves an
// answer only once its proof verifies against that Result's root. Which
// executor answered does not matter; what is trusted is the Result, and
// that is one executor's signed word until sealing exists
// (docs/pipeline.md, "Reads in a pipeline network").

var (
	// ErrNoResult: no finalized block names an executed result yet (the
	// chain's Result is still the genesis state at height 0).
	ErrNoResult = fmt.Errorf("%w: no finalized block names an executed result yet", api.ErrStateUnavailable)
	// ErrUnproven: no execution node of the epoch served the register
	// with a proof that verifies against the result's end state.
	ErrUnproven = fmt.Errorf("%w: no execution node proved the read against the finalized result", api.ErrStateUnavailable)
	// ErrBadProof: an execution node's answer does not prove the
	// register against the result's end state (a wrong value, proof,
	// height or key); the answer is dropped.
	ErrBadProof = errors.New("execution node's state answer does not verify")
)

// ProvenRead is a register read proven against a finalized block's
// Result.
type ProvenRead struct {
	Owner []byte // empty: a network-wide register
	Key   []byte
	Value []byte // nil: absent
	Proof []byte // merkle.Proof encoding, over state.RegisterID{Key}.Encode()
	// Result is the Result (height, end-state root) the proof verifies
	// against, carried by the finalized block Block.
	Result payload.Result
	Block  *model.Block
}

// State reads the network-wide register named key (api.Backend.State):
// proven against the Result of the newest finalized block, with the
// result's height and root, and not sealed. Errors: storage.ErrInvalid
// for a key no register can have (400), ErrNoResult or ErrUnproven
// (api.ErrStateUnavailable, 503). The executors are asked under ctx
// (the request's) and the service's lifetime, whichever ends first.
func (s *Service) State(ctx context.Context, key []byte) (ledger.StateValue, error) {
	if err := (state.RegisterID{Key: string(key)}).Check(); err != nil {
		return ledger.StateValue{}, fmt.Errorf("%w: %v", storage.ErrInvalid, err)
	}
	b, err := s.cfg.Chain.LatestBlock()
	if err != nil {
		return ledger.StateValue{}, fmt.Errorf("access: newest finalized block: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	r, err := s.ProveRegister(ctx, state.RegisterID{Key: string(key)}, b)
	if err != nil {
		return ledger.StateValue{}, err
	}
	return ledger.StateValue{
		Key: key, Value: r.Value, Proof: r.Proof, Height: r.Result.Height, Root: r.Result.Root,
		Pipeline: true, BlockHeight: b.Height, Sealed: false,
	}, nil
}

// ProveRegister reads register id at the Result finalized block b carries from
// the execution nodes of b's epoch, in turn, and returns the first answer
// whose proof verifies against the Result's root over the register
// encoding. An executor that fails, answers for another height, or
// serves a proof that does not verify is passed over (and counted);
// none verifying is ErrUnproven. A block without a Result, or whose
// Result is still the genesis state, is ErrNoResult.
func (s *Service) ProveRegister(ctx context.Context, id state.RegisterID, b *model.Block) (ProvenRead, error) {
	result, err := payload.ResultOf(b.Payload) // the result section alone
	if err != nil {
		return ProvenRead{}, fmt.Errorf("access: finalized block %d: %w", b.Height, err)
	}
	if result == nil || result.Height == 0 {
		return ProvenRead{}, ErrNoResult
	}
	res := *result
	ep, err := s.cfg.Directory.EpochOf(b.View)
	if err != nil {
		return ProvenRead{}, fmt.Errorf("access: epoch of finalized block %d: %w", b.Height, err)
	}
	executors := s.cfg.Directory.Executors(ep)
	var errs []error
	for _, url := range executors {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		ans, err := s.apiClient(url).ExecutionRegister(rctx, []byte(id.Owner), []byte(id.Key), res.Height)
		cancel()
		var value, proof []byte
		if err == nil {
			value, proof, err = verifyRegister(res, id, ans)
		}
		if err != nil {
			outcome := "error"
			if errors.Is(err, ErrBadProof) {
				outcome = "bad_proof"
				s.log.Warn("access: execution node served a state proof that does not verify", "executor", url,
					"height", res.Height, "root", res.Root, "err", err)
			}
			s.m.stateAnswers.WithLabelValues(outcome).Inc()
			errs = append(errs, fmt.Errorf("%s: %w", url, err))
			continue
		}
		s.m.stateAnswers.WithLabelValues("ok").Inc()
		return ProvenRead{Owner: []byte(id.Owner), Key: []byte(id.Key), Value: value, Proof: proof, Result: res, Block: b}, nil
	}
	if len(executors) == 0 {
		errs = append(errs, fmt.Errorf("epoch %d lists no execution node with an api", ep))
	}
	return ProvenRead{}, fmt.Errorf("%w (height %d, root %v): %w", ErrUnproven, res.Height, res.Root, errors.Join(errs...))
}

// verifyRegister checks an execution node's answer for id against res:
// the height asked, the register asked, and a Merkle proof of the value (or
// its absence) under res.Root over the register's encoding. It returns
// the value (nil: absent) and the proof.
func verifyRegister(res payload.Result, id state.RegisterID, ans api.ExecutionStateResponse) (value, proof []byte, err error) {
	if ans.Height != res.Height {
		return nil, nil, fmt.Errorf("%w: answer for height %d, asked %d", ErrBadProof, ans.Height, res.Height)
	}
	if ans.Key != hex.EncodeToString([]byte(id.Key)) || ans.Owner != hex.EncodeToString([]byte(id.Owner)) {
		return nil, nil, fmt.Errorf("%w: answer for register (%q, %q)", ErrBadProof, ans.Owner, ans.Key)
	}
	if ans.Found {
		if value, err = hex.DecodeString(ans.Value); err != nil || len(value) == 0 || len(value) > state.MaxValueSize {
			return nil, nil, fmt.Errorf("%w: value is not 1..%d bytes of hex", ErrBadProof, state.MaxValueSize)
		}
	} else if ans.Value != "" {
		return nil, nil, fmt.Errorf("%w: a value for an absent register", ErrBadProof)
	}
	if len(ans.Proof) > 2*merkle.MaxProofSize {
		return nil, nil, fmt.Errorf("%w: proof over %d bytes", ErrBadProof, merkle.MaxProofSize)
	}
	if proof, err = hex.DecodeString(ans.Proof); err != nil {
		return nil, nil, fmt.Errorf("%w: proof is not hex", ErrBadProof)
	}
	if err := merkle.Verify(merkle.Hash(res.Root), id.Encode(), value, proof); err != nil {
		return nil, nil, fmt.Errorf("%w: against the end state %v of height %d: %v", ErrBadProof, res.Root, res.Height, err)
	}
	return value, proof, nil
}
