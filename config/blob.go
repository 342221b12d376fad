package config

import "strings"

// blobStepKeys are the keys only a blob sink takes (beside batch_size
// and batch_time_ms, which it shares with the devnull sink).
var blobStepKeys = []string{"batch_bytes", "bucket", "object_name"}

// blobStep decodes the steps_config keys of a blob sink that no other
// step kind takes, into sc.
func (d *decoder) blobStep(sc *StepConfig, e entry) {
	switch e.key {
	case "bucket":
		sc.Bucket, _ = d.str(e.val, e.path)
	case "object_name":
		sc.ObjectName, _ = d.str(e.val, e.path)
	case "batch_bytes":
		sc.BatchBytes, _ = d.integer(e.val, e.path)
	}
}

// blobSet reports whether a blob sink's own key is set in a config
// built in Go (by a non-zero field).
func (s *StepConfig) blobSet(key string) bool {
	switch key {
	case "bucket":
		return s.Bucket != ""
	case "object_name":
		return s.ObjectName != ""
	case "batch_bytes":
		return s.BatchBytes != 0
	}
	return false
}

// blob checks the values of a blob sink's own keys. The bucket's form
// and the object name template are checked by the runner, which knows
// the drivers and the template's fields.
func (k *checker) blob(sc *StepConfig, p func(string) string) {
	if sc.IsSet("bucket") && strings.TrimSpace(sc.Bucket) == "" {
		k.at(p("bucket"), nil, "must not be empty")
	}
	if sc.IsSet("object_name") && sc.ObjectName == "" {
		k.at(p("object_name"), nil, "must not be empty")
	}
	if sc.IsSet("batch_bytes") && sc.BatchBytes < 1 {
		k.at(p("batch_bytes"), nil, "must be at least 1; got %d", sc.BatchBytes)
	}
}
