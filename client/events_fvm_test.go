package client

import (
	"testing"

	"github.com/floe-bft/floe/fvm"
)

// The event types the client decodes are the VM's (copied so the client
// does not link the VM).
func TestEventTypesMatchFVM(t *testing.T) {
	for mine, vm := range map[string]string{
		EventAccountCreated: fvm.EventAccountCreated,
		EventKeyAdded:       fvm.EventKeyAdded,
		EventKeyRevoked:     fvm.EventKeyRevoked,
		EventTransfer:       fvm.EventTransfer,
		EventDeployed:       fvm.EventDeployed,
	} {
		if mine != vm {
			t.Errorf("client has %q, fvm %q", mine, vm)
		}
	}
}
