package pe

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test samples are built at test time, never committed: Go programs cross
// compiled for windows/amd64 and windows/386, and, where the Debian
// mingw-w64 toolchain is installed (gcc-mingw-w64-x86-64,
// gcc-mingw-w64-i686), C programs and a DLL with exports, forwarders,
// ordinal and delayed imports and resources. Where osslsigncode is
// installed, some are Authenticode-signed with certificates made here,
// including a nested signature. A missing tool skips its samples.

type sample struct {
	name string
	path string
}

var (
	samplesOnce sync.Once
	samplesDir  string
	samplesList []sample
	samplesLog  []string // why samples were skipped
)

func TestMain(m *testing.M) {
	code := m.Run()
	if samplesDir != "" && os.Getenv("VIGIL_PE_KEEP") == "" {
		os.RemoveAll(samplesDir)
	}
	os.Exit(code)
}

// samples builds the samples once per test binary and returns them.
func samples(t testing.TB) []sample {
	t.Helper()
	samplesOnce.Do(buildSamples)
	for _, l := range samplesLog {
		t.Log(l)
	}
	if len(samplesList) == 0 {
		t.Skip("no sample could be built")
	}
	return samplesList
}

func skipped(format string, args ...any) {
	samplesLog = append(samplesLog, "sample skipped: "+fmt.Sprintf(format, args...))
}

func run(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func addSample(name string) {
	samplesList = append(samplesList, sample{name, filepath.Join(samplesDir, name)})
}

func buildSamples() {
	dir, err := os.MkdirTemp("", "vigil-pe-samples-")
	if err != nil {
		skipped("%v", err)
		return
	}
	samplesDir = dir
	buildGo()
	buildMingw()
	signSamples()
}

const goProgram = `package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println(len(os.Args)) }
`

func buildGo() {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			skipped("go: %v", err)
			return
		}
	}
	if err := os.WriteFile(filepath.Join(samplesDir, "main.go"), []byte(goProgram), 0o600); err != nil {
		skipped("go: %v", err)
		return
	}
	for _, arch := range []string{"amd64", "386"} {
		out := "go-" + arch + ".exe"
		env := []string{"GOOS=windows", "GOARCH=" + arch, "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS="}
		if err := run(samplesDir, env, gobin, "build", "-trimpath", "-o", out, "main.go"); err != nil {
			skipped("go %s: %v", arch, err)
			continue
		}
		addSample(out)
	}
}

// The mingw samples: a DLL with named, ordinal-only and forwarded
// exports and resources (version information, a named type, languages,
// a string table), and a program that imports from it with delayed
// loading, and from WS2_32 and OLEAUT32 by ordinal.
const (
	mingwLib = `int add(int a, int b) { return a + b; }
int Sub(int a, int b) { return a - b; }
int anon(void) { return 8; }
int __stdcall DllMain(void* h, unsigned long r, void* p) { return 1; }
`
	mingwLibDef = `LIBRARY mylib.dll
EXPORTS
  add @1
  Sub @2
  anon @7 NONAME
  fwd_tick = KERNEL32.GetTickCount @3
`
	mingwRC = `1 VERSIONINFO
FILEVERSION 1,2,3,4
PRODUCTVERSION 5,6,7,8
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904b0"
    BEGIN
      VALUE "CompanyName", "Vigil Test\0"
      VALUE "FileDescription", "Test DLL \251 2026\0"
      VALUE "FileVersion", "1.2.3.4\0"
      VALUE "Empty", "\0"
      VALUE "OriginalFilename", "mylib.dll\0"
    END
    BLOCK "040704b0"
    BEGIN
      VALUE "CompanyName", "Vigil Test (de)\0"
      VALUE "Kommentar", "zwei Tabellen\0"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x409, 1200
  END
END
MYDATA MYTYPE { "hello\0" }
LANGUAGE 0x07, 0x01
2 RCDATA { "german\0" }
LANGUAGE 0x09, 0x01
2 RCDATA { "english\0" }
STRINGTABLE { 1 "one" 2 "two" }
`
	mingwMain = `int add(int, int);
int Sub(int, int);
int accept(int, void*, void*);
void* SysAllocString(const void*);
__declspec(dllimport) unsigned long __stdcall GetTickCount(void);
__declspec(dllimport) int __stdcall MessageBoxA(void*, const char*, const char*, unsigned);
int main(int argc, char** argv) {
  if (argc > 5) { accept(0, 0, 0); SysAllocString(0); MessageBoxA(0, "x", "y", 0); }
  return add(argc, 1) + Sub(2, 1) + (int) GetTickCount();
}
`
	mingwWSDef      = "LIBRARY WS2_32.dll\nEXPORTS\n  accept @1 NONAME\n"
	mingwOleDef     = "LIBRARY OLEAUT32.dll\nEXPORTS\n  SysAllocString @2 NONAME\n"
	mingwMyDelayDef = "LIBRARY mylib.dll\nEXPORTS\n  add\n  Sub\n"
)

