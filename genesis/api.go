package genesis

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
)

// checkAPI accepts an empty API entry or an http(s) base URL with a host
// and nothing after the path.
func checkAPI(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an http(s) base URL", raw)
	}
	return nil
}

// APIs maps every member that lists an API (the genesis directory of
// client APIs, see Validator.API) to its base URL, without a trailing
// slash. Members without one are absent.
func (g *Genesis) APIs() map[model.NodeID]string {
	out := make(map[model.NodeID]string)
	for _, v := range g.Validators {
		if v.API == "" {
			continue
		}
		pk, err := hex.DecodeString(v.StakingKey)
		if err != nil {
			continue // Load refused such a file; a hand-built one is skipped
		}
		out[crypto.Sum(pk)] = strings.TrimRight(v.API, "/")
	}
	return out
}
