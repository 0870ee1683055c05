package cli

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/translog"
)

// Approval and witness keys are note keys (golang.org/x/mod/sumdb/note):
// `vigil key create` writes the private signer key to FILE (mode 0600) and
// the public verifier key to FILE.pub. The private key never leaves the
// machine: `vigil key register` sends only FILE.pub, and `vigil hunt
// approve` signs locally.

// privateKeyPrefix starts every note signer key.
const privateKeyPrefix = "PRIVATE+KEY+"

// maxKeyFile bounds a key file read.
const maxKeyFile = 64 << 10

// keyCmd is `vigil key`: create and register note keys.
func (e *env) keyCmd(args []string) int {
	return e.dispatch("key", args, map[string]func(*env, []string) int{
		"create":   (*env).keyCreate,
		"register": (*env).keyRegister,
	}, "vigil key: make and register approval and witness keys.")
}

func (e *env) keyCreate(args []string) int {
	s := newSub(e, "key create", `Usage: vigil key create --name NAME --out FILE
Makes a new key pair: FILE holds the private key (mode 0600, keep it secret),
FILE.pub the public verifier key. For approving hunts NAME must be your
operator name; register FILE.pub with 'vigil key register FILE.pub'.`)
	name := s.fs.String("name", "", "key `NAME` (your operator name, or the witness's name)")
	out := s.fs.String("out", "", "write the private key to `FILE` and the public key to FILE.pub")
	help := s.fs.BoolP("help", "h", false, "show this help and exit")
	if err := s.fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "vigil key create: %v\n%s\n", err, s.usage)
		return exitUsage
	}
	if *help {
		fmt.Fprintf(e.stdout, "%s\n\n%s", s.usage, s.fs.FlagUsages())
		return exitOK
	}
	if s.fs.NArg() != 0 || *name == "" || *out == "" {
		fmt.Fprintf(e.stderr, "vigil key create: --name and --out are required\n%s\n", s.usage)
		return exitUsage
	}
	vkey, err := createKeyFiles(*name, *out)
	if err != nil {
		return s.fail(err)
	}
	fmt.Fprintf(e.stdout, "private key: %s (keep it secret)\npublic key:  %s.pub\n%s\n", *out, *out, vkey)
	return exitOK
}

