// Package browsertest drives a real headless Chromium from a test, with
// chromedp: load a page, wait until a JavaScript condition holds, read
// the DOM, and keep a screenshot as a test artifact.
//
// # Finding the browser
//
// New uses the executable named by $STREAMS_CHROMIUM, else the first of
// /usr/bin/chromium, chromium, chromium-browser, google-chrome and
// google-chrome-stable found on $PATH. Without one the test is skipped,
// except under CI (the variable CI is set, as .ci/run and most CI
// services do), where a missing browser fails the test: CI installs
// Debian's chromium package and must not pass by skipping.
//
// # Flags
//
// The browser runs headless, without sandbox (tests often run as root in
// a container) or GPU, with a fresh profile in a temporary directory,
// and with every feature that reaches out to the network on its own
// switched off (QUIC, background networking, component updates, sync).
// On a machine without internet Chromium otherwise stalls on name
// lookups before it serves the page under test.
//
// # Artifacts
//
// Screenshot writes under $STREAMS_TEST_ARTIFACTS/<test name>/ when the
// variable is set (CI keeps that directory), else under the test's
// t.TempDir(), and logs the path.
//
// Every method fails the test (t.Fatal) on an error: a test reads as the
// steps it takes. When the test has failed, the cleanup logs the page's
// uncaught exceptions and console output and the tail of the browser's
// own output.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables read by this package.
const (
	// EnvBrowser names the browser executable to use.
	EnvBrowser = "STREAMS_CHROMIUM"
	// EnvArtifacts names the directory that receives screenshots.
	EnvArtifacts = "STREAMS_TEST_ARTIFACTS"
	// EnvCI, when set, turns a missing browser into a failure.
	EnvCI = "CI"
)

// candidates are the browsers Find tries, in order, after EnvBrowser.
var candidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// errNoBrowser is returned by Find when no browser is installed.
var errNoBrowser = errors.New("browsertest: no Chromium or Chrome found")

// Find returns the path of the browser to use: $STREAMS_CHROMIUM, which
// must then exist, or the first candidate found.
func Find() (string, error) {
	if p := os.Getenv(EnvBrowser); p != "" {
		full, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("browsertest: $%s=%q: %w", EnvBrowser, p, err)
		}
		return full, nil
	}
	for _, c := range candidates {
		if full, err := exec.LookPath(c); err == nil {
			return full, nil
		}
	}
	return "", fmt.Errorf("%w (tried %s; set $%s)", errNoBrowser, strings.Join(candidates, ", "), EnvBrowser)
}

// An Option changes how New starts the browser.
type Option interface{ apply(*config) }

type config struct {
	width, height int
	timeout       time.Duration
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Viewport sets the size of the page's viewport in CSS pixels. Default:
// 1280×800. A full-page screenshot is as wide as the viewport and as tall
// as the page.
func Viewport(width, height int) Option {
	return optionFunc(func(c *config) { c.width, c.height = width, height })
}

// Timeout bounds each action of a Browser that has no timeout of its own
// (Load, Eval, Text, Screenshot), and the browser's start. Default: 30s.
// WaitUntil takes its own.
func Timeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// Browser is one headless browser with one tab, owned by a test. It is
// not safe for concurrent use: the actions of a tab run in order.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab's chromedp context
	cfg config

	mu      sync.Mutex
	console []string // uncaught exceptions and console calls, in order
	errs    []string // uncaught exceptions only
}

// New starts a browser for t, or skips t when there is none (see the
// package doc). The browser stops, and its profile directory is removed,
// when t ends.
func New(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	cfg := config{width: 1280, height: 800, timeout: 30 * time.Second}
	for _, o := range opts {
		o.apply(&cfg)
	}
	path, err := Find()
	if err != nil {
		if os.Getenv(EnvCI) != "" && errors.Is(err, errNoBrowser) {
			t.Fatalf("%v; $%s is set, so the browser test must run", err, EnvCI)
		}
		if errors.Is(err, errNoBrowser) {
			t.Skip(err)
		}
		t.Fatal(err)
	}

	profile, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		t.Fatalf("browsertest: profile directory: %v", err)
	}
	out := &tail{max: 16 << 10}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, ctx: ctx, cfg: cfg}

	t.Cleanup(func() {
		if t.Failed() {
			b.logDiagnostics(out)
		}
		// Close gracefully, then make sure: cancelAlloc kills what is
		// left and waits for the process.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(cctx)
		cancel()
		cancelTab()
		cancelAlloc()
		removeProfile(t, profile)
	})

	// The first action starts the browser and binds its life to ctx, so
	// it must not run under a timeout; a watchdog bounds it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	timer := time.NewTimer(cfg.timeout)
	defer timer.Stop()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v\n%s", path, err, out.String())
		}
	case <-timer.C:
		cancelTab()
		<-started
		t.Fatalf("browsertest: %s did not start within %s\n%s", path, cfg.timeout, out.String())
	}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("browsertest: listening to the page: %v", err)
	}
	b.run("setting the viewport", chromedp.EmulateViewport(int64(cfg.width), int64(cfg.height)))
	return b
}

// removeProfile removes the profile directory; the browser's last
// writes may still land just after it exits, hence the retries.
func removeProfile(t testing.TB, dir string) {
	var err error
	for range 10 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("browsertest: removing the profile %s: %v", dir, err)
}

