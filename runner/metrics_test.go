package runner

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
)

// metrics.type chooses what a run sets up: dummy nothing, log a line per
// step every period_sec with the tags, prometheus a server at address
// serving path.
func TestMetricsTypes(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		// lines is how many "step metrics" lines of mymap with the tag
		// team=ingest the log gets in 350 ms: at least min, at most max.
		min, max int
		// path is where the metrics are served ("": no server).
		path string
	}{
		{yaml: "metrics: {type: dummy}"},
		{yaml: "metrics: {type: log, period_sec: 0.1, tags: {team: ingest}}", min: 2, max: 4},
		{yaml: "metrics: {type: log, period_sec: 1, tags: {team: ingest}}", max: 0},
		{yaml: `metrics: {type: prometheus, address: "127.0.0.1:0", path: /custom}`, path: "/custom"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tc.yaml+"\npipeline: {segments: [{}]}\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			served := ""
			opts := Options{Config: cfg, OnHTTP: func(addr string) { served = addr }}.withDefaults()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			obs, err := startObservation(ctx, seedPipeline().MustBuild(), opts, &deployment{}, log)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(350 * time.Millisecond)
			if tc.path != "" {
				if served == "" {
					t.Fatal("no metrics server")
				}
				resp, err := http.Get("http://" + served + tc.path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# TYPE") {
					t.Errorf("GET %s: %s\n%s", tc.path, resp.Status, body)
				}
			} else if served != "" {
				t.Errorf("a metrics server at %s", served)
			}
			obs.close()
			lines := 0
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `msg="step metrics" team=ingest step=mymap`) {
					lines++
				}
			}
			if lines < tc.min || lines > tc.max {
				t.Errorf("%d step metrics lines of mymap with the tag, want %d to %d:\n%s", lines, tc.min, tc.max, logs.String())
			}
		})
	}
}