// createKeyFiles generates a note key pair named name and writes path
// (signer key, 0600) and path.pub (verifier key). It refuses to overwrite
// either file.
func createKeyFiles(name, path string) (vkey string, err error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err == nil {
		// GenerateKey does not check the name; a key that does not parse
		// back is useless.
		if _, err = note.NewSigner(skey); err == nil {
			_, err = note.NewVerifier(vkey)
		}
	}
	if err != nil {
		return "", fmt.Errorf("key name %q is not valid (no spaces, no '+'): %w", name, err)
	}
	pub := path + ".pub"
	if _, err := os.Lstat(pub); err == nil {
		return "", fmt.Errorf("%s already exists", pub)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := writeNewFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := writeNewFile(pub, []byte(vkey+"\n"), 0o644); err != nil {
		os.Remove(path)
		return "", err
	}
	return vkey, nil
}

// writeNewFile creates path (it must not exist) with perm and writes b.
func writeNewFile(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s already exists", path)
		}
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// readSmallFile reads a key or checkpoint file of at most max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}

// readSigner reads a private note key from path. Errors never quote the
// key. It warns on w when the file is readable by others.
func readSigner(path string, w io.Writer) (note.Signer, error) {
	b, err := readSmallFile(path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	skey := strings.TrimSpace(string(b))
	if !strings.HasPrefix(skey, privateKeyPrefix) {
		return nil, fmt.Errorf("%s is not a private key made by 'vigil key create'", path)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed private key", path)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && w != nil {
			fmt.Fprintf(w, "warning: private key %s is readable by others (mode %v); chmod 600 it\n", path, fi.Mode().Perm())
		}
	}
	return signer, nil
}

// readVerifierKey reads a public note key from path.
func readVerifierKey(path string) (string, error) {
	b, err := readSmallFile(path, maxKeyFile)
	if err != nil {
		return "", err
	}
	vkey := strings.TrimSpace(string(b))
	if strings.HasPrefix(vkey, privateKeyPrefix) {
		return "", fmt.Errorf("%s is a private key: use the public key (FILE.pub) instead", path)
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("%s: not a public key made by 'vigil key create': %w", path, err)
	}
	return vkey, nil
}

// readKeyPair reads the private key at path and its public key at
// path.pub, and checks that they belong together.
func readKeyPair(path string, w io.Writer) (note.Signer, string, error) {
	signer, err := readSigner(path, w)
	if err != nil {
		return nil, "", err
	}
	vkey, err := readVerifierKey(path + ".pub")
	if err != nil {
		return nil, "", err
	}
	v, _ := note.NewVerifier(vkey)
	msg := []byte("vigil key pair check\n")
	sig, err := signer.Sign(msg)
	if err != nil {
		return nil, "", err
	}
	if v.Name() != signer.Name() || v.KeyHash() != signer.KeyHash() || !v.Verify(msg, sig) {
		return nil, "", fmt.Errorf("%s.pub is not the public key of %s", path, path)
	}
	return signer, vkey, nil
}

// keyArg accepts a note verifier key given inline or as a file holding one.
func keyArg(s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := note.NewVerifier(s); err == nil {
		return s, nil
	}
	if strings.HasPrefix(s, privateKeyPrefix) {
		return "", errors.New("that is a private key: give the public key")
	}
	if vkey, err := readVerifierKey(s); err == nil {
		return vkey, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return "", fmt.Errorf("%q is neither a public key (name+hash+key) nor a file holding one", s)
}

func (e *env) keyRegister(args []string) int {
	s := newSub(e, "key register", `Usage: vigil key register FILE.pub [--server URL] [--token TOKEN]
Registers your public approval key with the server. The key's name must be
your operator name. Agents trust approvals signed by it only if their own
policy lists it.`)
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	vkey, err := readVerifierKey(s.fs.Arg(0))
	if err != nil {
		return s.fail(err)
	}
	v, _ := note.NewVerifier(vkey)
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	me, err := c.Whoami(s.ctx())
	if err != nil {
		return s.fail(err)
	}
	if v.Name() != me.Name {
		return s.fail(fmt.Errorf("the key is named %q but you are operator %q: make a key with --name %s", v.Name(), me.Name, me.Name))
	}
	o, err := c.SetKey(s.ctx(), api.KeyRequest{Key: vkey})
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(o)
	}
	fmt.Fprintf(e.stdout, "registered approval key for operator %s:\n%s\n", o.Name, o.Key)
	return exitOK
}

// huntApprove is `vigil hunt approve HUNT_ID --key FILE`: it shows what
// the hunt's log entry says and signs that entry with the approver's key.
func (e *env) huntApprove(args []string) int {
	s := newSub(e, "hunt approve", `Usage: vigil hunt approve HUNT_ID --key FILE [--yes]
Shows the hunt as its transparency-log entry records it, asks for confirmation,
signs the entry with your private key (FILE, with FILE.pub beside it) and sends
the signed approval. The key never leaves this machine.`)
	keyFile := s.fs.String("key", "", "your private approval key `FILE` (from 'vigil key create')")
	yes := s.fs.Bool("yes", false, "approve without asking")
	if ok, code := s.parse(args, func(n int) bool { return n == 1 }); !ok {
		return code
	}
	if *keyFile == "" {
		fmt.Fprintf(e.stderr, "vigil hunt approve: --key is required\n%s\n", s.usage)
		return exitUsage
	}
	id := s.fs.Arg(0)
	signer, vkey, err := readKeyPair(*keyFile, e.stderr)
	if err != nil {
		return s.fail(err)
	}
	c, err := s.cf.client()
	if err != nil {
		return s.fail(err)
	}
	h, err := c.Hunt(s.ctx(), id)
	if err != nil {
		return s.fail(err)
	}
	if h.Entry == "" || h.LogIndex < 0 {
		return s.fail(fmt.Errorf("the server sent no log entry for hunt %s: nothing to approve", id))
	}
	he, err := translog.DecodeHunt([]byte(h.Entry))
	if err != nil {
		return s.fail(fmt.Errorf("the hunt's log entry: %w", err))
	}
	if he.HuntID != id {
		return s.fail(fmt.Errorf("the server's log entry is for hunt %q, not %q", he.HuntID, id))
	}
	if h.Rules != "" {
		sum := sha256.Sum256([]byte(h.Rules))
		if hex.EncodeToString(sum[:]) != he.RulesSHA256 {
			return s.fail(fmt.Errorf("the rules the server sent do not match the SHA-256 in the hunt's log entry: refusing to approve"))
		}
	}
	if he.Requester == signer.Name() {
		return s.fail(fmt.Errorf("you (%s) requested this hunt: another approver must approve it", he.Requester))
	}
	if !he.Expires.IsZero() && time.Now().After(he.Expires) {
		return s.fail(fmt.Errorf("hunt %s expired at %s", id, fmtTime(he.Expires)))
	}
	out := e.stdout
	if s.cf.json {
		out = e.stderr // keep stdout for the JSON reply
	}
	showHuntEntry(out, he, &h, signer.Name())
	if !*yes {
		fmt.Fprintf(out, "Approve hunt %s as %s? [y/N] ", id, signer.Name())
		line, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintf(e.stderr, "hunt %s not approved\n", id)
			return exitError
		}
	}
	a, err := translog.NewApproval(signer, vkey, []byte(h.Entry), h.LogIndex, time.Now())
	if err != nil {
		return s.fail(err)
	}
	enc, err := a.Encode()
	if err != nil {
		return s.fail(err)
	}
	got, err := c.ApproveHunt(s.ctx(), id, api.ApprovalRequest{Entry: string(enc)})
	if err != nil {
		return s.fail(err)
	}
	if s.cf.json {
		return s.printJSON(got)
	}
	fmt.Fprintf(e.stdout, "approved hunt %s: %s, %d of %d approvals\n", got.ID, got.State, len(got.Approvals), got.ApprovalsRequired)
	return exitOK
}

