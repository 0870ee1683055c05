package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/wire"
)

// Limits on an enrollment request.
const (
	maxHostField = 255 // hostname, OS, arch, version
)

// errEnrollToken is the one answer to every enrollment token problem, so
// that a caller cannot tell an unknown token from a used-up one.
const errEnrollToken = "unknown, expired or used-up enrollment token"

// Enroll enrolls an agent with an enrollment token; remoteIP is the
// caller's address, used to rate-limit failed attempts. It needs no
// operator: the token authenticates.
func (v *Service) Enroll(ctx context.Context, r wire.EnrollRequest, remoteIP string) (wire.EnrollReply, error) {
	if !v.s.enrollLimit.allow(remoteIP) {
		return wire.EnrollReply{}, api.Errorf(http.StatusTooManyRequests, "too many failed enrollments from %s: try again later", remoteIP)
	}
	if err := validEnrollRequest(&r); err != nil {
		v.s.enrollLimit.fail(remoteIP)
		return wire.EnrollReply{}, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	a := store.Agent{
		ID:        newID(agentIDPrefix),
		PublicKey: r.PublicKey,
		Hostname:  r.Hostname,
		OS:        r.OS,
		Arch:      r.Arch,
		Version:   r.Version,
		Labels:    r.Labels,
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	stored, err := v.s.store.Enroll(ctx, hashSecret(r.Token), a, v.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.s.enrollLimit.fail(remoteIP)
		v.s.logf("enrollment refused from %s (host %q): bad token", remoteIP, r.Hostname)
		return wire.EnrollReply{}, api.Errorf(http.StatusUnauthorized, errEnrollToken)
	case errors.Is(err, store.ErrConflict):
		return wire.EnrollReply{}, api.Errorf(http.StatusConflict, "this public key is already enrolled: an agent must make a new key to enroll again")
	case err != nil:
		return wire.EnrollReply{}, fmt.Errorf("enroll: %w", err)
	}
	if err := v.s.bus.AllowAgent(stored.ID, stored.PublicKey); err != nil {
		return wire.EnrollReply{}, fmt.Errorf("enroll: allowing agent %s on the bus: %w", stored.ID, err)
	}
	v.s.logf("agent %s enrolled from %s: host %q, os %s/%s, token %s", stored.ID, remoteIP, stored.Hostname, stored.OS, stored.Arch, stored.TokenID)
	labels := stored.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	approvers, err := v.approverKeys(ctx)
	if err != nil {
		return wire.EnrollReply{}, fmt.Errorf("enroll: %w", err)
	}
	return wire.EnrollReply{
		LogKey:       v.s.tlog.vkey,
		Approvers:    approvers,
		Witnesses:    v.s.tlog.wkeys,
		MinApprovals: v.s.o.MinApprovals,
		AgentID:      stored.ID,
		NATS:         v.s.bus.ClientURLs(),
		Prefix:       v.s.bus.Prefix(),
		Labels:       labels,
		NATSAuth: func() string {
			if v.s.bus.Embedded() {
				return wire.NATSAuthNKey
			}
			return wire.NATSAuthExternal
		}(),
	}, nil
}

func validEnrollRequest(r *wire.EnrollRequest) error {
	if r.Token == "" || len(r.Token) > maxSecretLen {
		return errors.New("token: want 1-256 bytes")
	}
	if !nkeys.IsValidPublicUserKey(r.PublicKey) {
		return errors.New("public_key: not an nkey user public key (\"U...\")")
	}
	for _, f := range []struct{ name, v string }{{"hostname", r.Hostname}, {"os", r.OS}, {"arch", r.Arch}, {"version", r.Version}} {
		if len(f.v) > maxHostField {
			return fmt.Errorf("%s: over %d bytes", f.name, maxHostField)
		}
	}
	return validLabels(r.Labels)
}

// validLabels checks labels as wire.ParseSelector checks selectors.
func validLabels(m map[string]string) error {
	if len(m) > wire.MaxLabels {
		return fmt.Errorf("labels: more than %d", wire.MaxLabels)
	}
	for k, v := range m {
		if _, err := wire.ParseSelector(k + "=" + v); err != nil || k == "" || v == "" {
			return fmt.Errorf("label %q=%q: keys and values are 1-128 characters without spaces, ',' or '='", k, v)
		}
	}
	return nil
}

// online reports whether an agent last seen at seen is online at now.
func online(seen, now time.Time) bool {
	return !seen.IsZero() && now.Sub(seen) <= wire.OfflineAfter
}

// Rate limit on failed enrollments: a token bucket per remote IP.
const (
	enrollBurst      = 10               // failures allowed at once
	enrollRefill     = 6 * time.Second  // one more failure allowed per interval
	enrollMaxClients = 100_000          // IPs tracked; full buckets are dropped first
	enrollSweepEvery = 10 * time.Minute // how often full buckets are forgotten
)

// failLimiter rate-limits failed attempts per key. Only failures take
// tokens; an empty bucket refuses every attempt until it refills.
type failLimiter struct {
	mu        sync.Mutex
	now       func() time.Time
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newFailLimiter(now func() time.Time) *failLimiter {
	return &failLimiter{now: now, buckets: map[string]*bucket{}}
}

// level refills and returns key's bucket; nil when it is full.
func (l *failLimiter) level(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		return nil
	}
	b.tokens += float64(now.Sub(b.at)) / float64(enrollRefill)
	b.at = now
	if b.tokens >= enrollBurst {
		delete(l.buckets, key)
		return nil
	}
	return b
}

// allow reports whether key may try.
func (l *failLimiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.level(key, l.now())
	return b == nil || b.tokens >= 1
}

// fail takes a token from key's bucket.
func (l *failLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) > enrollSweepEvery || len(l.buckets) >= enrollMaxClients {
		for k := range l.buckets {
			l.level(k, now)
		}
		l.lastSweep = now
		if len(l.buckets) >= enrollMaxClients {
			return // under attack from very many addresses: stop tracking new ones
		}
	}
	b := l.level(key, now)
	if b == nil {
		b = &bucket{tokens: enrollBurst, at: now}
		l.buckets[key] = b
	}
	if b.tokens >= 1 {
		b.tokens--
	}
}
