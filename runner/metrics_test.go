package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/observe"
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

// metrics type datadog sends the registry to the agent at host:port every
// flush_interval_ms, with the tags, until the run ends.
func TestMetricsDatadog(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	yaml := fmt.Sprintf("metrics: {type: datadog, host: 127.0.0.1, port: %d, tags: {team: ingest}, udp_queue_size: 1000, flush_interval_ms: 50}\npipeline: {segments: [{}]}\n", port)
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Name: "dd", Config: cfg}.withDefaults()
	obs, err := startObservation(context.Background(), seedPipeline().MustBuild(), opts, &deployment{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Read while it sends: a socket's buffer does not hold 300 ms of
	// the whole registry.
	var lines []string
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			lines = append(lines, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
		}
	}()
	obs.p.Step("mymap").Add(4, 4, 0)
	time.Sleep(300 * time.Millisecond)
	obs.p.Step("mymap").Add(1, 1, 0)
	obs.close() // sends once more
	_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	<-read
	ups, in := 0, []string{}
	for _, l := range lines {
		if strings.HasPrefix(l, observe.MetricUp+":") {
			ups++
		}
		if strings.HasPrefix(l, observe.MetricStepIn+":") && strings.HasSuffix(l, ",step:mymap") {
			in = append(in, l)
		}
	}
	// Every 50 ms for 300 ms, and once at the end.
	if ups < 4 {
		t.Errorf("%d sends of %s, want at least 4 in 300 ms", ups, observe.MetricUp)
	}
	want := []string{
		observe.MetricStepIn + ":4|c|#team:ingest,pipeline:dd,step:mymap",
		observe.MetricStepIn + ":1|c|#team:ingest,pipeline:dd,step:mymap",
	}
	if !slices.Equal(in, want) {
		t.Errorf("mymap's messages in: got %q, want %q", in, want)
	}
}
