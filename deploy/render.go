package deploy

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Segment is the rendered manifests of one segment: an overlay of k8s/.
type Segment struct {
	Deployment *appsv1.Deployment
	ConfigMap  *corev1.ConfigMap
	PDB        *policyv1.PodDisruptionBudget
}

// Render builds the kustomization in dir, as kubectl kustomize does, and
// decodes each resource strictly (an unknown or duplicate field is an
// error) into its API type. It wants exactly one Deployment, ConfigMap
// and PodDisruptionBudget.
func Render(dir string) (*Segment, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("deploy: kustomize %s: %w", dir, err)
	}
	var s Segment
	var errs []error
	for _, r := range rm.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err))
			continue
		}
		kind := r.GetApiVersion() + " " + r.GetKind()
		var into any
		switch kind {
		case "apps/v1 Deployment":
			into, s.Deployment = decodeOnce(&errs, kind, s.Deployment)
		case "v1 ConfigMap":
			into, s.ConfigMap = decodeOnce(&errs, kind, s.ConfigMap)
		case "policy/v1 PodDisruptionBudget":
			into, s.PDB = decodeOnce(&errs, kind, s.PDB)
		default:
			errs = append(errs, fmt.Errorf("%s %s: unexpected kind", kind, r.GetName()))
			continue
		}
		if err := yaml.UnmarshalStrict(data, into); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kind, r.GetName(), err))
		}
	}
	if s.Deployment == nil || s.ConfigMap == nil || s.PDB == nil {
		errs = append(errs, errors.New("want a Deployment, a ConfigMap and a PodDisruptionBudget"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("deploy: %s: %w", dir, err)
	}
	return &s, nil
}

// decodeOnce returns a new T to decode into and to keep, noting an error
// when one was decoded already.
func decodeOnce[T any](errs *[]error, kind string, prev *T) (any, *T) {
	if prev != nil {
		*errs = append(*errs, fmt.Errorf("more than one %s", kind))
	}
	v := new(T)
	return v, v
}
