package runner

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streams-dev/streams/config"
)

// keyCoverage says, for every key the config package accepts
// (config.Keys), how a test shows what it does: tests that assert its
// effect, or a config setting it whose start-up warning must name it (a
// key kept for Sentry Streams configs, without effect here). Keys only
// the bundled runner reads also have beam: the warning of a run with
// --adapter beam. TestEveryConfigKeyIsCovered holds the table to
// config.Keys both ways, so a key added to the config package fails it
// until it has an entry.
var keyCoverage = map[string]coverage{
	"env": {warn: doc("env: {team: ingest}\npipeline: {segments: [{}]}", "", "env.team")},

	"metrics":                            {tests: []string{"TestMetricsTypes", "TestObservability"}},
	"metrics.datadog.flush_interval_ms":  {tests: []string{"TestMetricsDatadog"}},
	"metrics.datadog.host":               {tests: []string{"TestMetricsDatadog"}},
	"metrics.datadog.port":               {tests: []string{"TestMetricsDatadog"}},
	"metrics.datadog.tags":               {tests: []string{"TestMetricsDatadog"}},
	"metrics.datadog.type":               {tests: []string{"TestMetricsDatadog", "observe.TestDatadogSendsTheRegistry"}},
	"metrics.datadog.udp_queue_size":     {tests: []string{"TestMetricsDatadog"}},
	"metrics.dummy.type":                 {tests: []string{"TestMetricsTypes"}},
	"metrics.log.period_sec":             {tests: []string{"TestMetricsTypes"}},
	"metrics.log.tags":                   {tests: []string{"TestMetricsTypes"}},
	"metrics.log.type":                   {tests: []string{"TestMetricsTypes"}},
	"metrics.prometheus.address":         {tests: []string{"TestMetricsTypes"}},
	"metrics.prometheus.path":            {tests: []string{"TestMetricsTypes"}},
	"metrics.prometheus.web_config_file": {tests: []string{"TestMetricsWebConfig"}},
	"metrics.prometheus.type":            {tests: []string{"TestMetricsTypes", "TestObservability"}},

	"sentry_sdk_config":                        {tests: []string{"TestSentryReportsStepErrors", "TestSentryReportsPipelineFailure"}},
	"sentry_sdk_config.dsn":                    {tests: []string{"TestSentryReportsStepErrors", "TestSentryReportsPipelineFailure"}},
	"sentry_sdk_config.environment":            {tests: []string{"TestSentryReportsStepErrors", "config.TestSentrySDKConfig"}},
	"sentry_sdk_config.release":                {tests: []string{"TestSentryReportsStepErrors", "config.TestSentrySDKConfig"}},
	"sentry_sdk_config.sample_rate":            {tests: []string{"observe.TestSentryLimitsStepErrors", "config.TestSentrySDKConfig"}},
	"sentry_sdk_config.step_errors_per_minute": {tests: []string{"TestSentryReportsStepErrors", "observe.TestSentryLimitsStepErrors"}},

	"pipeline":                                         {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "config.TestSentryExamples"}},
	"pipeline.adapter_config":                          {tests: []string{"TestObservability"}},
	"pipeline.adapter_config.arroyo":                   {tests: []string{"TestObservability"}},
	"pipeline.adapter_config.arroyo.write_healthcheck": {tests: []string{"TestObservability"}},
	// They take no keys yet: each one given is refused.
	"pipeline.adapter_config.beam":     {tests: []string{"config.TestParseProblems"}},
	"pipeline.adapter_config.local":    {tests: []string{"config.TestParseProblems"}},
	"pipeline.segments":                {tests: []string{"TestMainUsageErrors", "TestResolveBindingsAndBundledRunnerOptions"}},
	"pipeline.segments[].parallelism":  {warn: doc("pipeline:\n  segments:\n    - parallelism: 2\n", "", "parallelism")},
	"pipeline.segments[].steps_config": {tests: []string{"TestResolveBindingsAndBundledRunnerOptions"}},
	step:                               {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestMainReportsEveryConfigProblem"}},

	step + ".auto_offset_reset": {tests: []string{"TestResolveSourceKeys", "TestStepParallelism",
		"io/kafka.TestStartOffsetLatest", "localrunner.TestKafkaNativeStartOffsetError"}},
	step + ".average_sleep_time_ms": {tests: []string{"TestResolveDevNullAndStrictOffsetReset", "localrunner.TestDevNullBatchesAndSleeps"}},
	step + ".batch_size": {tests: []string{"TestResolveBatchConfig", "TestDevExitWhenDoneFlushesBatches",
		"TestResolveDevNullAndStrictOffsetReset", "localrunner.TestDevNullBatchesAndSleeps"}},
	step + ".batch_time_ms":                {tests: []string{"TestResolveDevNullAndStrictOffsetReset", "localrunner.TestDevNullBatchesAndSleeps"}},
	step + ".batch_timedelta":              {tests: []string{"TestResolveBatchConfig"}},
	step + ".batch_bytes":                  {tests: []string{"TestResolveBlobSink", "beamtranslate.TestBlobSinkKeys"}},
	step + ".bucket":                       {tests: []string{"TestResolveBlobSink", "TestBlobSinkEndToEnd", "TestBlobSinkBadBucketAndTemplateRefused"}},
	step + ".object_name":                  {tests: []string{"TestResolveBlobSink", "TestBlobSinkEndToEnd", "TestBlobSinkBadBucketAndTemplateRefused"}},
	step + ".batch_timedelta.days":         {tests: []string{"config.TestBatchTimedeltaUnits"}},
	step + ".batch_timedelta.hours":        {tests: []string{"config.TestBatchTimedeltaUnits"}},
	step + ".batch_timedelta.microseconds": {tests: []string{"config.TestBatchTimedeltaUnits"}},
	step + ".batch_timedelta.milliseconds": {tests: []string{"config.TestBatchTimedeltaUnits"}},
	step + ".batch_timedelta.minutes":      {tests: []string{"config.TestBatchTimedeltaUnits"}},
	step + ".batch_timedelta.seconds":      {tests: []string{"config.TestBatchTimedeltaUnits", "TestResolveBatchConfig"}},
	step + ".batch_timedelta.weeks":        {tests: []string{"config.TestBatchTimedeltaUnits"}},
	step + ".bootstrap_servers":            {tests: []string{"TestSinkOnAnotherClusterKeepsItsOwnProperties", "TestStepParallelism", "config.TestBootstrapServersForms"}},
	step + ".changelog_replication_factor": {
		tests: []string{"TestChangelogReplicationFactor"},
		beam:  source("changelog_replication_factor: 2", "changelog_replication_factor"),
	},
	step + ".internal_topic_partitions": {
		tests: []string{"TestSegmentsRunApartAndSurviveKills"},
		beam:  source("internal_topic_partitions: 2", "internal_topic_partitions"),
	},
	step + ".commit_interval_ms": {
		tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "localrunner.TestKafkaNativeSlowDownstreamNeverCommitsPastWork"},
		beam:  source("commit_interval_ms: 100", "commit_interval_ms"),
	},
	step + ".commit_records": {
		tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "localrunner.TestKafkaNativeSlowDownstreamNeverCommitsPastWork"},
		beam:  source("commit_records: 5", "commit_records"),
	},
	step + ".codec":                 {tests: []string{"TestResolveDecoders", "TestResolveDecodersRefused", "config.TestCodecAndSchemaDirKeys", "beamtranslate.TestDecoderBinding"}},
	step + ".schema_dir":            {tests: []string{"TestResolveDecoders", "TestResolveDecodersRefused", "config.TestCodecAndSchemaDirKeys"}},
	step + ".consumer_group":        {tests: []string{"TestResolveSourceKeys", "io/kafka.TestResumeFromCommittedOffset"}},
	step + ".dlq":                   {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestLateMessagesGoToTheDLQ"}},
	step + ".dlq.bootstrap_servers": {tests: []string{"TestResolveSourceKeys"}},
	step + ".dlq.override_params":   {tests: []string{"TestSinkOverrideParamsWinPerKey"}},
	step + ".dlq.topic":             {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestLateMessagesGoToTheDLQ"}},
	step + ".max_sleep_time_ms":     {tests: []string{"TestResolveDevNullAndStrictOffsetReset", "localrunner.TestDevNullBatchesAndSleeps"}},
	step + ".on_invalid": {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestInvalidMessageStopsWithoutDLQ",
		"conformance.TestConformance"}}, // its case skip_invalid_without_dlq
	step + ".on_late": {
		tests: []string{"TestResolveLateToDLQ", "TestLateMessagesGoToTheDLQ", "TestLateMessagesAreCounted"},
		beam:  &warnCase{windowed: true, yaml: "pipeline:\n  segments:\n    - steps_config:\n        in: {dlq: {}}\n        count: {on_late: dlq}\n", step: "count", key: "on_late"},
	},
	step + ".override_params": {tests: []string{"TestSinkOverrideParamsWinPerKey", "config.TestOverrideParams"}},
	step + ".parallelism": {
		tests: []string{"TestStepParallelism", "TestResolveStepParallelism", "localrunner.TestStepParallelismBoundsAStageAndKeepsOrder"},
		beam:  steps("mymap: {parallelism: 4}", "mymap", "parallelism"),
	},
	step + ".parallelism.multi_process":                       {tests: []string{"TestStepParallelism"}},
	step + ".parallelism.multi_process.processes":             {tests: []string{"TestStepParallelism", "TestResolveStepParallelism"}},
	step + ".parallelism.multi_process.batch_size":            {warn: multiProcess("batch_size: 1000")},
	step + ".parallelism.multi_process.batch_time":            {warn: multiProcess("batch_time: 0.2")},
	step + ".parallelism.multi_process.input_block_size":      {warn: multiProcess("input_block_size: 65536")},
	step + ".parallelism.multi_process.max_input_block_size":  {warn: multiProcess("max_input_block_size: 65536")},
	step + ".parallelism.multi_process.max_output_block_size": {warn: multiProcess("max_output_block_size: 65536")},
	step + ".parallelism.multi_process.output_block_size":     {warn: multiProcess("output_block_size: 65536")},
	step + ".processing_guarantee":                            {tests: []string{"TestExactlyOnceConfig", "localrunner.TestExactlyOnceCleanRun", "conformance.TestCrashExactlyOnce"}},
	step + ".starts_segment":                                  {tests: []string{"TestSegmentsRunApartAndSurviveKills", "TestSegmentsNeedTheirFirstStep"}, warn: steps("mymap: {starts_segment: true}", "mymap", "starts_segment")},
	step + ".strict_offset_reset":                             {tests: []string{"TestResolveDevNullAndStrictOffsetReset", "localrunner.TestKafkaNativeStrictOffsetReset"}},
	step + ".topic":                                           {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestStepParallelism"}},
	step + ".watermark_idle_ms": {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestIdlePartitionKeepsItsTime",
		"localrunner/internal/kafkasource.TestWatermarkLeavesIdlePartitionsOut"}},
	step + ".watermark_idle_wall_clock": {tests: []string{"TestResolveSourceKeys", "localrunner/internal/kafkasource.TestWatermarkIdleWallClockAndEndOfInput"}},
	step + ".watermark_max_skew_ms": {tests: []string{"TestResolveBindingsAndBundledRunnerOptions", "TestIdlePartitionKeepsItsTime",
		"TestLateMessagesGoToTheDLQ"}},
}

