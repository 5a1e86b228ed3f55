package governance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

// requestTimeout bounds each call to the node.
const requestTimeout = 10 * time.Second

// pollInterval is how often WaitFor reads the node's status.
const pollInterval = 200 * time.Millisecond

// Session is what setup and commit work with: the key, the chain's epoch
// rules and a client whose node is checked to belong to that chain.
type Session struct {
	Key     ed25519.PrivateKey
	Genesis *genesis.Genesis
	Params  epoch.Params
	Client  *client.Client
	// Out receives the progress lines a command prints.
	Out io.Writer
}

// UnauthorisedError says that a key is not one of the chain's governance
// keys: the node would refuse whatever it signs.
type UnauthorisedError struct {
	Key, KeyPath, ChainID string
	Governance            []string
}

func (e *UnauthorisedError) Error() string {
	return fmt.Sprintf("unauthorised key: %s (from %s) is not a governance key of chain %q (its genesis lists %d: %s)",
		e.Key, e.KeyPath, e.ChainID, len(e.Governance), strings.Join(e.Governance, ", "))
}

// Open loads the key and the genesis and checks, before anything is asked
// of the node, that the chain has epoch changes and that the key may
// sign them (*UnauthorisedError otherwise).
func Open(keyPath, genesisPath, nodeURL string, out io.Writer) (*Session, error) {
	if keyPath == "" || genesisPath == "" {
		return nil, fmt.Errorf("--key and --genesis are required")
	}
	key, err := LoadKey(keyPath)
	if err != nil {
		return nil, err
	}
	g, err := genesis.Load(genesisPath)
	if err != nil {
		return nil, err
	}
	p, err := g.EpochParams()
	if err != nil {
		return nil, err
	}
	if p.EpochViews == 0 {
		return nil, fmt.Errorf("chain %q has no epoch changes (its genesis has no epoch_views)", g.ChainID)
	}
	pub := key.Public().(ed25519.PublicKey)
	authorised := false
	for _, a := range p.Authorities {
		authorised = authorised || bytes.Equal(a, pub)
	}
	if !authorised {
		return nil, &UnauthorisedError{Key: hex.EncodeToString(pub), KeyPath: keyPath, ChainID: g.ChainID, Governance: g.Governance}
	}
	return &Session{Key: key, Genesis: g, Params: p, Client: client.New(nodeURL), Out: out}, nil
}

// Status reads the node's status and checks that it runs this chain.
func (s *Session) Status(ctx context.Context) (api.StatusResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	st, err := s.Client.Status(cctx)
	if err != nil {
		return st, fmt.Errorf("node status: %w", err)
	}
	if st.ChainID != s.Genesis.ChainID {
		return st, fmt.Errorf("the node runs chain %q, the genesis file is for %q", st.ChainID, s.Genesis.ChainID)
	}
	return st, nil
}

// Submit posts an event, explaining a refusal.
func (s *Session) Submit(ctx context.Context, e *epoch.Event) (api.ServiceEventResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := s.Client.SubmitEvent(cctx, e)
	var ae *client.Error
	if errors.As(err, &ae) {
		return resp, fmt.Errorf("the node refused the %v (HTTP %d): %s", e.Kind, ae.Status, ae.Message)
	}
	if err != nil {
		return resp, fmt.Errorf("posting the %v: %w", e.Kind, err)
	}
	return resp, nil
}

// WaitFor polls the node's status until done says so or wait passes; what
// names the awaited event in the error.
func (s *Session) WaitFor(ctx context.Context, wait time.Duration, what string, done func(api.StatusResponse) bool) error {
	deadline := time.Now().Add(wait)
	for {
		st, err := s.Status(ctx)
		if err == nil && done(st) {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			return fmt.Errorf("%s did not happen within %v (view %d, epoch %d); a node logs 'service event rejected' with the reason if the epoch rules refused the event",
				what, wait, st.View, st.Epoch.Counter)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}
