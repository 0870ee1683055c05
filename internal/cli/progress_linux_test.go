package cli

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the master and the slave side.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestProgressTerminal: on a terminal the display shows, results are
// written on clean lines, and the line is erased at the end.
func TestProgressTerminal(t *testing.T) {
	master, slave := openPTY(t)
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&got, master) // ends when the slave side is closed
		close(read)
	}()
	p := newProgress(slave, false)
	if p == nil {
		t.Fatal("no progress display on a terminal")
	}
	if newProgress(slave, true) != nil {
		t.Error("progress display made when disabled")
	}
	p.file("dir/first", 1000)
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		drawn := p.drawn
		p.mu.Unlock()
		if drawn {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("progress never drawn")
		}
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(p.guard(slave), "RESULT dir/first\n")
	p.finish()
	slave.Close()
	<-read
	s := got.String()
	// The pty turns \n into \r\n.
	for _, want := range []string{"\r1 files, 1.0 kB, ", "dir/first\x1b[K", "\r\x1b[KRESULT dir/first\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output %q lacks %q", s, want)
		}
	}
	if i, j := strings.LastIndex(s, "files/s"), strings.LastIndex(s, "\r\x1b[K"); j < i {
		t.Errorf("display not erased at the end: %q", s)
	}
}
