package localnet

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// A node killed and started again on purpose (Harness.Restart) is not
// reported as crashed, however quickly the new process starts; a later
// exit of the new process that nobody asked for is.
func TestRestartIsNoCrash(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /bin/sh and /proc")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-floe")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nwhile :; do :; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Binary: bin, Dir: dir}
	tn := o.newNode("node1", "127.0.0.1:1")
	if err := os.MkdirAll(tn.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	crashed := make(chan *Node, 8)
	tn.onExit = func(n *Node) { crashed <- n }
	if err := tn.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // kill and restart at once, many times
		if err := tn.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := tn.Start(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if cpu, ok := tn.CPUTime(); !ok || cpu <= 0 {
		t.Errorf("CPU time of a busy process: %v %v", cpu, ok)
	}
	select {
	case <-crashed:
		t.Fatal("a restart was reported as a crash")
	default:
	}
	cmd, _ := tn.proc()
	_ = cmd.Process.Kill() // not through tn: a crash
	select {
	case n := <-crashed:
		if n != tn {
			t.Fatal("wrong node")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the crash of a restarted process was not reported")
	}
	if err := tn.Stop(time.Second); err == nil {
		t.Error("Stop after a crash reported nothing")
	}
}
