package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"dinmo/catalog"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/secrets"
)

// SourceConnection returns the connector of a catalog source's engine and its configuration,
// credentials resolved. Its errors are configuration errors (an engine not built into this
// binary, a credential that cannot be resolved); connecting is the caller's. sealer may be nil
// for a source without credentials.
func SourceConnection(reg *registry.Registry, sealer *secrets.Sealer, src *catalog.Source) (warehouse.Connector, warehouse.Config, error) {
	conn, ok := reg.Warehouse(warehouse.Engine(src.Engine))
	if !ok {
		return nil, warehouse.Config{}, configErr("source %s: engine %q is not built into this runner", src.Name, src.Engine)
	}
	creds := map[string]string{}
	if len(src.Credentials) > 0 {
		if sealer == nil {
			return nil, warehouse.Config{}, configErr("source %s: %w", src.Name, errors.New("its credentials cannot be resolved without the secret key (DINMO_SECRET_KEY)"))
		}
		var err error
		if creds, err = sealer.ResolveAll(src.Credentials); err != nil {
			return nil, warehouse.Config{}, configErr("source %s: %w", src.Name, err)
		}
	}
	return conn, warehouse.Config{Settings: src.Settings, Credentials: creds}, nil
}

// OpenSource opens a catalog source's warehouse (see SourceConnection).
func OpenSource(ctx context.Context, reg *registry.Registry, sealer *secrets.Sealer, src *catalog.Source, logger *slog.Logger) (warehouse.Warehouse, error) {
	conn, cfg, err := SourceConnection(reg, sealer, src)
	if err != nil {
		return nil, err
	}
	wh, err := conn.Open(ctx, cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	return wh, nil
}
