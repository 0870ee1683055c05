package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/server"
	"vigil/server/api"
	"vigil/translog"
	"vigil/witness"
)

func TestWitnessCommand(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	l := ltHonestLog(t, logS)
	f := newLtServer(t, l, logKey)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "witness.key")
	if code, out, errOut := ltRun(t, "", (*env).keyCmd, "create", "--name", "witness-a", "--out", keyFile); code != 0 {
		t.Fatalf("key create: %d\n%s%s", code, out, errOut)
	}
	wv, err := readVerifierKey(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	args := []string{"--server", f.srv.URL, "--key", keyFile, "--state", state, "--log-key", logKey, "--once"}

	code, out, errOut := ltRun(t, "", (*env).witnessCmd, args...)
	if code != 0 {
		t.Fatalf("witness --once: %d\n%s%s", code, out, errOut)
	}
	posted := f.posted()
	if len(posted) != 1 {
		t.Fatalf("%d cosignatures posted, want 1", len(posted))
	}
	lv, _ := note.NewVerifier(logKey)
	wver, _ := note.NewVerifier(wv)
	n, err := note.Open(posted[0], note.VerifierList(lv, wver))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("posted note: %v\n%s", err, posted[0])
	}

	// The log is rewritten: refused, evidence kept, nothing posted.
	forked, _ := translog.New(translog.NewMemoryStorage(), logS)
	for _, id := range []string{"x1", "x2", "x3", "x4", "x5"} {
		ltAppend(t, forked, translog.KindHunt, ltEncode(t, ltHunt(t, id, translog.LintCode, "mallory")))
	}
	f.set(forked)
	code, out, errOut = ltRun(t, "", (*env).witnessCmd, args...)
	if code != exitError || !strings.Contains(errOut, "fork detected") || !strings.Contains(errOut, "REFUSED") {
		t.Fatalf("witness on a fork: %d\n%s%s", code, out, errOut)
	}
	if len(f.posted()) != 1 {
		t.Fatal("a forked checkpoint was cosigned")
	}
	evs, err := witness.ReadEvidence(state)
	if err != nil || len(evs) != 1 || evs[0].TrustedSize != 4 || evs[0].OfferedSize != 5 {
		t.Fatalf("evidence %+v, %v", evs, err)
	}

	// Usage errors.
	if code, _, _ := ltRun(t, "", (*env).witnessCmd, "--server", f.srv.URL, "--state", state); code != exitUsage {
		t.Errorf("missing --key: %d", code)
	}
	if code, _, errOut := ltRun(t, "", (*env).witnessCmd, "--server", f.srv.URL, "--key", keyFile+".pub", "--state", state, "--once"); code != exitError || !strings.Contains(errOut, "not a private key") {
		t.Errorf("public key as --key: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(state, witness.LogKeyFile)); err != nil {
		t.Errorf("log key not pinned: %v", err)
	}
}

// TestAccountabilityWithRealServer runs the approval, witness and audit
// commands against a real server: an approver registers a key and approves
// a hunt, a witness cosigns the log, and `vigil log verify` checks it.
func TestAccountabilityWithRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	dir := t.TempDir()
	wkey := filepath.Join(dir, "witness.key")
	bkey := filepath.Join(dir, "bob.key")
	for _, k := range [][2]string{{"witness-a", wkey}, {"bob", bkey}} {
		if code, out, errOut := ltRun(t, "", (*env).keyCmd, "create", "--name", k[0], "--out", k[1]); code != 0 {
			t.Fatalf("key create %s: %d\n%s%s", k[0], code, out, errOut)
		}
	}
	wpub, err := readVerifierKey(wkey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{DataDir: filepath.Join(dir, "server"), HTTPAddr: "127.0.0.1:0", NATSPort: -1,
		MinApprovals: 1, MinDocumentApprovals: 1, Witnesses: []string{wpub}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 30*time.Second)
		defer c()
		srv.Shutdown(sctx)
	})
	url := srv.URL()
	admin := api.NewClient(url, srv.AdminToken())
	alice, err := admin.CreateOperator(ctx, api.OperatorRequest{Name: "alice", Role: "hunter"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := admin.CreateOperator(ctx, api.OperatorRequest{Name: "bob", Role: "approver"})
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := ltRun(t, "", (*env).keyCmd, "register", bkey+".pub", "--server", url, "--token", bob.Token); code != 0 {
		t.Fatalf("key register: %d\n%s%s", code, out, errOut)
	}
	h, err := api.NewClient(url, alice.Token).CreateHunt(ctx, api.HuntRequest{
		Rules: "rule mz { strings: $a = { 4D 5A 90 00 } condition: $a }\n", Paths: []string{filepath.Join(dir, "files")}, Why: "incident 7"})
	if err != nil {
		t.Fatal(err)
	}
	if h.State != "pending" {
		t.Fatalf("new hunt is %s, want pending", h.State)
	}
	code, out, errOut := ltRun(t, "", (*env).huntApprove, h.ID, "--key", bkey, "--yes", "--server", url, "--token", bob.Token)
	if code != 0 || !strings.Contains(out, "approved hunt "+h.ID+": running") {
		t.Fatalf("hunt approve: %d\n%s%s", code, out, errOut)
	}

	state := filepath.Join(dir, "witness")
	if code, out, errOut := ltRun(t, "", (*env).witnessCmd, "--server", url, "--key", wkey, "--state", state, "--once"); code != 0 {
		t.Fatalf("witness: %d\n%s%s", code, out, errOut)
	}
	lk, err := admin.LogKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := admin.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lv, _ := note.NewVerifier(lk.Key)
	wv, _ := note.NewVerifier(wpub)
	if n, err := note.Open(cp, note.VerifierList(lv, wv)); err != nil || len(n.Sigs) != 2 {
		t.Fatalf("served checkpoint is not cosigned by the witness: %v\n%s", err, cp)
	}

	cpFile := filepath.Join(dir, "audit.checkpoint")
	code, out, errOut = ltRun(t, "", (*env).logCmd, "verify", "--server", url, "--log-key", lk.Key, "--checkpoint", cpFile)
	if code != 0 || !strings.Contains(out, "approval 1, hunt 1") {
		t.Fatalf("log verify: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = ltRun(t, "", (*env).logCmd, "show", "--server", url)
	if code != 0 || !strings.Contains(out, "hunt "+h.ID+" by alice") || !strings.Contains(out, "approval of hunt "+h.ID+" (entry 0) by bob") {
		t.Fatalf("log show: %d\n%s%s", code, out, errOut)
	}
}
