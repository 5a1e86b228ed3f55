package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/floe-bft/floe/api"
	"github.com/floe-bft/floe/client"
	"github.com/floe-bft/floe/config"
	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/epoch"
	"github.com/floe-bft/floe/genesis"
)

// The governance commands are the operator's side of an epoch change: a
// holder of a governance key named in genesis proposes the next epoch's
// committee (EpochSetup), waits until a finalized block carries it, then
// confirms it (EpochCommit). Both events are signed offline-style by this
// CLI and posted to any participant's API, which gossips them to the
// committee. See docs/cli.md.

func newGovernanceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "governance",
		Short: "Epoch changes: governance keys, EpochSetup and EpochCommit events",
		Long: `Change the committee at an epoch boundary. A genesis made with
--epoch-views (or --epoch-profile) and --governance-key lets a holder of one
of those keys schedule the next epoch:

  floe governance keygen --out gov.key              (before genesis)
  floe governance status --node URL
  floe governance setup  --key gov.key --genesis genesis.json --node URL --validators a.json,b.json,...
  floe governance commit --key gov.key --genesis genesis.json --node URL --setup epoch-1-setup.bin

The setup and its commit must both be finalized more than epoch_safety_views
views before the current epoch ends; otherwise the current epoch is extended
(fallback) and the setup must be made again for the new view range.`,
	}
	cmd.AddCommand(newGovernanceKeygenCmd(), newGovernanceStatusCmd(), newGovernanceSetupCmd(), newGovernanceCommitCmd())
	return cmd
}

