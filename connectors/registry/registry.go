// Package registry lists the warehouse engines and destination platforms built into dinmo. The
// lists are explicit (no init() side effects) and passed around as a value, so tests can inject
// fakes. A duplicate name is an error.
package registry

import (
	"fmt"
	"sort"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse"
)

// Registry holds the connectors a provider or runner can use.
type Registry struct {
	warehouses   map[warehouse.Engine]warehouse.Connector
	destinations map[string]destination.Platform
}

// New builds a registry from explicit lists, validating every declaration.
func New(ws []warehouse.Connector, ds []destination.Platform) (*Registry, error) {
	r := &Registry{warehouses: map[warehouse.Engine]warehouse.Connector{}, destinations: map[string]destination.Platform{}}
	for _, w := range ws {
		s := w.Spec()
		if _, dup := r.warehouses[s.Engine]; dup {
			return nil, fmt.Errorf("registry: warehouse engine %q registered twice", s.Engine)
		}
		if err := connectors.ValidateFields(append(append([]connectors.ConfigField{}, s.Settings...), s.Credentials...)); err != nil {
			return nil, fmt.Errorf("registry: warehouse engine %q: %w", s.Engine, err)
		}
		r.warehouses[s.Engine] = w
	}
	for _, d := range ds {
		s := d.Spec()
		if _, dup := r.destinations[s.Platform]; dup {
			return nil, fmt.Errorf("registry: destination platform %q registered twice", s.Platform)
		}
		if err := connectors.ValidateFields(append(append([]connectors.ConfigField{}, s.Settings...), s.Credentials...)); err != nil {
			return nil, fmt.Errorf("registry: destination platform %q: %w", s.Platform, err)
		}
		if len(s.Services) == 0 {
			return nil, fmt.Errorf("registry: destination platform %q declares no service", s.Platform)
		}
		for _, svc := range s.Services {
			if svc.MaxBatchSize <= 0 || svc.DefaultBatchSize <= 0 || svc.DefaultBatchSize > svc.MaxBatchSize {
				return nil, fmt.Errorf("registry: destination %q service %q: batch sizes must satisfy 0 < default <= max", s.Platform, svc.Name)
			}
			if err := connectors.ValidateFields(svc.Options); err != nil {
				return nil, fmt.Errorf("registry: destination %q service %q options: %w", s.Platform, svc.Name, err)
			}
			if len(svc.SyncModes) == 0 || len(svc.RunTypes) == 0 {
				return nil, fmt.Errorf("registry: destination %q service %q: declare run types and sync modes", s.Platform, svc.Name)
			}
			if err := validateIdentifierOption(svc); err != nil {
				return nil, fmt.Errorf("registry: destination %q service %q: %w", s.Platform, svc.Name, err)
			}
		}
		r.destinations[s.Platform] = d
	}
	return r, nil
}

// validateIdentifierOption checks that a service's IdentifierOption, when set, names one of
// its string options: the provider reads the identifying field's name from it.
func validateIdentifierOption(svc destination.ServiceSpec) error {
	if svc.IdentifierOption == "" {
		return nil
	}
	for _, o := range svc.Options {
		if o.Name == svc.IdentifierOption {
			if o.Type != connectors.FieldString {
				return fmt.Errorf("identifier option %q must be a string option, not %s", o.Name, o.Type)
			}
			return nil
		}
	}
	return fmt.Errorf("identifier option %q is not one of the service's options", svc.IdentifierOption)
}

// Default returns the registry of everything built into this binary.
func Default() *Registry {
	r, err := New(Warehouses(), Destinations())
	if err != nil {
		panic(err) // a malformed built-in declaration is a programming error caught by tests
	}
	return r
}

// Warehouse returns the connector of an engine.
func (r *Registry) Warehouse(e warehouse.Engine) (warehouse.Connector, bool) {
	w, ok := r.warehouses[e]
	return w, ok
}

// Destination returns the platform of a name.
func (r *Registry) Destination(name string) (destination.Platform, bool) {
	d, ok := r.destinations[name]
	return d, ok
}

// WarehouseSpecs returns every engine's spec, sorted by engine name.
func (r *Registry) WarehouseSpecs() []warehouse.Spec {
	out := make([]warehouse.Spec, 0, len(r.warehouses))
	for _, w := range r.warehouses {
		out = append(out, w.Spec())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Engine < out[j].Engine })
	return out
}

// DestinationSpecs returns every platform's spec, sorted by platform name.
func (r *Registry) DestinationSpecs() []destination.PlatformSpec {
	out := make([]destination.PlatformSpec, 0, len(r.destinations))
	for _, d := range r.destinations {
		out = append(out, d.Spec())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Platform < out[j].Platform })
	return out
}
