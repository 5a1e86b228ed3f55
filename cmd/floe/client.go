package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/floe-bft/floe/config"
)

// envNode names the API a client command talks to when --node is not given.
const envNode = "FLOE_NODE"

// defaultNodeURL is where client commands look for a node: $FLOE_NODE, or
// the API address 'floe init' writes by default.
func defaultNodeURL() string {
	if v := os.Getenv(envNode); v != "" {
		return v
	}
	return "http://" + config.DefaultAPIAddr
}

// nodeFlag registers --node, the API a client command talks to.
func nodeFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "node", defaultNodeURL(), "node API URL (default $"+envNode+" or http://"+config.DefaultAPIAddr+")")
}