func newGovernanceKeygenCmd() *cobra.Command {
	var (
		out   string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Generate an ed25519 governance key",
		Long: `Write a new ed25519 governance key to FILE (its 32-byte seed in hex, mode
0600) and print the public key in hex, for 'floe genesis --governance-key'.
Keep FILE offline: whoever holds it can change the committee.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if err := config.CheckNoClobber(out, force); err != nil {
				return err
			}
			_, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			if err := saveGovernanceKey(out, key); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), governanceKeyHex(key))
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the secret key to (required)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite FILE if it exists")
	return cmd
}

// saveGovernanceKey writes the key's seed in hex, readable by the owner only
// (also when an existing file is overwritten).
func saveGovernanceKey(path string, key ed25519.PrivateKey) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(key.Seed())); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// loadGovernanceKey reads a key written by saveGovernanceKey.
func loadGovernanceKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is not a governance key file (want %d bytes of hex, as 'floe governance keygen' writes)", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// governanceKeyHex is the public governance key for the genesis file.
func governanceKeyHex(k ed25519.PrivateKey) string {
	return hex.EncodeToString(k.Public().(ed25519.PublicKey))
}

// governanceFlags are the flags setup and commit share.
type governanceFlags struct {
	keyPath, genesisPath, nodeURL string
	wait                          time.Duration
}

func (f *governanceFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.keyPath, "key", "", "governance key file from 'floe governance keygen' (required)")
	fs.StringVar(&f.genesisPath, "genesis", "", "the network's genesis.json: chain to sign for, epoch rules, governance keys (required)")
	nodeFlag(fs, &f.nodeURL)
	fs.DurationVar(&f.wait, "wait", 0, "wait up to this long for the event to be finalized (0: return once it is queued)")
}

// governanceSession is what setup and commit work with: the key, the
// chain's epoch rules and a client whose node belongs to that chain.
type governanceSession struct {
	key    ed25519.PrivateKey
	g      *genesis.Genesis
	params epoch.Params
	client *client.Client
	out    io.Writer
}

func (f *governanceFlags) open(cmd *cobra.Command) (*governanceSession, error) {
	if f.keyPath == "" || f.genesisPath == "" {
		return nil, fmt.Errorf("--key and --genesis are required")
	}
	key, err := loadGovernanceKey(f.keyPath)
	if err != nil {
		return nil, err
	}
	g, err := genesis.Load(f.genesisPath)
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
		return nil, fmt.Errorf("unauthorised key: %s (from %s) is not a governance key of chain %q (its genesis lists %d: %s)",
			hex.EncodeToString(pub), f.keyPath, g.ChainID, len(g.Governance), strings.Join(g.Governance, ", "))
	}
	return &governanceSession{key: key, g: g, params: p, client: client.New(f.nodeURL), out: cmd.OutOrStdout()}, nil
}

// status reads the node's status and checks that it runs this chain.
func (s *governanceSession) status(ctx context.Context) (api.StatusResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := s.client.Status(cctx)
	if err != nil {
		return st, fmt.Errorf("node status: %w", err)
	}
	if st.ChainID != s.g.ChainID {
		return st, fmt.Errorf("the node runs chain %q, the genesis file is for %q", st.ChainID, s.g.ChainID)
	}
	return st, nil
}

// submit posts an event, explaining a refusal.
func (s *governanceSession) submit(ctx context.Context, e *epoch.Event) (api.ServiceEventResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := s.client.SubmitEvent(cctx, e)
	var ae *client.Error
	if errors.As(err, &ae) {
		return resp, fmt.Errorf("the node refused the %v (HTTP %d): %s", e.Kind, ae.Status, ae.Message)
	}
	if err != nil {
		return resp, fmt.Errorf("posting the %v: %w", e.Kind, err)
	}
	return resp, nil
}

// waitFor polls the node's status until done says so or wait passes.
func (s *governanceSession) waitFor(ctx context.Context, wait time.Duration, what string, done func(api.StatusResponse) bool) error {
	deadline := time.Now().Add(wait)
	for {
		st, err := s.status(ctx)
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
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sameEpoch reports whether a status summary describes the spec.
func sameEpoch(info *api.EpochInfo, s *epoch.Spec) bool {
	return info != nil && info.Counter == s.Counter && info.FirstView == s.FirstView && info.FinalView == s.FinalView &&
		info.Members == len(s.Identities)
}

func describeSpec(s *epoch.Spec) string {
	return fmt.Sprintf("epoch %d (views %d..%d, %d members)", s.Counter, s.FirstView, s.FinalView, len(s.Identities))
}

func describeEpoch(e api.EpochInfo) string {
	return fmt.Sprintf("epoch %d (views %d..%d, %d members)", e.Counter, e.FirstView, e.FinalView, e.Members)
}

// tooLateError explains a transition that can no longer be settled.
func tooLateError(st api.StatusResponse, last api.EpochInfo, safety uint64) error {
	return fmt.Errorf("too late: the node is at view %d, past the threshold %d (epoch %d ends at view %d, epoch_safety_views %d); "+
		"the epoch will be extended (fallback), then run setup again for the new view range",
		st.View, uint64(last.FinalView)-min(safety, uint64(last.FinalView)), last.Counter, last.FinalView, safety)
}

func newGovernanceSetupCmd() *cobra.Command {
	var (
		gf         governanceFlags
		validators []string
		views      uint64
		seedHex    string
		out        string
		force      bool
	)
	cmd := &cobra.Command{
		Use:   "setup --key FILE --genesis FILE --node URL --validators A.json,B.json,...",
		Short: "Propose the next epoch's committee (EpochSetup)",
		Long: `Read the node's status for the newest known epoch (the committed next epoch
if there is one, else the current), build the following epoch — its counter,
first view right after the newest epoch's final view, --views long (default
the genesis epoch_views), the --validators as its identity table in the
order given, and a leader-selection seed (--seed, default random) — sign it
with the governance key for the chain of --genesis, write the signed event
to --out (default epoch-<N>-setup.bin; 'floe governance commit --setup' needs
it) and post it to the node. Prints the queued event's ID.