// step is the path of a step's entry.
const step = "pipeline.segments[].steps_config.<step>"

type coverage struct {
	// tests are test functions asserting the key's effect: "TestX" in this
	// package, "dir.TestX" in the module's directory dir.
	tests []string
	// warn is a run (on the bundled runner) whose start-up warning names
	// the key, for a key without effect.
	warn *warnCase
	// beam is a run with --adapter beam whose start-up warning names the
	// key, for a key only the bundled runner reads.
	beam *warnCase
}

// warnCase is a config for seedPipeline (or windowedPipeline) and the
// warning it must get: naming step ("" for none) and key.
type warnCase struct {
	windowed  bool
	yaml      string
	step, key string
}

func doc(yaml, step, key string) *warnCase { return &warnCase{yaml: yaml, step: step, key: key} }

func steps(entries, step, key string) *warnCase {
	return doc("pipeline:\n  segments:\n    - steps_config:\n        "+entries+"\n", step, key)
}

func source(entry, key string) *warnCase { return steps("myinput: {"+entry+"}", "myinput", key) }

func multiProcess(entry string) *warnCase {
	key, _, _ := strings.Cut(entry, ":")
	return steps("mymap: {parallelism: {multi_process: {processes: 2, "+entry+"}}}", "mymap", "parallelism.multi_process."+key)
}

