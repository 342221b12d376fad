package config

import (
	"fmt"
	"slices"

	"github.com/streams-dev/streams/component"
)

// An Option changes how [Parse] and [Load] read a config.
type Option interface{ apply(*options) }

type options struct {
	components []component.Spec
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithComponents makes the keys of the given components step keys:
// decoded by their types into [StepConfig.Values], checked by their
// specs, accepted on steps of their kinds by [Config.Validate], and
// listed by [Keys]. Default none: a config then takes the built-in
// steps' keys only. Given twice, the lists add up. A component may name
// a key a built-in step takes too, with its type, if it is one of the
// shared keys (batch_size, an integer; the source's topic, codec,
// bootstrap_servers and override_params, which the Kafka sink takes);
// no other built-in key. A list that breaks these rules or
// component.CheckSpecs makes Parse fail.
func WithComponents(specs ...component.Spec) Option {
	return optionFunc(func(o *options) { o.components = append(o.components, specs...) })
}

// sharedKeys are the built-in step keys a component may take too, each
// with its type and its value in a StepConfig: they are decoded and
// checked as the built-in ones, and ValuesOf copies them into the
// component's values.
var sharedKeys = map[string]sharedKey{
	"batch_size":        {component.Int, func(s *StepConfig) component.Value { return component.IntValue(s.BatchSize) }},
	"topic":             {component.String, func(s *StepConfig) component.Value { return component.StringValue(s.Topic) }},
	"codec":             {component.String, func(s *StepConfig) component.Value { return component.StringValue(s.Codec) }},
	"bootstrap_servers": {component.Strings, func(s *StepConfig) component.Value { return component.StringsValue(s.BootstrapServers) }},
	"override_params":   {component.StringMap, func(s *StepConfig) component.Value { return component.StringMapValue(s.OverrideParams) }},
}

// sharedKey is a built-in step key a component may take: its type, and
// its value in a step's config.
type sharedKey struct {
	typ   component.Type
	value func(*StepConfig) component.Value
}

// sharedValue returns s's value of shared key key, if it is set.
func (s *StepConfig) sharedValue(key string) (component.Value, bool) {
	k, ok := sharedKeys[key]
	if !ok || !s.IsSet(key) {
		return component.Value{}, false
	}
	return k.value(s), true
}

func (o *options) check() error {
	if err := component.CheckSpecs(o.components); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for _, s := range o.components {
		if slices.Contains(kindList, StepKind(s.Kind)) {
			return fmt.Errorf("config: component %q: the kind of a built-in step", s.Kind)
		}
		for _, k := range s.Keys {
			if sk, shared := sharedKeys[k.Name]; slices.Contains(stepKeys, k.Name) && (!shared || k.Type != sk.typ) {
				return fmt.Errorf("config: component %q: key %q is a built-in step's", s.Kind, k.Name)
			}
		}
	}
	return nil
}

// kindList are the built-in kinds.
var kindList = []StepKind{Source, Map, Filter, FlatMap, Router, Broadcast, Branch, Batch, Reduce, Parser, Serializer}

// stepKeysWith returns the built-in step keys and those of specs, sorted.
func stepKeysWith(specs []component.Spec) []string {
	keys := slices.Clone(stepKeys)
	for _, s := range specs {
		for _, k := range s.Keys {
			keys = append(keys, k.Name)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func (c *Config) stepKeys() []string { return stepKeysWith(c.Components) }

// component returns the component of kind k, if c was parsed with one.
func (c *Config) component(k StepKind) (component.Spec, bool) {
	i := slices.IndexFunc(c.Components, func(s component.Spec) bool { return s.Kind == string(k) })
	if i < 0 {
		return component.Spec{}, false
	}
	return c.Components[i], true
}

// kindKeys returns the keys a step of kind k accepts, sorted; nil when k
// is neither built in nor a component's.
func (c *Config) kindKeys(k StepKind) []string {
	if keys := k.Keys(); keys != nil {
		return keys
	}
	if s, ok := c.component(k); ok {
		return s.Names()
	}
	return nil
}

// componentKey returns the first spec's key named name.
func componentKey(specs []component.Spec, name string) (component.Key, bool) {
	for _, s := range specs {
		if k, ok := s.Key(name); ok {
			return k, true
		}
	}
	return component.Key{}, false
}

// componentValue decodes e, a key of a component, by its type into
// sc.Values. The entry's key is known to be a component's (fields
// dropped the others).
func (d *decoder) componentValue(sc *StepConfig, e entry) {
	k, ok := componentKey(d.components, e.key)
	if !ok {
		return
	}
	var v component.Value
	switch k.Type {
	case component.Int:
		i, good := d.integer(e.val, e.path)
		if !good {
			return
		}
		v = component.IntValue(i)
	case component.Millis:
		m, good := d.millis(e.val, e.path)
		if !good {
			return
		}
		v = component.MillisValue(m)
	case component.String:
		s, good := d.str(e.val, e.path)
		if !good {
			return
		}
		v = component.StringValue(s)
	case component.Strings:
		l, good := d.strings(e.val, e.path, 6)
		if !good {
			return
		}
		v = component.StringsValue(l)
	case component.StringMap:
		m, good := d.stringMap(e.val, e.path, 6)
		if !good {
			return
		}
		v = component.StringMapValue(m)
	}
	if sc.Values == nil {
		sc.Values = component.Values{}
	}
	sc.Values[e.key] = v
}

// ValuesOf returns the step's values of spec's keys: those of
// [StepConfig.Values], and those of the shared keys spec takes that are
// set (batch_size, topic, ...: see [WithComponents]).
func (s *StepConfig) ValuesOf(spec component.Spec) component.Values {
	out := component.Values{}
	for _, k := range spec.Keys {
		if v, ok := s.sharedValue(k.Name); ok {
			out[k.Name] = v
		} else if v, ok := s.Values[k.Name]; ok {
			out[k.Name] = v
		}
	}
	return out
}

// components checks the values of the components' keys in sc (each key
// once, by the first component naming it, unless a built-in step takes
// it), then each component's checks between keys.
func (k *checker) components(sc *StepConfig, p func(string) string) {
	done := map[string]bool{}
	for _, s := range k.c.Components {
		for _, key := range s.Keys {
			if _, shared := sharedKeys[key.Name]; done[key.Name] || shared {
				continue
			}
			done[key.Name] = true
			v, ok := sc.Values[key.Name]
			if !ok || key.Check == nil {
				continue
			}
			if msg := key.Check(v); msg != "" {
				k.at(p(key.Name), nil, "%s", msg)
			}
		}
	}
	for _, s := range k.c.Components {
		if s.Check != nil {
			s.Check(sc.ValuesOf(s), func(key, msg string) { k.at(p(key), nil, "%s", msg) })
		}
	}
}