Everything is checked before anything is posted: the key must be a
governance key of the genesis, every validator entry must be well formed
with a valid proof of possession, no setup may be pending already, and the
node must not be past the safety threshold of the newest epoch.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := gf.open(cmd)
			if err != nil {
				return err
			}
			if len(validators) == 0 {
				return fmt.Errorf("--validators is required")
			}
			vals := make([]genesis.Validator, len(validators))
			for i, path := range validators {
				if vals[i], err = genesis.ReadValidator(path); err != nil {
					return fmt.Errorf("--validators: %w", err)
				}
			}
			if err := genesis.CheckUnique(vals); err != nil {
				return fmt.Errorf("--validators: %w", err)
			}
			ids, err := genesis.IdentitiesOf(vals)
			if err != nil {
				return fmt.Errorf("--validators: %w", err)
			}
			if views == 0 {
				views = s.params.EpochViews
			}
			if views < s.params.MinEpochViews() {
				return fmt.Errorf("--views %d is too short: an epoch lasts at least %d views (2 × epoch_safety_views + 1)", views, s.params.MinEpochViews())
			}
			var seed [32]byte
			if seedHex == "" {
				_, _ = rand.Read(seed[:])
			} else if b, err := hex.DecodeString(seedHex); err != nil || len(b) != len(seed) {
				return fmt.Errorf("--seed must be %d bytes of hex", len(seed))
			} else {
				copy(seed[:], b)
			}

			st, err := s.status(cmd.Context())
			if err != nil {
				return err
			}
			last := client.LastEpoch(st)
			if p := st.PendingSetup; p != nil {
				return fmt.Errorf("a setup is already pending: %s awaits its commit ('floe governance commit'), or the fallback at the end of epoch %d discards it",
					describeEpoch(*p), last.Counter)
			}
			if client.TooLateForSetup(st.View, last, s.params.SafetyViews) {
				return tooLateError(st, last, s.params.SafetyViews)
			}
			spec := client.NextEpochSpec(last, views, ids, seed)
			if _, err := epoch.New(s.params.Scheme, spec); err != nil {
				return fmt.Errorf("--validators: %w", err)
			}
			ev := epoch.NewSetup(s.params.Chain, spec, s.key)
			if out == "" {
				out = fmt.Sprintf("epoch-%d-setup.bin", spec.Counter)
			}
			if err := config.CheckNoClobber(out, force); err != nil {
				return err
			}
			if err := os.WriteFile(out, ev.Encode(), 0o644); err != nil {
				return err
			}
			resp, err := s.submit(cmd.Context(), ev)
			if err != nil {
				os.Remove(out) // nothing was queued: the file would only mislead
				return err
			}
			fmt.Fprintf(s.out, "queued EpochSetup %s for %s; wrote %s\n", resp.ID, describeSpec(&spec), out)
			if gf.wait > 0 {
				if err := s.waitFor(cmd.Context(), gf.wait, "the setup's finalization", func(st api.StatusResponse) bool {
					return sameEpoch(st.PendingSetup, &spec) || sameEpoch(st.NextEpoch, &spec)
				}); err != nil {
					return err
				}
				fmt.Fprintf(s.out, "setup finalized: epoch %d is pending; commit it with 'floe governance commit --setup %s'\n", spec.Counter, out)
			}
			return nil
		},
	}
	gf.register(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&validators, "validators", nil, "the next committee's validator.json files, comma-separated or repeated (required)")
	f.Uint64Var(&views, "views", 0, "length of the next epoch in views (default: the genesis epoch_views)")
	f.StringVar(&seedHex, "seed", "", "32-byte hex leader-selection seed of the next epoch (default: random)")
	f.StringVar(&out, "out", "", "file to write the signed setup to (default epoch-<N>-setup.bin)")
	f.BoolVar(&force, "force", false, "overwrite the --out file if it exists")
	return cmd
}

