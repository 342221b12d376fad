package observe

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/streams-dev/streams/dsl"
)

//go:embed ui
var uiFiles embed.FS

// The paths of the health checks Handler serves: HealthPath for liveness
// (Health.Live), ReadyPath for readiness (Health.Ready).
const (
	HealthPath = "/healthz"
	ReadyPath  = "/readyz"
)

// Handler serves the pipeline's endpoints:
//
//	GET metricsPath   Prometheus metrics (text or protobuf exposition)
//	GET /healthz      200 "ok" when alive, else 503 with the reasons
//	GET /readyz       200 "ok" when ready, else 503 with the reasons
//	GET /             the live picture of the pipeline (HTML, no build step)
//	GET /api/pipeline the pipeline's steps and edges (JSON, see GraphInfo)
//	GET /api/stats    the live figures the page draws (JSON, see Stats)
//	GET /api/history  the figures of the last 15 minutes the page charts
//	                  (JSON, see History; sampled while RecordHistory runs);
//	                  ?since=<Unix ms> gives only the intervals after it
func (p *Pipeline) Handler(metricsPath string) http.Handler {
	if metricsPath == "" {
		metricsPath = "/metrics"
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metricsPath, promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg}))
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		writeCheck(w, p.Health.Live)
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		writeCheck(w, p.Health.Ready)
	})
	mux.HandleFunc("GET /api/pipeline", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, p.GraphInfo())
	})
	mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, p.Stats())
	})
	mux.HandleFunc("GET /api/history", func(w http.ResponseWriter, r *http.Request) {
		var since time.Time
		if v := r.URL.Query().Get("since"); v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				http.Error(w, "since: want Unix milliseconds", http.StatusBadRequest)
				return
			}
			since = time.UnixMilli(ms)
		}
		writeJSON(w, p.History(since))
	})
	ui, _ := fs.Sub(uiFiles, "ui")
	mux.Handle("GET /", http.FileServerFS(ui))
	return mux
}

func writeCheck(w http.ResponseWriter, check func() (bool, []string)) {
	ok, why := check()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(strings.Join(why, "\n") + "\n"))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// GraphInfo is the pipeline's shape, as /api/pipeline serves it.
type GraphInfo struct {
	Pipeline string     `json:"pipeline"`
	Adapter  string     `json:"adapter"`
	Steps    []StepInfo `json:"steps"`
	// DLQ is the dead-letter topic; "" without one.
	DLQ string `json:"dlq,omitempty"`
}

