//go:build !linux

package network

import (
	"net"
	"time"
)

// setUserTimeout is Linux-only; elsewhere keep-alives alone detect dead
// idle peers.
func setUserTimeout(*net.TCPConn, time.Duration) {}