// readSetupFile reads a signed EpochSetup written by 'governance setup' and
// checks that a governance key signed it for this chain.
func readSetupFile(path string, p epoch.Params) (*epoch.Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, err := epoch.DecodeEvent(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if e.Kind != epoch.KindSetup {
		return nil, fmt.Errorf("%s holds an %v, not an EpochSetup", path, e.Kind)
	}
	if err := e.Verify(p.Chain, p.Authorities); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e.Setup, nil
}

func newGovernanceCommitCmd() *cobra.Command {
	var (
		gf        governanceFlags
		setupPath string
	)
	cmd := &cobra.Command{
		Use:   "commit --key FILE --genesis FILE --node URL --setup FILE",
		Short: "Confirm a finalized EpochSetup (EpochCommit)",
		Long: `Read the signed setup that 'floe governance setup' wrote, check that the
node shows it as the pending setup (with --wait, wait for that first), sign
an EpochCommit naming it and post it. With --wait, also wait until the node
shows the epoch as committed (next_epoch).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := gf.open(cmd)
			if err != nil {
				return err
			}
			if setupPath == "" {
				return fmt.Errorf("--setup is required (the file 'floe governance setup' wrote)")
			}
			spec, err := readSetupFile(setupPath, s.params)
			if err != nil {
				return err
			}
			st, err := s.status(cmd.Context())
			if err != nil {
				return err
			}
			if sameEpoch(st.NextEpoch, spec) || sameEpoch(&st.Epoch, spec) {
				fmt.Fprintf(s.out, "%s is already committed\n", describeSpec(spec))
				return nil
			}
			if st.PendingSetup == nil && gf.wait > 0 {
				err = s.waitFor(cmd.Context(), gf.wait, "the setup's finalization", func(x api.StatusResponse) bool {
					st = x
					return x.PendingSetup != nil
				})
				if err != nil {
					return err
				}
			}
			switch p := st.PendingSetup; {
			case p == nil:
				return fmt.Errorf("no setup is pending on the node (newest epoch: %s): post %s with 'floe governance setup' and wait until it is finalized",
					describeEpoch(client.LastEpoch(st)), setupPath)
			case !sameEpoch(p, spec):
				return fmt.Errorf("the pending setup, %s, is not the one in %s, %s", describeEpoch(*p), setupPath, describeSpec(spec))
			}
			if last := client.LastEpoch(st); client.TooLateForSetup(st.View, last, s.params.SafetyViews) {
				return tooLateError(st, last, s.params.SafetyViews)
			}
			resp, err := s.submit(cmd.Context(), epoch.NewCommit(s.params.Chain, spec, s.key))
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "queued EpochCommit %s for %s\n", resp.ID, describeSpec(spec))
			if gf.wait > 0 {
				if err := s.waitFor(cmd.Context(), gf.wait, "the commit's finalization", func(x api.StatusResponse) bool {
					return sameEpoch(x.NextEpoch, spec) || sameEpoch(&x.Epoch, spec)
				}); err != nil {
					return err
				}
				fmt.Fprintf(s.out, "committed: %s\n", describeSpec(spec))
			}
			return nil
		},
	}
	gf.register(cmd)
	cmd.Flags().StringVar(&setupPath, "setup", "", "signed setup written by 'floe governance setup' (required)")
	return cmd
}

// governanceStatus is what 'governance status --json' prints.
type governanceStatus struct {
	ChainID      string         `json:"chain_id"`
	View         model.View     `json:"view"`
	Epoch        api.EpochInfo  `json:"epoch"`
	NextEpoch    *api.EpochInfo `json:"next_epoch"`
	PendingSetup *api.EpochInfo `json:"pending_setup"`
}

func newGovernanceStatusCmd() *cobra.Command {
	var (
		nodeURL string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "status --node URL",
		Short: "Print the node's current epoch, next epoch and pending setup",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := client.New(nodeURL).Status(cctx)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(governanceStatus{ChainID: st.ChainID, View: st.View, Epoch: st.Epoch,
					NextEpoch: st.NextEpoch, PendingSetup: st.PendingSetup})
			}
			fmt.Fprintf(w, "chain:         %s (view %d)\n", st.ChainID, st.View)
			cur := describeEpoch(st.Epoch)
			if st.Epoch.FinalView >= epoch.Forever {
				cur = fmt.Sprintf("epoch %d (views %d.., forever: no epoch changes, %d members)", st.Epoch.Counter, st.Epoch.FirstView, st.Epoch.Members)
			}
			fmt.Fprintf(w, "current epoch: %s\n", cur)
			next, pending := "none", "none"
			if st.NextEpoch != nil {
				next = describeEpoch(*st.NextEpoch) + ", committed"
			}
			if st.PendingSetup != nil {
				pending = describeEpoch(*st.PendingSetup) + ", awaiting its commit"
			}
			fmt.Fprintf(w, "next epoch:    %s\n", next)
			_, err = fmt.Fprintf(w, "pending setup: %s\n", pending)
			return err
		},
	}
	nodeFlag(cmd.Flags(), &nodeURL)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: chain_id, view, epoch, next_epoch, pending_setup")
	return cmd
}