// StepInfo is one step of GraphInfo.
type StepInfo struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Topic is the source's or Kafka sink's topic: the deployment's
	// (SetTopics), else the stream name in the code.
	Topic   string   `json:"topic,omitempty"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
}

// GraphInfo describes the pipeline's steps.
func (p *Pipeline) GraphInfo() GraphInfo {
	gi := GraphInfo{Pipeline: p.name, Adapter: p.adapter, Steps: []StepInfo{}}
	if p.graph == nil {
		return gi
	}
	p.mu.Lock()
	topics := p.topics
	p.mu.Unlock()
	gi.DLQ = topics.DLQ
	for _, n := range p.graph.Nodes() {
		si := StepInfo{Name: n.Name(), Kind: n.Kind().String(), Inputs: n.Inputs(), Outputs: n.Outputs()}
		if n.Kind() == dsl.KindSink && n.SinkKind() != dsl.SinkStream {
			si.Kind = n.SinkKind().String()
		}
		if n.Kind() == dsl.KindSource || (n.Kind() == dsl.KindSink && n.SinkKind() == dsl.SinkStream) {
			si.Topic = n.StreamName()
			if t := topics.Steps[n.Name()]; t != "" {
				si.Topic = t
			}
		}
		if si.Inputs == nil {
			si.Inputs = []string{}
		}
		if si.Outputs == nil {
			si.Outputs = []string{}
		}
		gi.Steps = append(gi.Steps, si)
	}
	return gi
}

// Topics are the Kafka topics a deployment gives the pipeline's steps,
// which may differ from the stream names in the code.
type Topics struct {
	// Steps maps a source or Kafka sink step to its topic.
	Steps map[string]string
	// DLQ is the dead-letter topic; "" without one.
	DLQ string
}

// SetTopics sets the topics GraphInfo shows.
func (p *Pipeline) SetTopics(t Topics) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.topics = t
}

// Stats is a snapshot of the live figures, as /api/stats serves it.
// Counters are totals since start: the page derives rates from two
// snapshots.
type Stats struct {
	Time          time.Time            `json:"time"`
	UptimeSeconds float64              `json:"uptime_seconds"`
	Steps         map[string]StepStats `json:"steps"`
	Partitions    []PartitionStats     `json:"partitions"`
	Healthy       bool                 `json:"healthy"`
	Ready         bool                 `json:"ready"`
	Reasons       []string             `json:"reasons"`
}

// StepStats are one step's counters.
type StepStats struct {
	In      float64 `json:"in"`
	Out     float64 `json:"out"`
	Errors  float64 `json:"errors"`
	DLQ     float64 `json:"dlq"`
	Skipped float64 `json:"skipped"`
	// MeanSeconds is the mean sampled processing time; 0 before a sample.
	MeanSeconds float64 `json:"mean_seconds"`

	secondsSum, secondsCount float64 // of the sampled processing times
}

// Counts is s without its sampled timings, which differ from run to run:
// what two runs over the same input must agree on.
func (s StepStats) Counts() StepStats {
	return StepStats{In: s.In, Out: s.Out, Errors: s.Errors, DLQ: s.DLQ, Skipped: s.Skipped}
}

// PartitionStats are one source partition's figures.
type PartitionStats struct {
	Group               string  `json:"group"`
	Topic               string  `json:"topic"`
	Partition           int     `json:"partition"`
	Lag                 float64 `json:"lag"`
	Committed           float64 `json:"committed"`
	WatermarkLagSeconds float64 `json:"watermark_lag_seconds"`
}

// Stats returns the current figures.
func (p *Pipeline) Stats() Stats {
	now := time.Now()
	st := Stats{Time: now, UptimeSeconds: now.Sub(p.started).Seconds(), Steps: map[string]StepStats{}, Partitions: []PartitionStats{}}
	for name := range p.steps {
		st.Steps[name] = StepStats{}
	}
	mfs, _ := p.reg.Gather()
	parts := map[string]*PartitionStats{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := labels(m)
			switch mf.GetName() {
			case MetricStepIn, MetricStepOut, MetricStepErrors, MetricStepDLQ, MetricStepSkipped, MetricStepSeconds:
				s, ok := st.Steps[l["step"]]
				if !ok {
					continue
				}
				v := m.GetCounter().GetValue()
				switch mf.GetName() {
				case MetricStepIn:
					s.In = v
				case MetricStepOut:
					s.Out = v
				case MetricStepErrors:
					s.Errors = v
				case MetricStepDLQ:
					s.DLQ = v
				case MetricStepSkipped:
					s.Skipped = v
				case MetricStepSeconds:
					if h := m.GetHistogram(); h.GetSampleCount() > 0 {
						s.secondsSum, s.secondsCount = h.GetSampleSum(), float64(h.GetSampleCount())
						s.MeanSeconds = s.secondsSum / s.secondsCount
					}
				}
				st.Steps[l["step"]] = s
			case MetricSourceLag, MetricSourceOffset, MetricSourceWMLag:
				k := l["group"] + "\x00" + l["topic"] + "\x00" + l["partition"]
				ps := parts[k]
				if ps == nil {
					n, _ := strconv.Atoi(l["partition"])
					ps = &PartitionStats{Group: l["group"], Topic: l["topic"], Partition: n}
					parts[k] = ps
				}
				v := m.GetGauge().GetValue()
				switch mf.GetName() {
				case MetricSourceLag:
					ps.Lag = v
				case MetricSourceOffset:
					ps.Committed = v
				case MetricSourceWMLag:
					ps.WatermarkLagSeconds = v
				}
			}
		}
	}
	for _, ps := range parts {
		st.Partitions = append(st.Partitions, *ps)
	}
	sort.Slice(st.Partitions, func(i, j int) bool {
		a, b := st.Partitions[i], st.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	st.Healthy, _ = p.Health.Live()
	st.Ready, st.Reasons = p.Health.Ready() // the liveness reasons come first
	if st.Reasons == nil {
		st.Reasons = []string{}
	}
	return st
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
