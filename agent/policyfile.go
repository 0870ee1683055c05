package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"vigil/agent/policy"
	"vigil/wire"
)

// policyFileName is the policy file's name in the state directory when
// Options.PolicyFile is empty.
const policyFileName = "policy"

// policyPath is where the agent's local policy lives.
func (a *Agent) policyPath() string {
	if a.o.PolicyFile != "" {
		return a.o.PolicyFile
	}
	return filepath.Join(a.o.StateDir, policyFileName)
}

// policy returns the policy in force (Default until one is loaded).
func (a *Agent) policy() *policy.Policy {
	if p := a.pol.Load(); p != nil {
		return p
	}
	return policy.Default()
}

// loadPolicy reads the policy file and puts it in force. A missing file
// means policy.Default, which pins no log key, so every hunt is refused;
// the agent says so. A file that does not parse is an error and the
// policy in force is kept.
func (a *Agent) loadPolicy() error {
	path := a.policyPath()
	p, err := policy.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		a.logf("policy: no policy file at %s: using the default policy, which pins no log key, so every hunt is refused until this machine's administrator writes one", path)
		a.pol.Store(policy.Default())
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent policy: %w", err)
	}
	a.pol.Store(p)
	a.logf("policy: loaded %s (log key %s, %d approvers, min-approvals %d, %d witnesses required)",
		path, keyName(p.LogKey), len(p.Approvers), p.MinApprovals, p.MinWitnesses)
	return nil
}

// reloadPolicy is loadPolicy on a signal: a file that no longer parses (or
// is gone) leaves the policy in force.
func (a *Agent) reloadPolicy() {
	path := a.policyPath()
	p, err := policy.Load(path)
	if err != nil {
		a.logf("policy: reload of %s failed, keeping the policy in force: %v", path, err)
		return
	}
	a.pol.Store(p)
	a.logf("policy: reloaded %s", path)
}

// watchPolicy reloads the policy whenever the process is asked to (SIGHUP
// where the system has it), until ctx is done.
func (a *Agent) watchPolicy(ctx context.Context) {
	ch, stop := reloadSignal()
	if ch == nil {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				a.reloadPolicy()
			}
		}
	}()
}

// keyName is the name of a note verifier key ("name+hash+data"), for log
// lines.
func keyName(k string) string {
	if k == "" {
		return "(none)"
	}
	name, _, _ := strings.Cut(k, "+")
	return name
}

// tofuPolicy is the text of the policy written at enrollment when there is
// none: the server's log key, approvers and approval count, trusted on
// first use.
func tofuPolicy(r *wire.EnrollReply, server string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Vigil agent policy, written at enrollment with %s from what that server said\n", server)
	b.WriteString("# (trust on first use). It belongs to this machine's administrator: the server\n")
	b.WriteString("# can neither read nor change it. Review it; see `go doc vigil/agent/policy`.\n")
	fmt.Fprintf(&b, "log-key %s\n", r.LogKey)
	for _, k := range r.Approvers {
		fmt.Fprintf(&b, "approver %s\n", k)
	}
	fmt.Fprintf(&b, "min-approvals %d\n", r.MinApprovals)
	if len(r.Witnesses) > 0 {
		b.WriteString("# The server's witnesses; to require their cosignatures, uncomment these\n")
		b.WriteString("# lines and add \"min-witnesses N\".\n")
		for _, k := range r.Witnesses {
			fmt.Fprintf(&b, "# witness %s\n", k)
		}
	}
	return b.String()
}

// writeTOFUPolicy writes the policy from the enrollment reply when the
// policy file does not exist yet, and says so. It never replaces a file.
func (a *Agent) writeTOFUPolicy(r *wire.EnrollReply, server string) {
	path := a.policyPath()
	if _, err := os.Lstat(path); err == nil {
		a.logf("policy: %s exists: kept as it is (the server's keys are not trusted on first use)", path)
		return
	} else if !errors.Is(err, fs.ErrNotExist) {
		a.logf("policy: %s: %v: no policy written", path, err)
		return
	}
	if r.LogKey == "" {
		a.logf("policy: the server sent no log key at enrollment: no policy written, so every hunt is refused until this machine's administrator writes %s", path)
		return
	}
	text := tofuPolicy(r, server)
	if _, err := policy.Parse(path, []byte(text)); err != nil {
		a.logf("policy: the server's enrollment reply does not make a valid policy (%v): none written, so every hunt is refused until this machine's administrator writes %s", err, path)
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.WriteString(text)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}
	if err != nil {
		a.logf("policy: writing %s: %v", path, err)
		return
	}
	a.logf("policy: no policy file: wrote %s from the server's enrollment reply (trust on first use): log key %s, %d approver keys, min-approvals %d; witnesses not required",
		path, keyName(r.LogKey), len(r.Approvers), r.MinApprovals)
}
