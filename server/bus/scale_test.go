package bus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"vigil/wire"
)

// The fleet helper runs in a child process so that the memory and
// goroutines measured in the test process are the bus's alone, and each
// process needs only one file descriptor per agent.
const (
	fleetFileEnv = "VIGIL_BUS_FLEET_FILE"
	fleetURLEnv  = "VIGIL_BUS_FLEET_URL"
	fleetPrefEnv = "VIGIL_BUS_FLEET_PREFIX"
)

// TestManyAgents connects many agents, each with its own NKey, to one
// embedded bus from a child process, and logs how long that takes and what
// it costs the bus. It asserts that all connect, are counted, and each
// receives exactly its own hunt; it asserts no time. The number is 1,000,
// or VIGIL_BUS_AGENTS (10000 checks the fleet target).
func TestManyAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("many connections; skipped with -short")
	}
	n := 1000
	if s := os.Getenv("VIGIL_BUS_AGENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("VIGIL_BUS_AGENTS=%q", s)
		}
		n = v
	}
	if lim, ok := fileLimit(); ok && lim < uint64(n+200) {
		t.Skipf("RLIMIT_NOFILE %d is too low for %d agents (need about %d per process)", lim, n, n+200)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	b := startBus(t, Options{})
	var lines strings.Builder
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("agent-%05d", i)
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		seed, _ := kp.Seed()
		if err := b.AllowAgent(ids[i], pub); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&lines, "%s %s\n", ids[i], seed)
	}
	file := filepath.Join(t.TempDir(), "fleet")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFleetHelper$", "-test.v")
	cmd.Env = append(os.Environ(), fleetFileEnv+"="+file, fleetURLEnv+"="+b.ClientURLs()[0], fleetPrefEnv+"="+b.Prefix())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	expect := func(prefix string) string {
		t.Helper()
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest
			}
			if strings.HasPrefix(line, "FLEET ") {
				t.Fatalf("fleet helper: %s", line)
			}
		}
		t.Fatalf("fleet helper ended before %q: %v", prefix, sc.Err())
		return ""
	}
	connectTime := expect("FLEET READY ")

	if got := b.AgentConnections(); got != n {
		t.Fatalf("AgentConnections = %d, want %d", got, n)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()

	// Every agent is reachable on its own subject: the server pushes one
	// hunt to each, and the helper checks each got exactly its own.
	for _, id := range ids {
		if err := b.Conn().Publish(wire.HuntSubject(b.Prefix(), id), []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	expect("FLEET HUNTS OK")
	_ = stdin.Close() // the helper closes its connections and exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fleet helper: %v", err)
	}

	kib := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) / 1024 }
	t.Logf("%d agents connected in %s (16 connecting at a time, from one process)", n, connectTime)
	t.Logf("bus cost: heap in use +%.1f MiB (%.1f KiB per agent), memory from the OS +%.1f MiB (%.1f KiB per agent), goroutines +%d (%.1f per agent)",
		(float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), kib(before.HeapInuse, after.HeapInuse),
		(float64(after.Sys)-float64(before.Sys))/(1<<20), kib(before.Sys, after.Sys),
		g1-g0, float64(g1-g0)/float64(n))
	waitConnections(t, b, 0)
}

// TestFleetHelper is the agents' side of TestManyAgents, run in a child
// process; on its own it skips.
func TestFleetHelper(t *testing.T) {
	file := os.Getenv(fleetFileEnv)
	if file == "" {
		t.Skip("runs only as TestManyAgents' child process")
	}
	fail := func(format string, args ...any) {
		fmt.Printf("FLEET FAIL "+format+"\n", args...)
		t.Fatalf(format, args...)
	}
	url, prefix := os.Getenv(fleetURLEnv), os.Getenv(fleetPrefEnv)
	data, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	var agents []*testAgent
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, seed, ok := strings.Cut(line, " ")
		if !ok {
			fail("bad line")
		}
		kp, err := nkeys.FromSeed([]byte(seed))
		if err != nil {
			fail("seed: %v", err)
		}
		agents = append(agents, &testAgent{id: id, kp: kp})
	}
	n := len(agents)
	conns := make([]*nats.Conn, n)
	subs := make([]*nats.Subscription, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				nc, err := connectAs(url, agents[i], nil, nats.NoReconnect(), nats.SyncQueueLen(4))
				if err != nil {
					errs[i] = err
					continue
				}
				conns[i] = nc
				if subs[i], err = nc.SubscribeSync(wire.HuntSubject(prefix, agents[i].id)); err == nil {
					err = nc.Flush()
				}
				errs[i] = err
			}
		}()
	}
	for i := range agents {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	for i, err := range errs {
		if err != nil {
			fail("agent %d: %v", i, err)
		}
	}
	fmt.Printf("FLEET READY %v\n", elapsed.Round(time.Millisecond))

	for i, s := range subs {
		m, err := s.NextMsg(5 * time.Minute)
		if err != nil {
			fail("agent %d: no hunt: %v", i, err)
		}
		if string(m.Data) != agents[i].id {
			fail("agent %s got %q", agents[i].id, m.Data)
		}
		if extra, _, _ := s.Pending(); extra != 0 {
			fail("agent %s got %d extra messages", agents[i].id, extra)
		}
	}
	fmt.Println("FLEET HUNTS OK")
	// Wait for the parent to close stdin.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}
