package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// progressInterval is how often the progress line is redrawn at most.
const progressInterval = 100 * time.Millisecond

// progress draws a one-line progress display on a terminal: files and
// bytes scanned, their rates, and the current path. It is made only when
// standard error is a terminal (see newProgress).
type progress struct {
	w     io.Writer
	fd    int
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	files   int64
	bytes   int64
	path    string
	changed bool
	drawn   bool // a line is on the screen
}

// newProgress returns a running progress display on stderr, or nil when
// stderr is not a terminal or disabled.
func newProgress(stderr io.Writer, disabled bool) *progress {
	f, ok := stderr.(*os.File)
	if disabled || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	p := &progress{w: f, fd: int(f.Fd()), start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.changed {
				width, _, err := term.GetSize(p.fd)
				if err != nil || width <= 0 {
					width = 80
				}
				line := renderProgress(p.files, p.bytes, time.Since(p.start), p.path, width)
				io.WriteString(p.w, "\r"+line+"\x1b[K")
				p.drawn, p.changed = true, false
			}
			p.mu.Unlock()
		}
	}
}

// file counts one file done. It is safe on a nil *progress.
func (p *progress) file(path string, size int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.files++
	if size > 0 {
		p.bytes += size
	}
	p.path = path
	p.changed = true
	p.mu.Unlock()
}

// finish stops the display and erases its line. It is safe on a nil
// *progress.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
}

// erase removes the line from the screen; the caller holds p.mu.
func (p *progress) erase() {
	if p.drawn {
		io.WriteString(p.w, "\r\x1b[K")
		p.drawn = false
		p.changed = true
	}
}

// guard returns a writer that erases the progress line before each write
// to w, so that results and messages never mix with it. With a nil
// *progress it returns w.
func (p *progress) guard(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return guardedWriter{p, w}
}

type guardedWriter struct {
	p *progress
	w io.Writer
}

func (g guardedWriter) Write(b []byte) (int, error) {
	g.p.mu.Lock()
	defer g.p.mu.Unlock()
	g.p.erase()
	return g.w.Write(b)
}

// renderProgress formats the progress line, at most width-1 columns:
// "1234 files, 5.6 MB, 120 files/s, 3.4 MB/s, PATH" with PATH shortened
// from the left. Control characters of a path (which could drive the
// terminal) are shown as '?'.
func renderProgress(files, bytes int64, elapsed time.Duration, path string, width int) string {
	secs := elapsed.Seconds()
	var fps, bps float64
	if secs > 0 {
		fps, bps = float64(files)/secs, float64(bytes)/secs
	}
	head := fmt.Sprintf("%d files, %s, %.0f files/s, %s/s", files, humanBytes(float64(bytes)), fps, humanBytes(bps))
	limit := width - 1
	if utf8.RuneCountInString(head) >= limit {
		return string([]rune(head)[:max(0, limit)])
	}
	room := limit - utf8.RuneCountInString(head) - 2
	p := []rune(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, path))
	if room < 4 || len(p) == 0 {
		return head
	}
	if len(p) > room {
		p = append([]rune("..."), p[len(p)-(room-3):]...)
	}
	return head + ", " + string(p)
}

// humanBytes formats a byte count with a decimal unit: 999 B, 1.2 kB,
// 3.4 MB, 5.6 GB.
func humanBytes(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
