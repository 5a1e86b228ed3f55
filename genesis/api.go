package genesis

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/floe-bft/floe/consensus/model"
	"github.com/floe-bft/floe/crypto"
	"github.com/floe-bft/floe/epoch"
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

// RoleAPIs lists the API base URL of every member of the role that lists
// one, in genesis order: whom the pipeline's roles follow and hand their
// work to by default (consensus members), or reach for collections.
func (g *Genesis) RoleAPIs(role epoch.Role) []string {
	apis := g.APIs()
	var out []string
	for _, v := range g.Validators {
		r, err := v.ParsedRole()
		if err != nil || r != role {
			continue
		}
		pk, err := hex.DecodeString(v.StakingKey)
		if err != nil {
			continue // Load refused such a file; a hand-built one is skipped
		}
		if u, ok := apis[crypto.Sum(pk)]; ok {
			out = append(out, u)
		}
	}
	return out
}
