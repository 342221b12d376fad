package browsertest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>t</title></head>
<body><h1 id="title">waiting</h1><p class="item">a</p><p class="item">b</p>
<script>setTimeout(() => { document.getElementById("title").textContent = "ready"; }, 200);</script>
</body></html>`

func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()

	b := New(t, Viewport(640, 480))
	b.Load(srv.URL)
	b.WaitUntil(`document.getElementById("title").textContent === "ready"`, `document.getElementById("title").textContent`, 10*time.Second)
	if got, ok := b.Text("#title"); !ok || got != "ready" {
		t.Errorf("Text(#title) = %q, %v", got, ok)
	}
	if _, ok := b.Text("#missing"); ok {
		t.Error("Text(#missing) found an element")
	}
	if got := b.Texts(`p[class="item"]`); strings.Join(got, ",") != "a,b" {
		t.Errorf("Texts = %q", got)
	}
	if n := Eval[int](b, `window.innerWidth`); n != 640 {
		t.Errorf("innerWidth = %d, want 640", n)
	}
	if !strings.Contains(b.HTML(), `<h1 id="title">ready</h1>`) {
		t.Error("HTML lacks the updated title")
	}
	path := b.Screenshot("page.png")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", path)
	}
	if ex := b.Exceptions(); len(ex) != 0 {
		t.Errorf("exceptions: %q", ex)
	}
}

func TestFindHonoursTheVariable(t *testing.T) {
	t.Setenv(EnvBrowser, filepath.Join(t.TempDir(), "no-such-browser"))
	if _, err := Find(); err == nil || !strings.Contains(err.Error(), EnvBrowser) {
		t.Errorf("Find with a missing $%s: %v", EnvBrowser, err)
	}
}

func TestArtifactsDir(t *testing.T) {
	root := t.TempDir()
	t.Setenv(EnvArtifacts, root)
	t.Run("sub/test", func(t *testing.T) {
		dir := ArtifactsDir(t)
		if want := filepath.Join(root, "TestArtifactsDir_sub_test"); dir != want {
			t.Errorf("ArtifactsDir = %s, want %s", dir, want)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Errorf("%s not made: %v", dir, err)
		}
	})
}

func TestJSString(t *testing.T) {
	for in, want := range map[string]string{
		`a[data-step="x"]`: `"a[data-step=\"x\"]"`,
		"back\\slash\n":    `"back\\slash\u000a"`,
	} {
		if got := jsString(in); got != want {
			t.Errorf("jsString(%q) = %s, want %s", in, got, want)
		}
	}
}