// showHuntEntry prints what an approver is about to sign.
func showHuntEntry(w io.Writer, he *translog.HuntEntry, h *api.Hunt, approver string) {
	target := he.Target
	if target == "" {
		target = "(every agent)"
	}
	class := he.LintClass
	if class == translog.LintDocument {
		class += " (keyword or document search: it reads people's documents)"
	}
	content := "no file content leaves the machines"
	if he.ContentCollection {
		content = "FILE CONTENT MAY BE COLLECTED"
	}
	l := he.Limits
	fmt.Fprintf(w, "Hunt %s (log entry %d), to be approved by %s\n", he.HuntID, h.LogIndex, approver)
	fmt.Fprintf(w, "  name:       %s\n", orDash(he.Name))
	fmt.Fprintf(w, "  requester:  %s, %s\n", he.Requester, fmtTime(he.Created))
	fmt.Fprintf(w, "  why:        %s\n", he.Why)
	fmt.Fprintf(w, "  target:     %s\n", target)
	fmt.Fprintf(w, "  paths:      %s\n", strings.Join(he.Paths, " "))
	if len(he.Exclude) > 0 {
		fmt.Fprintf(w, "  exclude:    %s\n", strings.Join(he.Exclude, " "))
	}
	fmt.Fprintf(w, "  lint class: %s\n", class)
	fmt.Fprintf(w, "  rules:      sha256 %s\n", he.RulesSHA256)
	fmt.Fprintf(w, "  content:    %s\n", content)
	fmt.Fprintf(w, "  limits:     max file size %d, max files %d, per-file timeout %s, timeout %s, archives %v (depth %d), follow symlinks %v\n",
		l.MaxFileSize, l.MaxFiles, l.PerFileTimeout, l.Timeout, l.Archives, l.MaxArchiveDepth, l.FollowSymlinks)
	fmt.Fprintf(w, "  expires:    %s\n", fmtTime(he.Expires))
	fmt.Fprintf(w, "  approvals:  %d logged, %d required\n", len(h.Approvals), he.ApprovalsRequired)
	if h.Rules != "" {
		fmt.Fprintf(w, "----- rules (sha256 verified) -----\n%s", h.Rules)
		if !strings.HasSuffix(h.Rules, "\n") {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "-----------------------------------\n")
	} else {
		fmt.Fprintf(w, "  (the server did not send the rule text)\n")
	}
}
