//go:build !windows && !plan9 && !js && !wasip1

package agent

import (
	"path/filepath"
	"syscall"
	"testing"
)

func TestPolicyReloadOnSIGHUP(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	pfile := filepath.Join(dir, "policy")
	h.writePolicy(pfile, "max-hunts-per-day 0")
	r := h.startAgent(dir, h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r) // Run is past watchPolicy: SIGHUP is caught
	before := makeHunt("h-before-reload", rules, data)
	h.offer(before, huntLog{})
	h.refusedWith(before.ID, "allows 0 a day")

	h.writePolicy(pfile, "max-hunts-per-day 5")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the policy to be reloaded", func() bool { return h.logged("policy: reloaded") })
	after := makeHunt("h-after-reload", rules, data)
	h.offer(after, huntLog{})
	h.ranWith(after.ID, 1)
}
