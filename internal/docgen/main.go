// Command docgen writes one guide template per destination platform and per warehouse engine
// (templates/guides/*.md.tmpl) from the connectors' declarations, so the documentation of
// services, capabilities, settings and limits is written once, in the connector. `make docs`
// runs it before tfplugindocs, which renders the templates into docs/guides.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
)

func main() {
	out := "templates/guides"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	if err := run(out); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	reg := registry.Default()
	if err := os.MkdirAll(out, 0o755); err != nil { //nolint:gosec // G301: a documentation directory of the repository
		return err
	}
	old, _ := filepath.Glob(filepath.Join(out, "*-*.md.tmpl"))
	for _, f := range old {
		if strings.HasPrefix(filepath.Base(f), "destination-") || strings.HasPrefix(filepath.Base(f), "warehouse-") {
			if err := os.Remove(f); err != nil { //nolint:gosec // G703: f comes from a glob of the output directory
				return err
			}
		}
	}
	for _, p := range reg.DestinationSpecs() {
		if err := os.WriteFile(filepath.Join(out, "destination-"+p.Platform+".md.tmpl"), []byte(Destination(p)), 0o644); err != nil { //nolint:gosec // G306: public documentation
			return err
		}
	}
	for _, w := range reg.WarehouseSpecs() {
		if err := os.WriteFile(filepath.Join(out, "warehouse-"+string(w.Engine)+".md.tmpl"), []byte(Warehouse(w)), 0o644); err != nil { //nolint:gosec // G306: public documentation
			return err
		}
	}
	return nil
}

func esc(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func fieldsTable(b *strings.Builder, fs []connectors.ConfigField) {
	if len(fs) == 0 {
		b.WriteString("None.\n\n")
		return
	}
	b.WriteString("| name | type | required | default | description |\n|---|---|---|---|---|\n")
	for _, f := range fs {
		def := ""
		if f.Default != nil {
			def = fmt.Sprintf("`%v`", f.Default)
		}
		desc := f.Description
		if len(f.Enum) > 0 {
			desc += " One of: `" + strings.Join(f.Enum, "`, `") + "`."
		}
		if f.Min != 0 || f.Max != 0 {
			desc += fmt.Sprintf(" Between %d and %d.", f.Min, f.Max)
		}
		fmt.Fprintf(b, "| `%s` | %s | %v | %s | %s |\n", f.Name, f.Type, f.Required, def, esc(desc))
	}
	b.WriteString("\n")
}

func joinQuoted[T ~string](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = "`" + string(x) + "`"
	}
	return strings.Join(parts, ", ")
}

// Destination renders the guide of one platform.
func Destination(p destination.PlatformSpec) string {
	var b strings.Builder
	title := p.DisplayName
	if title == "" {
		title = p.Platform
	}
	fmt.Fprintf(&b, "---\npage_title: \"Destination: %s\"\nsubcategory: \"Destinations\"\ndescription: |-\n  %s\n---\n\n", title, esc(firstLine(p.Description)))
	fmt.Fprintf(&b, "# Destination: %s (`%s`)\n\n%s\n\n", title, p.Platform, p.Description)
	fmt.Fprintf(&b, "Declare it with a `%s` block in [`dinmo_destination`](../resources/destination.md); "+
		"credentials go in `credentials_wo` (write-only, sealed before they are stored) or `credentials_ref` (`env:NAME`, `file:PATH`).\n\n", p.Platform)
	b.WriteString("## Settings\n\n")
	fieldsTable(&b, p.Settings)
	b.WriteString("## Credentials\n\n")
	fieldsTable(&b, p.Credentials)
	b.WriteString("## Services\n\n")
	for _, s := range p.Services {
		fmt.Fprintf(&b, "### `%s`\n\n%s\n\n", s.Name, s.Description)
		fmt.Fprintf(&b, "- Family: %s\n- Run types: %s\n- Sync modes: %s\n", s.Family, joinQuoted(s.RunTypes), joinQuoted(s.SyncModes))
		switch {
		case s.IdentifierOption != "":
			fmt.Fprintf(&b, "- Identifier: the field the `%s` option names (a mapping must target it)\n", s.IdentifierOption)
		case len(s.Identifiers) > 0:
			req := ""
			if s.RequireIdentifier {
				req = " (at least one must be mapped)"
			}
			fmt.Fprintf(&b, "- Identifiers: %s%s\n", joinQuoted(s.Identifiers), req)
		default:
			b.WriteString("- Identity: the model's primary key (`key` of each record)\n")
		}
		fmt.Fprintf(&b, "- Batch size: up to %d records per request (default %d)\n", s.MaxBatchSize, s.DefaultBatchSize)
		if s.RequestsPerSecond > 0 {
			fmt.Fprintf(&b, "- Rate limit: %g requests per second (burst %d)\n", s.RequestsPerSecond, max(s.Burst, 1))
		}
		if s.MinAudienceSize > 0 {
			fmt.Fprintf(&b, "- Minimum audience size: %d\n", s.MinAudienceSize)
		}
		fmt.Fprintf(&b, "- Creates unknown records: %v\n- Custom fields: %v\n\n", s.CreatesUnknownRecords, s.AllowCustomFields)
		if len(s.Fields) > 0 {
			b.WriteString("Fields a mapping can target:\n\n| field | type | required | normalisation | hashed | description |\n|---|---|---|---|---|---|\n")
			for _, f := range s.Fields {
				fmt.Fprintf(&b, "| `%s` | %s | %v | %s | %v | %s |\n", f.Name, f.Type, f.Required, f.PII, f.Hashed, esc(f.Description))
			}
			b.WriteString("\n")
		}
		if len(s.Options) > 0 {
			b.WriteString("Service options (`service_options` of the activation):\n\n")
			fieldsTable(&b, s.Options)
		}
	}
	if _, err := os.Stat(filepath.Join("examples", "platforms", p.Platform+".tf")); err == nil {
		fmt.Fprintf(&b, "## Example\n\n{{tffile \"examples/platforms/%s.tf\"}}\n", p.Platform)
	}
	return b.String()
}

// Warehouse renders the guide of one engine.
func Warehouse(w warehouse.Spec) string {
	var b strings.Builder
	title := w.DisplayName
	if title == "" {
		title = string(w.Engine)
	}
	fmt.Fprintf(&b, "---\npage_title: \"Warehouse: %s\"\nsubcategory: \"Warehouses\"\ndescription: |-\n  Connection settings of the %s engine.\n---\n\n", title, title)
	fmt.Fprintf(&b, "# Warehouse: %s (`%s`)\n\n", title, w.Engine)
	if !w.Available {
		b.WriteString("~> This engine is declared but not available in this build yet: the provider rejects it at plan time.\n\n")
	}
	fmt.Fprintf(&b, "Declare it with a `%s` block in [`dinmo_source`](../resources/source.md). Creating the source tests the connection and creates the schemas %s.\n\n",
		w.Engine, "`"+strings.Join(warehouse.ManagedSchemas, "`, `")+"`")
	b.WriteString("## Settings\n\n")
	fieldsTable(&b, w.Settings)
	b.WriteString("## Credentials\n\n")
	fieldsTable(&b, w.Credentials)
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, ".\n"); i >= 0 {
		return s[:i+1]
	}
	return s
}