// record keeps the page's exceptions and console calls. It runs on the
// goroutine that reads the browser's messages, so it only appends.
func (b *Browser) record(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		line := fmt.Sprintf("exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg)
		b.mu.Lock()
		b.errs = append(b.errs, line)
		b.console = append(b.console, line)
		b.mu.Unlock()
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			switch {
			case a.Description != "":
				parts = append(parts, a.Description)
			case len(a.Value) > 0:
				parts = append(parts, string(a.Value))
			default:
				parts = append(parts, string(a.Type))
			}
		}
		b.mu.Lock()
		b.console = append(b.console, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
		b.mu.Unlock()
	}
}

// Exceptions returns the page's uncaught exceptions so far.
func (b *Browser) Exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

func (b *Browser) logDiagnostics(out *tail) {
	b.mu.Lock()
	console := strings.Join(b.console, "\n")
	b.mu.Unlock()
	if console != "" {
		b.t.Logf("browsertest: the page's exceptions and console output:\n%s", console)
	}
	// Without a system bus (containers, CI) Chromium logs a line per
	// D-Bus call it could not make; they say nothing about the page.
	var lines []string
	for line := range strings.Lines(out.String()) {
		if !strings.Contains(line, "dbus/") {
			lines = append(lines, line)
		}
	}
	if len(lines) > 0 {
		b.t.Logf("browsertest: the browser's output (tail, D-Bus errors left out):\n%s", strings.Join(lines, ""))
	}
}

// run runs a under the default timeout and fails the test on an error.
func (b *Browser) run(what string, a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, a); err != nil {
		b.t.Fatalf("browsertest: %s: %v", what, err)
	}
}

// Load navigates the tab to url and waits for the page's load event.
func (b *Browser) Load(url string) {
	b.t.Helper()
	b.run("loading "+url, chromedp.Navigate(url))
}

// WaitUntil waits until the JavaScript expression cond is truthy,
// polling every 50ms, and fails the test after timeout, showing what
// describe, a JavaScript expression (say the text of the element
// awaited), evaluates to then. An empty describe shows the page's text.
func (b *Browser) WaitUntil(cond, describe string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err == nil {
		return
	}
	if describe == "" {
		describe = "document.body ? document.body.innerText : ''"
	}
	dctx, dcancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer dcancel()
	var state string
	raw, derr := chromedp.Run(dctx, chromedp.Evaluate[[]byte](describe))
	if derr != nil {
		state = "(" + derr.Error() + ")"
	} else {
		state = string(raw)
	}
	b.t.Fatalf("browsertest: waiting %s for %s: %v\nthen %s = %s", timeout, cond, err, describe, state)
}

// Eval evaluates the JavaScript expression expr in the page and decodes
// its JSON value into a T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browsertest: evaluating %s: %v", expr, err)
	}
	return v
}

// Text returns the text content of the first element matching the CSS
// selector, and whether there is one.
func (b *Browser) Text(selector string) (string, bool) {
	b.t.Helper()
	type res struct {
		Found bool   `json:"found"`
		Text  string `json:"text"`
	}
	r := Eval[res](b, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? {found: true, text: e.textContent} : {found: false, text: ""}; })()`, jsString(selector)))
	return r.Text, r.Found
}

// Texts returns the text content of every element matching the CSS
// selector, in document order.
func (b *Browser) Texts(selector string) []string {
	b.t.Helper()
	return Eval[[]string](b, fmt.Sprintf(`Array.from(document.querySelectorAll(%s), e => e.textContent)`, jsString(selector)))
}

// HTML returns the page's serialised DOM as it is now (not as served).
func (b *Browser) HTML() string {
	b.t.Helper()
	return Eval[string](b, `document.documentElement.outerHTML`)
}

// Screenshot captures the whole page (as wide as the viewport, as tall
// as the page) as a PNG named name in the artifacts directory, logs its
// path and returns it.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	path := filepath.Join(ArtifactsDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("browsertest: screenshot: %v", err)
	}
	b.t.Logf("browsertest: screenshot %s", path)
	return path
}

// ArtifactsDir returns the directory for t's artifacts, made if needed:
// $STREAMS_TEST_ARTIFACTS/<test name> when the variable is set, else a
// directory of t.TempDir().
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv(EnvArtifacts)
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, safeName(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: artifacts directory: %v", err)
	}
	return dir
}

// safeName turns a test name (with / between subtests) into one path
// element.
func safeName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// tail keeps the last max bytes written to it; the browser's output goes
// there.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// WaitStepRates waits until the pipeline page (package observe) draws
// every step of steps with a numeric in-rate, out-rate and error rate
// (such as "123/s" or "1.5k/s"): the page has had two snapshots.
func (b *Browser) WaitStepRates(steps []string, timeout time.Duration) {
	b.t.Helper()
	names, err := json.Marshal(steps)
	if err != nil {
		b.t.Fatal(err)
	}
	b.WaitUntil(`(() => {
		const re = /^\d+(\.\d+)?[kMGT]?\/s$/;
		return `+string(names)+`.every(n => {
			const g = document.querySelector('g[data-step="' + n + '"]');
			return g && ["rate-in", "rate-out", "errors"].every(f => re.test(g.querySelector('[data-field="' + f + '"]')?.textContent ?? ""));
		});
	})()`, `Array.from(document.querySelectorAll("g[data-step]"), g => g.dataset.step + ": " + g.querySelector('[data-field="rate-in"]').textContent).join(", ")`, timeout)
}
