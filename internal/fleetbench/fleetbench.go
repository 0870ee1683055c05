// Package fleetbench is the fleet's load tool (`vigil bench fleet`): it
// starts a real `vigil server` as a child process on loopback, enrolls N
// simulated agents through the HTTP API, connects each to NATS with its own
// NKey credentials, creates a hunt and measures how long the server takes to
// get every agent's acknowledgement and to store every result, the ingest
// rate and the server's peak memory.
//
// A simulated agent speaks the real protocol (package wire) within its own
// NATS permissions, but does not scan: on a hunt it acknowledges, then sends
// Results result rows in batches and a terminal status, as a real agent
// finding that many matching files would.
package fleetbench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"vigil/server/api"
	"vigil/wire"
)

// Options configure a run.
type Options struct {
	Agents          int // simulated agents
	ResultsPerAgent int // result rows each agent sends (one rule per file)
	BatchSize       int // files per ResultBatch (default wire.MaxMatchesPerMsg)
	// ScanTime is how long a simulated agent "scans" between acknowledging
	// the hunt and sending its results (a real agent walks its disk
	// first); 0 sends the results at once.
	ScanTime    time.Duration
	Binary      string // the vigil binary to run as the server (default: this executable)
	DB          string // --db for the server ("" = SQLite)
	Concurrency int    // parallel enrollments and connections (default 64)
	Log         io.Writer
}

// Report holds the figures of one run.
type Report struct {
	Agents, ResultsPerAgent int
	ScanTime                time.Duration
	DB                      string
	Enroll                  time.Duration // enrolling every agent over HTTP
	Connect                 time.Duration // connecting every agent to NATS
	Ack                     time.Duration // hunt created -> every agent acknowledged (stored)
	Done                    time.Duration // hunt created -> every result and terminal status stored
	Results                 int64
	IngestPerSec            float64 // results stored per second from first result sent to the last stored
	ServerPeakRSS           int64   // bytes (VmHWM of the server process)
}

func (r Report) String() string {
	db := r.DB
	if db == "" {
		db = "sqlite"
	}
	return fmt.Sprintf("agents=%d results/agent=%d scan time=%v db=%s\n  enroll %v, connect %v\n  hunt -> all acknowledged: %v\n  hunt -> all results stored: %v (%d results)\n  ingest: %.0f results/s\n  server peak RSS: %.0f MiB",
		r.Agents, r.ResultsPerAgent, r.ScanTime, db, r.Enroll.Round(time.Millisecond), r.Connect.Round(time.Millisecond),
		r.Ack.Round(time.Millisecond), r.Done.Round(time.Millisecond), r.Results, r.IngestPerSec, float64(r.ServerPeakRSS)/(1<<20))
}