func buildMingw() {
	files := map[string]string{
		"lib.c": mingwLib, "lib.def": mingwLibDef, "lib.rc": mingwRC, "main.c": mingwMain,
		"ws.def": mingwWSDef, "ole.def": mingwOleDef, "mydelay.def": mingwMyDelayDef,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(samplesDir, name), []byte(text), 0o600); err != nil {
			skipped("mingw: %v", err)
			return
		}
	}
	for _, arch := range []string{"x86_64", "i686"} {
		p := arch + "-w64-mingw32-"
		if _, err := exec.LookPath(p + "gcc"); err != nil {
			skipped("mingw %s: %v (apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686)", arch, err)
			continue
		}
		dll, exe := "mylib-"+arch+".dll", "main-"+arch+".exe"
		steps := [][]string{
			{p + "windres", "lib.rc", "-O", "coff", "-o", "lib-" + arch + ".res"},
			{p + "gcc", "-shared", "-o", dll, "lib.c", "lib.def", "lib-" + arch + ".res"},
			{p + "dlltool", "-d", "ws.def", "-l", "libws-" + arch + ".a"},
			{p + "dlltool", "-d", "ole.def", "-l", "libole-" + arch + ".a"},
			{p + "dlltool", "-d", "mydelay.def", "-y", "libmydelay-" + arch + ".a"},
			{p + "gcc", "-o", exe, "main.c", "libmydelay-" + arch + ".a", "libws-" + arch + ".a", "libole-" + arch + ".a", "-luser32", "-lkernel32"},
		}
		var err error
		for _, s := range steps {
			if err = run(samplesDir, nil, s[0], s[1:]...); err != nil {
				break
			}
		}
		if err != nil {
			skipped("mingw %s: %v", arch, err)
			continue
		}
		addSample(dll)
		addSample(exe)
		if err := setDelayDirectory(p+"nm", exe); err != nil {
			skipped("mingw %s delayed imports: %v", arch, err)
			continue
		}
		addSample("delay-" + exe)
	}
}

// setDelayDirectory writes a copy of exe whose delay-import data directory
// points at the descriptor dlltool made: GNU ld leaves the directory empty.
func setDelayDirectory(nm, exe string) error {
	out, err := exec.Command(nm, filepath.Join(samplesDir, exe)).Output()
	if err != nil {
		return err
	}
	var va uint64
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[2], "__DELAY_IMPORT_DESCRIPTOR_") {
			va, err = strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				return err
			}
		}
	}
	if va == 0 {
		return fmt.Errorf("no delay import descriptor symbol")
	}
	data, err := os.ReadFile(filepath.Join(samplesDir, exe))
	if err != nil {
		return err
	}
	f := parse(data)
	if !f.isPE {
		return fmt.Errorf("not a PE")
	}
	dir := f.dataDirectories() + directoryDelayLoad*dataDirectorySize
	binary.LittleEndian.PutUint32(data[dir:], uint32(va-f.imageBase()))
	binary.LittleEndian.PutUint32(data[dir+4:], 2*delayDescriptorSize)
	return os.WriteFile(filepath.Join(samplesDir, "delay-"+exe), data, 0o600)
}

// Certificates for signing. Their names exercise yara's (OpenSSL's)
// formatting: a multi-valued RDN, '/' and '+' in values, UTF-8, a
// BMPString, a T61String, an attribute OpenSSL has no name for, and a
// name longer than yara's 256-byte buffer.

func rdn(oid asn1.ObjectIdentifier, value any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: value}
}

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidL  = asn1.ObjectIdentifier{2, 5, 4, 7}
)

func fancyName() pkix.RDNSequence {
	bmp := asn1.RawValue{Tag: 30, Class: 0, Bytes: []byte{0, 'B', 0, 'M', 0, 'P', 0x00, 0xe9}}
	t61 := asn1.RawValue{Tag: 20, Class: 0, Bytes: []byte("T61 \xe9")}
	return pkix.RDNSequence{
		{rdn(oidC, "US")},
		{rdn(oidO, "Vigil/Test+Org, Inc."), rdn(oidOU, "Multi Valued")},
		{rdn(oidL, asn1.RawValue{Tag: 12, Bytes: []byte("Zürich\ttab")})},
		{rdn(oidOU, bmp)},
		{rdn(oidOU, t61)},
		{rdn(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.RawValue{Tag: 22, Bytes: []byte("a@b.example")})},
		{rdn(asn1.ObjectIdentifier{1, 2, 3, 4, 5}, "unknown attribute")},
		{rdn(oidCN, "Vigil Code Signing")},
	}
}

