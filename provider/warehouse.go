package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/warehouse"
	"dinmo/provider/internal/diagnostics"
	"dinmo/provider/internal/tflogslog"
)

// conn is an open warehouse together with the secrets used to open it, so every error it
// produces can be redacted before it reaches a diagnostic, and the request context that masks
// those secrets in logs.
type conn struct {
	warehouse.Warehouse
	ctx     context.Context
	secrets []string
}

// redact removes the connection's secrets from err's text.
func (c *conn) redact(err error) error { return diagnostics.Redact(err, c.secrets...) }

// openWarehouse opens a connection to an engine with plain-text credentials. The caller closes
// it. Errors are redacted.
func (d *providerData) openWarehouse(ctx context.Context, engine string, settings map[string]any, creds credentials) (*conn, error) {
	secretValues := creds.values()
	ctx = maskContext(ctx, secretValues)
	connector, ok := d.Registry.Warehouse(warehouse.Engine(engine))
	if !ok {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("warehouse engine %q is not built into this provider", engine))
	}
	tflog.Debug(ctx, "opening warehouse", map[string]any{"engine": engine})
	w, err := connector.Open(ctx, warehouse.Config{Settings: settings, Credentials: creds.Plain}, tflogslog.New(ctx))
	if err != nil {
		return nil, diagnostics.Redact(fmt.Errorf("open %s warehouse: %w", engine, err), secretValues...)
	}
	return &conn{Warehouse: w, ctx: ctx, secrets: secretValues}, nil
}

// openSource opens the warehouse of a catalog source with its stored credentials.
func (d *providerData) openSource(ctx context.Context, src *catalog.Source) (*conn, error) {
	creds, err := d.storedCredentials(src.Credentials)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", src.Name, err)
	}
	c, err := d.openWarehouse(ctx, src.Engine, src.Settings, creds)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", src.Name, err)
	}
	return c, nil
}

// openSourceByID loads a source from the catalog and opens its warehouse.
func (d *providerData) openSourceByID(ctx context.Context, sourceID string) (*conn, error) {
	src, err := d.Store.GetSource(ctx, sourceID)
	if err != nil {
		return nil, fmt.Errorf("loading source %s: %w", sourceID, err)
	}
	return d.openSource(ctx, src)
}

func (c *conn) close() {
	if err := c.Close(); err != nil {
		tflog.Warn(c.ctx, "closing warehouse connection failed", map[string]any{"error": c.redact(err).Error()})
	}
}

// exec runs one DDL statement built by the dialect.
func (c *conn) exec(ctx context.Context, stmt string) error {
	if _, err := c.DB().ExecContext(ctx, stmt); err != nil {
		return c.redact(err)
	}
	return nil
}

// prepareSource tests the connection and creates dinmo's managed schemas (idempotent: the
// dialect's CREATE SCHEMA IF NOT EXISTS).
func (c *conn) prepareSource(ctx context.Context) (stage string, err error) {
	if err := c.Ping(ctx); err != nil {
		return "connect", c.redact(fmt.Errorf("connection test: %w", err))
	}
	for _, s := range warehouse.ManagedSchemas {
		if err := c.exec(ctx, c.Dialect().CreateSchema(s)); err != nil {
			return "schemas", fmt.Errorf("creating schema %s: %w", s, err)
		}
	}
	return "", nil
}

// dropManagedSchemas drops every schema dinmo manages in the source, with what is in them.
func (c *conn) dropManagedSchemas(ctx context.Context) error {
	var errs []error
	for i := len(warehouse.ManagedSchemas) - 1; i >= 0; i-- {
		s := warehouse.ManagedSchemas[i]
		if err := c.exec(ctx, c.Dialect().DropSchema(s)); err != nil {
			errs = append(errs, fmt.Errorf("dropping schema %s: %w", s, err))
		}
	}
	return errors.Join(errs...)
}

// addWarehouseError reports a warehouse failure at the attribute that configures what failed:
// credentials problems point at the credentials, others at blockPath.
func addWarehouseError(d *diag.Diagnostics, blockPath, credPath path.Path, summary, what string, err error) {
	switch connectors.CategoryOf(err) {
	case connectors.CategoryCredentials:
		diagnostics.AddAttributeError(d, credPath, summary, what+" The warehouse refused the credentials.",
			"Check the credentials (and the user's permissions); to change write-only credentials, update "+attrCredentialsWO+
				" and change "+attrCredentialsWOVersion+".", err)
	case connectors.CategoryConnection, connectors.CategoryTimeout:
		diagnostics.AddAttributeError(d, blockPath, summary, what+" The warehouse could not be reached.",
			"Check the connection settings and that the warehouse accepts connections from this machine.", err)
	default:
		diagnostics.AddAttributeError(d, blockPath, summary, what,
			"Check the settings below and the warehouse's message.", err)
	}
}