// Every key the config package accepts has a test of its effect, or a
// start-up warning that it has none; keys only the bundled runner reads
// are warned about on a Beam runner.
func TestEveryConfigKeyIsCovered(t *testing.T) {
	keys := config.Keys(componentSpecs()...)
	for _, k := range keys {
		if _, ok := keyCoverage[k]; !ok {
			t.Errorf("config key %s has no entry in keyCoverage: name the tests of its effect, or warn at start that it has none (startupWarnings)", k)
		}
	}
	funcs := map[string]map[string]bool{} // by module directory
	for _, k := range slices.Sorted(maps.Keys(keyCoverage)) {
		c := keyCoverage[k]
		if !slices.Contains(keys, k) {
			t.Errorf("keyCoverage has %s, which config.Keys does not list", k)
		}
		if len(c.tests) == 0 && c.warn == nil {
			t.Errorf("%s: no test and no warning", k)
		}
		for _, ref := range c.tests {
			dir, name := "runner", ref
			if i := strings.LastIndex(ref, "."); i >= 0 {
				dir, name = ref[:i], ref[i+1:]
			}
			if funcs[dir] == nil {
				funcs[dir] = testFuncs(t, dir)
			}
			if !funcs[dir][name] {
				t.Errorf("%s: test %s not found in %s", k, name, dir)
			}
		}
		if c.warn != nil {
			checkWarning(t, k, c.warn, AdapterLocal)
		}
		if c.beam != nil {
			checkWarning(t, k, c.beam, AdapterBeam)
		}
	}
}

// checkWarning checks that a run of w on adapter warns about w's key.
func checkWarning(t *testing.T, key string, w *warnCase, adapter string) {
	t.Helper()
	g := seedPipeline().MustBuild()
	if w.windowed {
		g = windowedPipeline().MustBuild()
	}
	for _, line := range warningsOf(t, g, w.yaml, adapter) {
		s, ks, _ := strings.Cut(line, ": ")
		if (s == w.step || s == "-" && w.step == "") && slices.Contains(strings.Split(ks, ","), w.key) {
			return
		}
	}
	t.Errorf("%s: a run with --adapter %s of\n%s\nis not warned about %s (step %q)", key, adapter, w.yaml, w.key, w.step)
}

// testFuncs returns the names of the test functions in the module's
// directory dir.
func testFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", filepath.FromSlash(dir), "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("no test files in %s (%v)", dir, err)
		return nil
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				out[fn.Name.Name] = true
			}
		}
	}
	return out
}
