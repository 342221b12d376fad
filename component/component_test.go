package component

import (
	"strings"
	"testing"
	"time"
)

var testSpec = Spec{
	Kind: "test_sink", Label: "test", Doc: "A test sink writes nowhere.",
	Keys: []Key{
		{Name: "size", Type: Int, Example: "10", Doc: "integer >= 1", Check: AtLeast(1)},
		{Name: "wait_ms", Type: Millis, Example: "100", Doc: "number > 0:\nor no wait", Check: Positive},
	},
}

func TestSpecNamesAndDocument(t *testing.T) {
	if got := strings.Join(testSpec.Names(), ","); got != "parallelism,size,starts_segment,wait_ms" {
		t.Errorf("Names() = %s", got)
	}
	want := "A test sink writes nowhere.\n\n\tsize: 10      # integer >= 1\n\twait_ms: 100  # number > 0:\n\t              # or no wait\n"
	if got := testSpec.Document(); got != want {
		t.Errorf("Document() = %q, want %q", got, want)
	}
	if k, ok := testSpec.Key("wait_ms"); !ok || k.Type != Millis {
		t.Errorf("Key(wait_ms) = %+v, %v", k, ok)
	}
	if _, ok := testSpec.Key("nope"); ok {
		t.Error("Key(nope) found")
	}
}

func TestValuesAndChecks(t *testing.T) {
	v := Values{"size": IntValue(0), "wait_ms": MillisValue(-time.Millisecond), "name": StringValue(" ")}
	if !v.IsSet("size") || v.IsSet("other") || v.Int("size") != 0 || v.Duration("wait_ms") != -time.Millisecond || v.Str("name") != " " {
		t.Errorf("values %+v", v)
	}
	for _, tc := range []struct{ got, want string }{
		{AtLeast(1)(v["size"]), "must be at least 1; got 0"},
		{AtLeast(1)(IntValue(1)), ""},
		{Positive(v["wait_ms"]), "must be positive; got -1"},
		{Positive(MillisValue(time.Millisecond / 2)), ""},
		{NotNegative(v["wait_ms"]), "must not be negative; got -1"},
		{NotNegative(MillisValue(0)), ""},
		{NotEmpty(v["name"]), ""},
		{NotEmpty(StringValue("")), "must not be empty"},
		{NotBlank(v["name"]), "must not be empty"},
	} {
		if tc.got != tc.want {
			t.Errorf("check gave %q, want %q", tc.got, tc.want)
		}
	}
}

func TestCheckSpecs(t *testing.T) {
	if err := CheckSpecs([]Spec{testSpec}); err != nil {
		t.Fatal(err)
	}
	other := Spec{Kind: "test_sink", Label: "t2", Keys: []Key{{Name: "size", Type: String}, {Name: "x"}, {Name: "x", Type: Int}}}
	err := CheckSpecs([]Spec{testSpec, other, {}})
	for _, want := range []string{
		`component "test_sink": listed twice`,
		`component "test_sink": key "size" is string here and integer in another component`,
		`component "test_sink": key "x" needs a name and a type`,
		`component "test_sink": key "x" listed twice`,
		`component "": needs a kind and a label`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSpecs: %v; want it to say %s", err, want)
		}
	}
}