// Run performs one load run.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Agents <= 0 {
		return Report{}, errors.New("fleetbench: agents must be positive")
	}
	if o.BatchSize <= 0 || o.BatchSize > wire.MaxMatchesPerMsg {
		o.BatchSize = wire.MaxMatchesPerMsg
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return Report{}, err
		}
		o.Binary = exe
	}
	rep := Report{Agents: o.Agents, ResultsPerAgent: o.ResultsPerAgent, ScanTime: o.ScanTime, DB: o.DB}
	srv, err := startServer(ctx, o)
	if err != nil {
		return rep, err
	}
	defer srv.stop()
	c := api.NewClient(srv.url, srv.token)
	tok, err := c.CreateToken(ctx, api.TokenRequest{Labels: map[string]string{"bench": "fleet"}, ExpiresIn: "1h"})
	if err != nil {
		return rep, fmt.Errorf("create token: %w", err)
	}

	// Enroll.
	agents := make([]*simAgent, o.Agents)
	t := time.Now()
	if err := parallel(ctx, o.Agents, o.Concurrency, func(i int) error {
		a, err := enroll(ctx, c, tok.Secret, i)
		agents[i] = a
		return err
	}); err != nil {
		return rep, fmt.Errorf("enroll: %w", err)
	}
	rep.Enroll = time.Since(t)
	fmt.Fprintf(o.Log, "enrolled %d agents in %v\n", o.Agents, rep.Enroll.Round(time.Millisecond))

	// Connect.
	var firstSend atomic.Int64
	var sendErrs atomic.Int64
	t = time.Now()
	if err := parallel(ctx, o.Agents, o.Concurrency, func(i int) error {
		return agents[i].connect(ctx, o, &firstSend, &sendErrs)
	}); err != nil {
		return rep, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		for _, a := range agents {
			if a != nil && a.nc != nil {
				a.nc.Close()
			}
		}
	}()
	rep.Connect = time.Since(t)
	fmt.Fprintf(o.Log, "connected %d agents in %v\n", o.Agents, rep.Connect.Round(time.Millisecond))

	// Hunt.
	t0 := time.Now()
	h, err := c.CreateHunt(ctx, api.HuntRequest{
		Rules:  "rule bench { strings: $a = \"vigil-bench\" condition: $a }",
		Target: "bench=fleet", Paths: []string{"/bench"}, Why: "fleet load benchmark", ExpiresIn: "1h",
	})
	if err != nil {
		return rep, fmt.Errorf("create hunt: %w", err)
	}
	want := int64(o.Agents) * int64(o.ResultsPerAgent)
	for {
		hh, err := c.Hunt(ctx, h.ID)
		if err != nil {
			return rep, err
		}
		p := hh.Progress
		if p == nil {
			return rep, errors.New("hunt has no progress")
		}
		if rep.Ack == 0 && p.Acknowledged >= o.Agents {
			rep.Ack = time.Since(t0)
			fmt.Fprintf(o.Log, "all %d agents acknowledged after %v\n", o.Agents, rep.Ack.Round(time.Millisecond))
		}
		if p.Done >= o.Agents && p.Results >= want {
			rep.Done = time.Since(t0)
			rep.Results = p.Results
			break
		}
		if n := sendErrs.Load(); n > 0 {
			return rep, fmt.Errorf("%d agents failed to send", n)
		}
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("waiting for results (%d/%d agents done, %d/%d results): %w", p.Done, p.Agents, p.Results, want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if rep.Ack == 0 {
		rep.Ack = rep.Done
	}
	if fs := firstSend.Load(); fs > 0 {
		d := time.Since(time.Unix(0, fs))
		d -= time.Since(t0.Add(rep.Done))
		if d > 0 {
			rep.IngestPerSec = float64(rep.Results) / d.Seconds()
		}
	}
	rep.ServerPeakRSS = srv.peakRSS()
	return rep, nil
}

// parallel runs f(0..n-1) with at most k at once; the first error wins.
func parallel(ctx context.Context, n, k int, f func(int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := atomic.Int64{}
	for w := 0; w < k; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

type simAgent struct {
	id     string
	kp     nkeys.KeyPair
	nats   []string
	prefix string
	nc     *nats.Conn
	once   sync.Once
}

func enroll(ctx context.Context, c *api.Client, secret string, i int) (*simAgent, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	r, err := c.Enroll(ctx, wire.EnrollRequest{Token: secret, PublicKey: pub, Hostname: fmt.Sprintf("bench-%05d", i), OS: "linux", Arch: "amd64", Version: "bench"})
	if err != nil {
		return nil, err
	}
	return &simAgent{id: r.AgentID, kp: kp, nats: r.NATS, prefix: r.Prefix}, nil
}

func (a *simAgent) connect(ctx context.Context, o Options, firstSend, sendErrs *atomic.Int64) error {
	pub, _ := a.kp.PublicKey()
	nc, err := nats.Connect(strings.Join(a.nats, ","),
		nats.Nkey(pub, a.kp.Sign),
		nats.CustomInboxPrefix(wire.InboxPrefix(a.id)),
		nats.Name("vigil-bench "+a.id),
		nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	a.nc = nc
	_, err = nc.Subscribe(wire.HuntSubject(a.prefix, a.id), func(m *nats.Msg) {
		var h wire.Hunt
		if wire.Decode(m.Data, &h) != nil {
			return
		}
		a.once.Do(func() {
			go func() {
				if err := a.run(ctx, h, o, firstSend); err != nil {
					fmt.Fprintf(o.Log, "agent %s: %v\n", a.id, err)
					sendErrs.Add(1)
				}
			}()
		})
	})
	if err != nil {
		return err
	}
	return nc.Flush()
}

// run plays one agent's part of a hunt.
func (a *simAgent) run(ctx context.Context, h wire.Hunt, o Options, firstSend *atomic.Int64) error {
	now := time.Now().UTC()
	seq := uint64(0)
	status := func(state string, batches uint64) error {
		seq++
		return a.send(ctx, wire.StatusSubject(a.prefix, a.id),
			wire.Status{HuntID: h.ID, Seq: seq, State: state, Started: now, Time: time.Now().UTC(), Batches: batches,
				FilesScanned: int64(o.ResultsPerAgent), FilesMatched: int64(o.ResultsPerAgent)})
	}
	if err := status(wire.StateReceived, 0); err != nil {
		return err
	}
	if o.ScanTime > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.ScanTime):
		}
	}
	firstSend.CompareAndSwap(0, time.Now().UnixNano())
	var batches uint64
	for sent := 0; sent < o.ResultsPerAgent; {
		n := min(o.BatchSize, o.ResultsPerAgent-sent)
		b := wire.ResultBatch{HuntID: h.ID, Seq: batches + 1, Matches: make([]wire.FileMatch, n)}
		for i := range b.Matches {
			b.Matches[i] = fakeMatch(sent + i)
		}
		if err := a.send(ctx, wire.ResultsSubject(a.prefix, a.id), b); err != nil {
			return err
		}
		batches++
		sent += n
	}
	return status(wire.StateDone, batches)
}

func fakeMatch(i int) wire.FileMatch {
	var h [32]byte
	rand.Read(h[:])
	return wire.FileMatch{
		Path: fmt.Sprintf("/bench/dir%03d/file%06d.bin", i%1000, i), Size: int64(4096 + i),
		SHA256: hex.EncodeToString(h[:]), MD5: hex.EncodeToString(h[:16]),
		Rules: []wire.RuleHit{{Rule: "bench", Namespace: "default", Strings: []wire.StringHit{{ID: "$a", Offsets: []int64{int64(i % 4096)}, Count: 1}}}},
	}
}

// send publishes v to a JetStream-captured subject and waits for the ack,
// retrying as a real agent does.
func (a *simAgent) send(ctx context.Context, subject string, v any) error {
	data, err := wire.Encode(v)
	if err != nil {
		return err
	}
	var last error
	for try := 0; try < 20; try++ {
		m := &nats.Msg{Subject: subject, Data: data}
		resp, err := a.nc.RequestMsgWithContext(ctx, m)
		if err == nil {
			if strings.Contains(string(resp.Data), `"error"`) {
				err = fmt.Errorf("stream refused: %s", resp.Data)
			} else {
				return nil
			}
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Duration(50*(try+1)) * time.Millisecond)
	}
	return last
}

// server is the child `vigil server` process.
type server struct {
	cmd   *exec.Cmd
	dir   string
	url   string
	token string
}

var (
	urlLine   = regexp.MustCompile(`web UI and API at (\S+)`)
	tokenLine = regexp.MustCompile(`^\s+(vop_\S+)\s*$`)
)

func startServer(ctx context.Context, o Options) (*server, error) {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return nil, err
	}
	// No approvals: the benchmark measures delivery and ingestion, not people.
	args := []string{"server", "--data", dir, "--http", "127.0.0.1:0", "--nats-port", "-1", "--no-approvals"}
	if o.DB != "" {
		args = append(args, "--db", o.DB)
	}
	cmd := exec.Command(o.Binary, args...)
	cmd.Stderr = o.Log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{cmd: cmd, dir: dir}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for s.url == "" || s.token == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				s.stop()
				return nil, errors.New("server exited before it was ready")
			}
			if m := urlLine.FindStringSubmatch(l); m != nil {
				s.url = m[1]
			}
			if m := tokenLine.FindStringSubmatch(l); m != nil {
				s.token = m[1]
			}
		case <-timeout:
			s.stop()
			return nil, errors.New("server not ready after 60 s")
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		}
	}
	go func() {
		for range lines {
		}
	}()
	return s, nil
}

// peakRSS reads VmHWM of the server process (Linux only; 0 elsewhere).
func (s *server) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(s.dir)
}
