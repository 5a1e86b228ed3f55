package localnet

import (
	"context"
	"net"
	"runtime"
	"testing"
)

// Connections to a loopback node leave from distinct client addresses, so
// the node's per-client limits see many clients, as a real load would be.
func TestHarnessSpreadsOverClientAddresses(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux routes all of 127.0.0.0/8 over loopback")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, loopbackClients)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			seen <- host
			c.Close()
		}
	}()
	d := newSpreadDialer()
	hosts := map[string]bool{}
	for i := 0; i < loopbackClients; i++ {
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		hosts[<-seen] = true
	}
	if len(hosts) != loopbackClients || hosts["127.0.0.1"] {
		t.Fatalf("%d connections came from %v, want %d distinct addresses other than 127.0.0.1", loopbackClients, hosts, loopbackClients)
	}
}
