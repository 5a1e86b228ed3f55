//go:build !linux

package localnet

import "os/exec"

// setChildAttrs does nothing off Linux: the testnet is developed and run
// on Linux (see proc_linux.go); elsewhere Ctrl-C also reaches the nodes
// directly, which only changes the shutdown order.
func setChildAttrs(*exec.Cmd) {}
