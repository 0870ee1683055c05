package bus

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"vigil/wire"
)

// agentEntry is one allowed agent: its NKey and the IDs of the NATS client
// connections that authenticated as it (some may have closed since).
type agentEntry struct {
	nkey  string
	conns map[uint64]struct{}
}

// authenticator decides who may connect to the embedded NATS server. It
// implements server.Authentication: agents prove they hold their NKey by
// signing the server's nonce and get exactly wire.AgentPermissions; the
// Vigil server's own in-process connection logs in with a random
// per-process user and password and gets full permissions; everyone else
// is refused.
type authenticator struct {
	prefix     string
	serverUser string
	serverPass string

	// alive reports whether a NATS client connection ID is still
	// connected; set once the embedded server exists, nil before.
	alive func(cid uint64) bool

	mu      sync.Mutex
	byKey   map[string]string // NKey public key -> agent ID
	byAgent map[string]*agentEntry
}

func newAuthenticator(prefix, user, pass string) *authenticator {
	return &authenticator{
		prefix:     prefix,
		serverUser: user,
		serverPass: pass,
		byKey:      map[string]string{},
		byAgent:    map[string]*agentEntry{},
	}
}

// nkeyRegistrar is what the nats-server client offers beyond the
// ClientAuthentication interface to attach an NKey user to a connection.
type nkeyRegistrar interface {
	RegisterNkeyUser(*server.NkeyUser) error
}

// Check implements server.Authentication.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	o := c.GetOpts()
	if o == nil {
		return false
	}
	switch {
	case o.Nkey != "":
		// An agent. It must present nothing but its NKey and signature.
		if o.JWT != "" || o.Username != "" || o.Password != "" || o.Token != "" {
			return false
		}
		return a.checkAgent(c, o.Nkey, o.Sig)
	case o.Username != "":
		return a.checkServer(c, o)
	default:
		return false
	}
}

// checkServer admits the Vigil server's own connection: the right user and
// password, and only over the in-process pipe (never from the network).
func (a *authenticator) checkServer(c server.ClientAuthentication, o *server.ClientOpts) bool {
	if o.Nkey != "" || o.JWT != "" || o.Token != "" {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(o.Username), []byte(a.serverUser)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.serverPass)) == 1
	if !userOK || !passOK {
		return false
	}
	addr := c.RemoteAddress()
	if addr == nil || addr.Network() != "pipe" {
		return false
	}
	c.RegisterUser(&server.User{Username: a.serverUser})
	return true
}

// checkAgent admits an allowed agent whose signature over this
// connection's nonce verifies with its NKey.
func (a *authenticator) checkAgent(c server.ClientAuthentication, nkey, sig string) bool {
	a.mu.Lock()
	id, ok := a.byKey[nkey]
	a.mu.Unlock()
	if !ok || sig == "" {
		return false
	}
	nonce := c.GetNonce()
	if len(nonce) == 0 {
		return false
	}
	// Clients send the signature base64 raw-URL encoded; nats-server also
	// accepts standard base64, and so do we.
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		raw, err = base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return false
		}
	}
	pub, err := nkeys.FromPublicKey(nkey)
	if err != nil {
		return false
	}
	if err := pub.Verify(nonce, raw); err != nil {
		return false
	}

	// Record the connection under the agent, unless it was revoked (or its
	// key replaced) while we verified: RevokeAgent closes what is recorded.
	cid := c.GetID()
	a.mu.Lock()
	e := a.byAgent[id]
	if e == nil || e.nkey != nkey {
		a.mu.Unlock()
		return false
	}
	e.conns[cid] = struct{}{}
	var others []uint64
	if len(e.conns) > MaxConnsPerAgent {
		for k := range e.conns {
			if k != cid {
				others = append(others, k)
			}
		}
	}
	a.mu.Unlock()
	if len(others) > 0 && !a.admit(id, cid, others) {
		return false
	}

	p := wire.AgentPermissions(a.prefix, id)
	perms := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: append([]string(nil), p.Publish...)},
		Subscribe: &server.SubjectPermission{Allow: append([]string(nil), p.Subscribe...)},
	}
	if r, ok := c.(nkeyRegistrar); ok {
		if err := r.RegisterNkeyUser(&server.NkeyUser{Nkey: nkey, Permissions: perms}); err != nil {
			return false
		}
	} else {
		c.RegisterUser(&server.User{Username: "agent-" + id, Permissions: perms})
	}
	return true
}

// admit forgets those of agent id's other connections that have closed
// (so that an agent that reconnects often does not grow its set forever)
// and reports whether connection cid keeps the agent within
// MaxConnsPerAgent; if not, cid is forgotten too.
func (a *authenticator) admit(id string, cid uint64, others []uint64) bool {
	var dead []uint64
	if a.alive != nil {
		for _, k := range others {
			if !a.alive(k) {
				dead = append(dead, k)
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.byAgent[id]
	if e == nil {
		return false
	}
	for _, k := range dead {
		delete(e.conns, k)
	}
	if len(e.conns) > MaxConnsPerAgent {
		delete(e.conns, cid)
		return false
	}
	return true
}

// allow records agent id with NKey public key nkey. It returns the
// connection IDs to close when the agent's key changed.
func (a *authenticator) allow(id, nkey string) ([]uint64, error) {
	if err := wire.ValidID(id); err != nil {
		return nil, fmt.Errorf("bus: agent: %w", err)
	}
	if !nkeys.IsValidPublicUserKey(nkey) {
		// Do not echo the key: a caller may have passed a seed by mistake.
		return nil, fmt.Errorf("bus: agent %s: the key is not an NKey user public key (\"U...\", %d characters)", id, 56)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if other, ok := a.byKey[nkey]; ok && other != id {
		return nil, fmt.Errorf("bus: agent %s: NKey already belongs to agent %s", id, other)
	}
	e := a.byAgent[id]
	if e != nil && e.nkey == nkey {
		return nil, nil
	}
	var stale []uint64
	if e != nil {
		// A new key for the agent: the old key no longer works, and
		// connections made with it are closed.
		delete(a.byKey, e.nkey)
		for cid := range e.conns {
			stale = append(stale, cid)
		}
	}
	a.byKey[nkey] = id
	a.byAgent[id] = &agentEntry{nkey: nkey, conns: map[uint64]struct{}{}}
	return stale, nil
}

// revoke forgets agent id and returns its connection IDs to close.
func (a *authenticator) revoke(id string) []uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.byAgent[id]
	if e == nil {
		return nil
	}
	delete(a.byAgent, id)
	delete(a.byKey, e.nkey)
	cids := make([]uint64, 0, len(e.conns))
	for cid := range e.conns {
		cids = append(cids, cid)
	}
	return cids
}

// connections counts recorded agent connections for which alive is true,
// and forgets the others. alive is called without the lock held.
func (a *authenticator) connections(alive func(uint64) bool) int {
	a.mu.Lock()
	var cids []uint64
	for _, e := range a.byAgent {
		for cid := range e.conns {
			cids = append(cids, cid)
		}
	}
	a.mu.Unlock()
	n := 0
	var dead []uint64
	for _, cid := range cids {
		if alive(cid) {
			n++
		} else {
			dead = append(dead, cid)
		}
	}
	if len(dead) > 0 {
		gone := make(map[uint64]struct{}, len(dead))
		for _, cid := range dead {
			gone[cid] = struct{}{}
		}
		a.mu.Lock()
		for _, e := range a.byAgent {
			for cid := range e.conns {
				if _, ok := gone[cid]; ok {
					delete(e.conns, cid)
				}
			}
		}
		a.mu.Unlock()
	}
	return n
}
