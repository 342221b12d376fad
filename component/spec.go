package component

import (
	"fmt"
	"slices"
	"strings"
)

// Spec is a component's deployment-config side.
type Spec struct {
	// Kind is the config kind of the component's steps, as problems and
	// docs name it: "devnull_sink".
	Kind string
	// Label names the component where a step is shown (the graph, the
	// pipeline page, messages): "devnull".
	Label string
	// Doc is the paragraph of the config docs about the component's
	// steps_config entry, without the key listing.
	Doc string
	// Keys are the steps_config keys the component takes, besides
	// parallelism and starts_segment, which every component takes. A key
	// that a built-in step also takes (batch_size) is decoded and checked
	// as the built-in step's; the component names it here so that its
	// steps accept it and its docs list it.
	Keys []Key
	// Check reports the problems between the component's keys (a key
	// that needs another), calling problem with the key to place it at.
	// It runs for every step entry, with the keys of every component
	// decoded, after each key's own Check. Nil: none.
	Check func(v Values, problem func(key, msg string))
}

// Key is one steps_config key of a component.
type Key struct {
	// Name is the YAML key.
	Name string
	// Type is how its value is written and decoded.
	Type Type
	// Example is a value shown in the docs.
	Example string
	// Doc says what the value may be and does: a line, or a few lines
	// separated by "\n".
	Doc string
	// Check returns what is wrong with a set value, or "" (nil: nothing
	// can be): AtLeast, Positive, NotNegative, NotEmpty, NotBlank or
	// the component's own.
	Check func(Value) string
}

// Names returns the keys a step of s accepts, sorted: its own keys,
// parallelism and starts_segment.
func (s Spec) Names() []string {
	out := []string{"parallelism", "starts_segment"}
	for _, k := range s.Keys {
		out = append(out, k.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Key returns s's key named name.
func (s Spec) Key(name string) (Key, bool) {
	i := slices.IndexFunc(s.Keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return s.Keys[i], true
}

// Document returns the config docs of s: its paragraph, then its keys
// with an example value and their line of doc, as YAML.
func (s Spec) Document() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(s.Doc))
	b.WriteString("\n\n")
	width := 0
	for _, k := range s.Keys {
		width = max(width, len(k.Name)+len(k.Example)+2)
	}
	for _, k := range s.Keys {
		kv := k.Name + ": " + k.Example
		for i, line := range strings.Split(k.Doc, "\n") {
			if i > 0 {
				kv = ""
			}
			fmt.Fprintf(&b, "\t%-*s  # %s\n", width, kv, line)
		}
	}
	return b.String()
}

// CheckSpecs reports what makes a list of specs unusable together: an
// empty or repeated kind, a key named twice, or one key with two types.
func CheckSpecs(specs []Spec) error {
	kinds := map[string]bool{}
	types := map[string]Type{}
	var errs []string
	for _, s := range specs {
		if s.Kind == "" || s.Label == "" {
			errs = append(errs, fmt.Sprintf("component %q: needs a kind and a label", s.Kind))
		}
		if kinds[s.Kind] {
			errs = append(errs, fmt.Sprintf("component %q: listed twice", s.Kind))
		}
		kinds[s.Kind] = true
		seen := map[string]bool{}
		for _, k := range s.Keys {
			if k.Name == "" || k.Type == 0 {
				errs = append(errs, fmt.Sprintf("component %q: key %q needs a name and a type", s.Kind, k.Name))
			}
			if seen[k.Name] {
				errs = append(errs, fmt.Sprintf("component %q: key %q listed twice", s.Kind, k.Name))
			}
			seen[k.Name] = true
			if t, ok := types[k.Name]; ok && t != k.Type {
				errs = append(errs, fmt.Sprintf("component %q: key %q is %v here and %v in another component", s.Kind, k.Name, k.Type, t))
			}
			types[k.Name] = k.Type
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("component: %s", strings.Join(errs, "; "))
	}
	return nil
}
