package localnet

import (
	"os/exec"
	"syscall"
)

// setChildAttrs puts a node process in its own process group, so that the
// terminal's Ctrl-C reaches only the testnet, which then stops the load
// before the nodes (in that order); and asks the kernel to SIGTERM it if the
// testnet dies without cleaning up, so no orphaned nodes keep their ports.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
