// Package component describes the deployment-config side of a pluggable
// component (today: a sink other than Kafka): its config kind, the
// steps_config keys it takes with their types, docs and checks, and the
// values decoded for one step. It is a leaf of the module and imports no
// Beam, so that package config can decode and check a component's keys
// while the component's translation into Beam lives elsewhere
// (beamtranslate.Sink pairs a Spec with it).
//
// A Spec is plain data; nothing registers itself. The list of the
// components a program runs is one slice in package runner
// (runner.Components), handed to config and to beamtranslate.
package component
