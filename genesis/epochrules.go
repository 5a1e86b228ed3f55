package genesis

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
)

// EpochRules are the epoch options of 'floe genesis' (its errors name
// those flags).
type EpochRules struct {
	// Governance are the hex ed25519 public keys allowed to sign epoch
	// changes.
	Governance []string
	// Views is the epoch length; 0: one epoch forever, unless Profile
	// fixes it.
	Views uint64
	// Profile is "production" (fixed length), "test" (needs Views) or
	// empty (Views alone decides).
	Profile string
}

// Apply sets the epoch rules and governance keys on g and validates them
// (the safety rule of epoch.Params.Validate).
func (e EpochRules) Apply(g *Genesis) error {
	switch e.Profile {
	case "production":
		if e.Views != 0 {
			return fmt.Errorf("--epoch-profile production fixes the epoch length; drop --epoch-views")
		}
		g.Params.ProductionEpochs()
	case "test":
		if e.Views == 0 {
			return fmt.Errorf("--epoch-profile test needs --epoch-views")
		}
		g.Params.TestEpochs(e.Views)
	case "":
		if e.Views != 0 {
			g.Params.TestEpochs(e.Views)
		}
	default:
		return fmt.Errorf("--epoch-profile must be 'production' or 'test', not %q", e.Profile)
	}
	switch {
	case g.Params.EpochViews > 0 && len(e.Governance) == 0:
		return fmt.Errorf("epochs need at least one --governance-key to schedule the next committee")
	case g.Params.EpochViews == 0 && len(e.Governance) > 0:
		return fmt.Errorf("--governance-key needs epochs (--epoch-views or --epoch-profile)")
	}
	seen := map[string]bool{}
	for _, k := range e.Governance {
		k = strings.ToLower(strings.TrimSpace(k))
		if b, err := hex.DecodeString(k); err != nil || len(b) != ed25519.PublicKeySize {
			return fmt.Errorf("--governance-key %q must be %d bytes of hex (the key 'floe governance keygen' prints)", k, ed25519.PublicKeySize)
		}
		if seen[k] {
			return fmt.Errorf("--governance-key %s appears twice", k)
		}
		seen[k] = true
		g.Governance = append(g.Governance, k)
	}
	if _, err := g.EpochParams(); err != nil {
		return fmt.Errorf("invalid epoch rules: %w", err)
	}
	return nil
}