func longName() pkix.RDNSequence {
	var seq pkix.RDNSequence
	for i := 0; i < 8; i++ {
		seq = append(seq, []pkix.AttributeTypeAndValue{rdn(oidOU, fmt.Sprintf("Organizational unit number %d of a long name", i))})
	}
	return append(seq, []pkix.AttributeTypeAndValue{rdn(oidCN, "Long")})
}

// makeCert writes a self-signed certificate and its key as PEM files.
func makeCert(base string, name pkix.RDNSequence, serial *big.Int, alg x509.SignatureAlgorithm) (certPath, keyPath string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	raw, err := asn1.Marshal(name)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		RawSubject:         raw,
		RawIssuer:          raw,
		NotBefore:          time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:           time.Date(2051, 6, 7, 8, 9, 10, 0, time.UTC), // GeneralizedTime
		KeyUsage:           x509.KeyUsageDigitalSignature,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		SignatureAlgorithm: alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	certPath = filepath.Join(samplesDir, base+".pem")
	keyPath = filepath.Join(samplesDir, base+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	kb := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return certPath, keyPath, os.WriteFile(keyPath, kb, 0o600)
}

func signSamples() {
	if _, err := exec.LookPath("osslsigncode"); err != nil {
		skipped("signed samples: %v", err)
		return
	}
	var targets []string
	for _, s := range samplesList {
		if s.name == "go-amd64.exe" || strings.HasPrefix(s.name, "mylib-") {
			targets = append(targets, s.name)
		}
	}
	serial1, _ := new(big.Int).SetString("00f1e2d3c4b5a697887766554433221100aabbcc", 16)
	c1, k1, err := makeCert("cert1", fancyName(), serial1, x509.SHA256WithRSA)
	if err != nil {
		skipped("certificate: %v", err)
		return
	}
	c2, k2, err := makeCert("cert2", longName(), big.NewInt(0x80), x509.SHA384WithRSA)
	if err != nil {
		skipped("certificate: %v", err)
		return
	}
	for _, in := range targets {
		signed := "signed-" + in
		if err := run(samplesDir, nil, "osslsigncode", "sign", "-certs", c1, "-key", k1, "-n", "Vigil", "-in", in, "-out", signed); err != nil {
			skipped("sign %s: %v", in, err)
			continue
		}
		addSample(signed)
		patchSigner(signed)
		nested := "nested-" + in
		if err := run(samplesDir, nil, "osslsigncode", "sign", "-nest", "-h", "sha1", "-certs", c2, "-key", k2, "-in", signed, "-out", nested); err != nil {
			skipped("nested sign %s: %v", in, err)
			continue
		}
		addSample(nested)
	}
}

// patchSigner writes two copies of a signed sample whose signer names its
// certificate's issuer differently: in other letter case (OpenSSL's
// canonical name comparison still finds the certificate) and with another
// letter (it does not, so yara reports no signature).
func patchSigner(signed string) {
	data, err := os.ReadFile(filepath.Join(samplesDir, signed))
	if err != nil {
		skipped("patch %s: %v", signed, err)
		return
	}
	// The signer info follows the certificates: the last occurrence of
	// the issuer's common name is the signer's.
	i := bytes.LastIndex(data, []byte("Vigil Code Signing"))
	if i < 0 {
		skipped("patch %s: issuer name not found", signed)
		return
	}
	for prefix, repl := range map[string]string{"case-": "vIGIL cODE sIGNING", "other-": "Vigil Code Signinh"} {
		b := append([]byte(nil), data...)
		copy(b[i:], repl)
		if err := os.WriteFile(filepath.Join(samplesDir, prefix+signed), b, 0o600); err != nil {
			skipped("patch %s: %v", signed, err)
			continue
		}
		addSample(prefix + signed)
	}
}

// TestSamplesAgainstYara compares the data of every built sample with yara.
func TestSamplesAgainstYara(t *testing.T) {
	total := map[string][2]int{}
	for _, s := range samples(t) {
		for g, c := range checkAgainstYara(t, s.name, s.path) {
			x := total[g]
			total[g] = [2]int{x[0] + c[0], x[1] + c[1]}
		}
	}
	logGroups(t, total)
}
