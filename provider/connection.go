package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/connectors"
	"dinmo/connectors/registry"
	"dinmo/provider/internal/diagnostics"
	"dinmo/provider/internal/fields"
	"dinmo/schedule"
	"dinmo/secrets"
)

// Sources and destinations share one shape: an engine (platform) chosen by setting exactly one
// of the per-kind blocks derived from the registry, non-secret settings inside that block, and
// credentials given write-only (sealed before they reach the catalog) or as references. This
// file holds that shared shape; resource_source.go and resource_destination.go add what
// connecting to a warehouse or a platform means.

// Attribute names shared by sources and destinations.
const (
	attrCredentialsWO        = "credentials_wo"
	attrCredentialsWOVersion = "credentials_wo_version"
	attrCredentialsRef       = "credentials_ref"
	attrAPIBaseURL           = "api_base_url"   // destinations only
	attrStatsSchedule        = "stats_schedule" // sources only
)

// connKind is one engine or platform as the schema sees it.
type connKind struct {
	Name        string
	DisplayName string
	Description string
	Available   bool
	Settings    []connectors.ConfigField
	Credentials []connectors.ConfigField
}

// warehouseKinds lists the registry's engines, sorted by name.
func warehouseKinds(reg *registry.Registry) []connKind {
	var out []connKind
	for _, s := range reg.WarehouseSpecs() {
		out = append(out, connKind{
			Name: string(s.Engine), DisplayName: s.DisplayName, Available: s.Available,
			Settings: s.Settings, Credentials: s.Credentials,
		})
	}
	return out
}

// destinationKinds lists the registry's platforms, sorted by name.
func destinationKinds(reg *registry.Registry) []connKind {
	var out []connKind
	for _, s := range reg.DestinationSpecs() {
		out = append(out, connKind{
			Name: s.Platform, DisplayName: s.DisplayName, Description: s.Description, Available: true,
			Settings: s.Settings, Credentials: s.Credentials,
		})
	}
	return out
}

func findKind(kinds []connKind, name string) (connKind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return connKind{}, false
}

func kindNames(kinds []connKind, availableOnly bool) []string {
	var out []string
	for _, k := range kinds {
		if !availableOnly || k.Available {
			out = append(out, k.Name)
		}
	}
	return out
}

// connAttributes returns the schema attributes shared by sources and destinations: one block
// per kind, the computed kind attribute (engine or platform), and the credential attributes.
// what is "source" or "destination"; kindAttr is "engine" or "platform".
func connAttributes(what, kindAttr string, kinds []connKind) map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		kindAttr: schema.StringAttribute{
			MarkdownDescription: fmt.Sprintf("The %s of the %s, set from the block that is configured (one of %s). "+
				"Switching to another %s replaces the %s.", kindAttr, what, codeList(kindNames(kinds, false)), kindAttr, what),
			Computed: true,
		},
		attrCredentialsWO: schema.MapAttribute{
			MarkdownDescription: fmt.Sprintf("Write-only credentials of the %s, by credential name (the names each %s block documents). "+
				"They are encrypted with the provider's `encryption_key` before being stored in the catalog and never appear in "+
				"Terraform state or plans. Terraform only sends them when `%s` changes (or at creation): change `%s` to rotate them. "+
				"Requires Terraform 1.11 or later.", what, kindAttr, attrCredentialsWOVersion, attrCredentialsWOVersion),
			ElementType: types.StringType,
			Optional:    true,
			Sensitive:   true,
			WriteOnly:   true,
		},
		attrCredentialsWOVersion: schema.StringAttribute{
			MarkdownDescription: fmt.Sprintf("Any string marking the version of `%s`. Change it whenever `%s` changes, so the new values "+
				"are read, tested and stored.", attrCredentialsWO, attrCredentialsWO),
			Optional:   true,
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		attrCredentialsRef: schema.MapAttribute{
			MarkdownDescription: fmt.Sprintf("Credentials of the %s given as references the provider and the runner resolve when they "+
				"connect: `env:NAME` reads environment variable NAME, `file:PATH` reads a file (trailing newline removed). The catalog "+
				"stores the reference, never the secret. A credential name may appear in `%s` or here, not both.", what, attrCredentialsWO),
			ElementType: types.StringType,
			Optional:    true,
			Validators: []validator.Map{
				mapvalidator.SizeAtLeast(1),
				mapvalidator.ValueStringsAre(referenceValidator{}),
			},
		},
	}
	for _, k := range kinds {
		desc := fmt.Sprintf("Settings of a %s %s.", k.DisplayName, what)
		if k.Description != "" {
			desc = strings.TrimSpace(k.Description) + " " + desc
		}
		if len(k.Credentials) > 0 {
			var cs []string
			for _, c := range k.Credentials {
				req := "optional"
				if c.Required {
					req = "required"
				}
				cs = append(cs, fmt.Sprintf("`%s` (%s): %s", c.Name, req, strings.TrimSpace(c.Description)))
			}
			desc += fmt.Sprintf(" Credentials (in `%s` or `%s`): %s.", attrCredentialsWO, attrCredentialsRef, strings.Join(cs, "; "))
		}
		if !k.Available {
			desc += " **Declared but not available in this build yet.**"
		}
		desc += fmt.Sprintf(" Exactly one %s block must be set.", kindAttr)
		attrs[k.Name] = schema.SingleNestedAttribute{
			MarkdownDescription: desc,
			Optional:            true,
			Attributes:          fields.Attributes(k.Settings),
		}
	}
	return attrs
}

func codeList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}

// connExactlyOne is the config validator requiring exactly one kind block.
func connExactlyOne(kinds []connKind) resource.ConfigValidator {
	var exprs []path.Expression
	for _, k := range kinds {
		exprs = append(exprs, path.MatchRoot(k.Name))
	}
	return resourcevalidator.ExactlyOneOf(exprs...)
}

// referenceValidator checks one credential reference with secrets.ValidateReference.
type referenceValidator struct{}

func (referenceValidator) Description(context.Context) string {
	return "must be a reference: env:NAME or file:PATH"
}

func (v referenceValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (referenceValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := secrets.ValidateReference(req.ConfigValue.ValueString()); err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, req.Path, "Invalid Credential Reference",
			"The value is not a credential reference.",
			"Write env:NAME to read environment variable NAME, or file:/path/to/secret to read a file. "+
				"To give the secret itself, use "+attrCredentialsWO+" instead.", err)
	}
}

// connModel is the Terraform value of a source or destination.
type connModel struct {
	ID                   types.String
	WorkspaceID          types.String
	Name                 types.String
	Kind                 types.String
	CredentialsWO        types.Map
	CredentialsWOVersion types.String
	CredentialsRef       types.Map
	// APIBaseURL is the api_base_url attribute, which only destinations have (null for
	// sources).
	APIBaseURL types.String
	// StatsSchedule is the stats_schedule attribute, which only sources have.
	StatsSchedule types.Object
	Blocks        map[string]types.Object
}

// getter is what tfsdk.Config, tfsdk.Plan and tfsdk.State have in common.
type getter interface {
	Get(ctx context.Context, target any) diag.Diagnostics
}

// readConnModel reads a source or destination from a config, plan or state.
func readConnModel(ctx context.Context, g getter, kindAttr string, kinds []connKind) (connModel, diag.Diagnostics) {
	var obj types.Object
	diags := g.Get(ctx, &obj)
	if diags.HasError() {
		return connModel{}, diags
	}
	a := obj.Attributes()
	str := func(name string) types.String {
		v, ok := a[name].(types.String)
		if !ok {
			diags.AddError("Unexpected Attribute Type", fmt.Sprintf("Attribute %q is not a string; this is a provider bug.", name))
		}
		return v
	}
	mp := func(name string) types.Map {
		v, ok := a[name].(types.Map)
		if !ok {
			diags.AddError("Unexpected Attribute Type", fmt.Sprintf("Attribute %q is not a map; this is a provider bug.", name))
		}
		return v
	}
	m := connModel{
		ID:                   str("id"),
		WorkspaceID:          str("workspace_id"),
		Name:                 str("name"),
		Kind:                 str(kindAttr),
		CredentialsWO:        mp(attrCredentialsWO),
		CredentialsWOVersion: str(attrCredentialsWOVersion),
		CredentialsRef:       mp(attrCredentialsRef),
		Blocks:               map[string]types.Object{},
	}
	if _, ok := a[attrAPIBaseURL]; ok {
		m.APIBaseURL = str(attrAPIBaseURL)
	}
	if v, ok := a[attrStatsSchedule]; ok {
		o, isObj := v.(types.Object)
		if !isObj {
			diags.AddError("Unexpected Attribute Type", fmt.Sprintf("Attribute %q is not an object; this is a provider bug.", attrStatsSchedule))
		}
		m.StatsSchedule = o
	}
	for _, k := range kinds {
		b, ok := a[k.Name].(types.Object)
		if !ok {
			diags.AddError("Unexpected Attribute Type", fmt.Sprintf("Attribute %q is not an object; this is a provider bug.", k.Name))
		}
		m.Blocks[k.Name] = b
	}
	return m, diags
}

// object builds the Terraform value of the model for the schema's object type. The write-only
// credentials are always null: they never go to a plan or to state.
func (m connModel) object(kindAttr string, kinds []connKind, typ attr.Type) (types.Object, diag.Diagnostics) {
	ot, ok := typ.(attr.TypeWithAttributeTypes)
	if !ok {
		var d diag.Diagnostics
		d.AddError("Unexpected Schema Type", fmt.Sprintf("The schema type is %T; this is a provider bug.", typ))
		return types.ObjectNull(nil), d
	}
	vals := map[string]attr.Value{
		"id":                     m.ID,
		"workspace_id":           m.WorkspaceID,
		"name":                   m.Name,
		kindAttr:                 m.Kind,
		attrCredentialsWO:        types.MapNull(types.StringType),
		attrCredentialsWOVersion: m.CredentialsWOVersion,
		attrCredentialsRef:       m.CredentialsRef,
	}
	if _, ok := ot.AttributeTypes()[attrAPIBaseURL]; ok {
		vals[attrAPIBaseURL] = m.APIBaseURL
	}
	if _, ok := ot.AttributeTypes()[attrStatsSchedule]; ok {
		vals[attrStatsSchedule] = m.StatsSchedule
	}
	for _, k := range kinds {
		b, ok := m.Blocks[k.Name]
		if !ok {
			b = types.ObjectNull(fields.AttrTypes(k.Settings))
		}
		vals[k.Name] = b
	}
	return types.ObjectValue(ot.AttributeTypes(), vals)
}

// chosenKind returns the kind whose block is set; ok is false when none (or more than one, or
// an unknown one) is.
func (m connModel) chosenKind(kinds []connKind) (connKind, bool) {
	var found []connKind
	for _, k := range kinds {
		b := m.Blocks[k.Name]
		if b.IsUnknown() {
			return connKind{}, false
		}
		if !b.IsNull() {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return connKind{}, false
	}
	return found[0], true
}

// stringMap returns the known elements of a map attribute (nil when null or unknown); known is
// false when the map or one of its values is unknown.
func stringMap(m types.Map) (vals map[string]string, known bool) {
	if m.IsUnknown() {
		return nil, false
	}
	if m.IsNull() {
		return nil, true
	}
	known = true
	vals = map[string]string{}
	for k, v := range m.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsUnknown() {
			known = false
			continue
		}
		if !s.IsNull() {
			vals[k] = s.ValueString()
		}
	}
	return vals, known
}

// validateConn checks a configuration against the chosen kind's declaration: the block of an
// unavailable kind is refused, credential names must be declared, each given once, and every
// required credential must be given. Unknown values are skipped (checked again at apply).
func validateConn(m connModel, what, kindAttr string, kinds []connKind, d *diag.Diagnostics) {
	for _, k := range kinds {
		if b := m.Blocks[k.Name]; !b.IsNull() && !b.IsUnknown() && !k.Available {
			diagnostics.AddAttributeError(d, path.Root(k.Name), fmt.Sprintf("%s Not Available", titleKind(kindAttr)),
				fmt.Sprintf("%s %s is declared but not available in this build yet.", kindAttr, k.Name),
				fmt.Sprintf("Use %s.", orList(kindNames(kinds, true))), nil)
		}
	}
	k, ok := m.chosenKind(kinds)
	if !ok {
		return // the exactly-one validator reports the missing or extra block
	}
	allowed := fields.Names(k.Credentials)
	allowedText := "none"
	if len(allowed) > 0 {
		allowedText = strings.Join(allowed, ", ")
	}
	if !m.CredentialsWO.IsNull() && m.CredentialsWOVersion.IsNull() {
		diagnostics.AddAttributeWarning(d, path.Root(attrCredentialsWOVersion), "Missing Credentials Version",
			attrCredentialsWO+" is set without "+attrCredentialsWOVersion+". Terraform cannot see changes of write-only values, "+
				"so a new value would never be applied.",
			"Set "+attrCredentialsWOVersion+" (any string, such as \"1\") and change it whenever the credentials change.", nil)
	}
	wo, woKnown := stringMap(m.CredentialsWO)
	ref, refKnown := stringMap(m.CredentialsRef)
	check := func(attrName string, vals map[string]string) {
		for _, name := range sortedKeys(vals) {
			if _, declared := fields.Find(k.Credentials, name); !declared {
				diagnostics.AddAttributeError(d, path.Root(attrName).AtMapKey(name), "Unknown Credential",
					fmt.Sprintf("%s %s has no credential named %q.", titleKind(kindAttr), k.Name, name),
					fmt.Sprintf("Use one of the credentials the %s declares: %s.", kindAttr, allowedText), nil)
			}
		}
	}
	check(attrCredentialsWO, wo)
	check(attrCredentialsRef, ref)
	for _, name := range sortedKeys(wo) {
		if _, dup := ref[name]; dup {
			diagnostics.AddAttributeError(d, path.Root(attrCredentialsRef).AtMapKey(name), "Credential Given Twice",
				fmt.Sprintf("Credential %q is given both in %s and in %s.", name, attrCredentialsWO, attrCredentialsRef),
				"Keep it in one of the two.", nil)
		}
	}
	if !woKnown || !refKnown {
		return
	}
	for _, c := range k.Credentials {
		if !c.Required {
			continue
		}
		_, inWO := wo[c.Name]
		_, inRef := ref[c.Name]
		if !inWO && !inRef {
			diagnostics.AddAttributeError(d, path.Root(attrCredentialsWO), "Missing Credential",
				fmt.Sprintf("A %s %s needs credential %q.", k.Name, what, c.Name),
				fmt.Sprintf("Set it in %s (write-only, with %s) or as a reference in %s.", attrCredentialsWO, attrCredentialsWOVersion, attrCredentialsRef), nil)
		}
	}
}

func orList(names []string) string {
	switch len(names) {
	case 0:
		return "another one"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// planConnKind sets the planned kind attribute from the configured block and asks for
// replacement when it differs from the state's: another engine or platform is another object.
func planConnKind(ctx context.Context, kindAttr string, kinds []connKind, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	plan, d := readConnModel(ctx, req.Plan, kindAttr, kinds)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	k, ok := plan.chosenKind(kinds)
	if !ok {
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(kindAttr), types.StringValue(k.Name))...)
	if req.State.Raw.IsNull() {
		return
	}
	var stateKind types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root(kindAttr), &stateKind)...)
	if !stateKind.IsNull() && stateKind.ValueString() != k.Name {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root(kindAttr))
	}
}

// credentials are a connection's credentials in both forms: what the catalog stores (sealed
// values and references) and the plain text a connector receives.
type credentials struct {
	Stored map[string]string
	Plain  map[string]string
}

// values returns the plain-text secrets, to mask them in logs and redact them from errors.
func (c credentials) values() []string {
	out := make([]string, 0, len(c.Plain))
	for _, v := range c.Plain {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// maskContext returns ctx with every secret value masked in tflog output, so neither the
// provider's nor a connector's log line can carry one.
func maskContext(ctx context.Context, secretValues []string) context.Context {
	if len(secretValues) == 0 {
		return ctx
	}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, secretValues...)
	ctx = tflog.MaskMessageStrings(ctx, secretValues...)
	return ctx
}

// newCredentials builds credentials from configuration: write-only values are sealed, references
// kept as given and resolved for the connection test. Errors are added at the attribute at
// fault; no secret is ever put in a diagnostic.
func (d *providerData) newCredentials(wo, ref map[string]string, summary string, diags *diag.Diagnostics) credentials {
	c := credentials{Stored: map[string]string{}, Plain: map[string]string{}}
	for _, name := range sortedKeys(wo) {
		sealed, err := d.Sealer.Seal(wo[name])
		if err != nil {
			diagnostics.AddAttributeError(diags, path.Root(attrCredentialsWO).AtMapKey(name), summary,
				fmt.Sprintf("Credential %q cannot be encrypted for the catalog.", name),
				"Set the provider's encryption_key (or "+secrets.EnvKey+"), or give the credential as a reference in "+attrCredentialsRef+".", err)
			continue
		}
		c.Stored[name] = sealed
		c.Plain[name] = wo[name]
	}
	for _, name := range sortedKeys(ref) {
		c.Stored[name] = ref[name]
		plain, err := d.Sealer.Resolve(ref[name])
		if err != nil {
			diagnostics.AddAttributeError(diags, path.Root(attrCredentialsRef).AtMapKey(name), summary,
				fmt.Sprintf("Credential reference %q cannot be resolved.", name),
				"Make the environment variable or file available to Terraform (the runner needs it too).", err)
			continue
		}
		c.Plain[name] = plain
	}
	return c
}

// storedCredentials resolves credentials already in the catalog.
func (d *providerData) storedCredentials(stored map[string]string) (credentials, error) {
	plain, err := d.Sealer.ResolveAll(stored)
	if err != nil {
		return credentials{}, fmt.Errorf("resolving stored credentials: %w", err)
	}
	return credentials{Stored: stored, Plain: plain}, nil
}

// credentialsChanged tells whether an update must read the write-only credentials again: only
// when their version marker or the references changed, since Terraform cannot tell whether a
// write-only value changed.
func credentialsChanged(plan, state connModel) bool {
	return !plan.CredentialsWOVersion.Equal(state.CredentialsWOVersion) || !plan.CredentialsRef.Equal(state.CredentialsRef)
}

// refsFromStored returns the references among stored credentials as the credentials_ref value
// (null when there are none), so Read and import rebuild what the user wrote.
func refsFromStored(stored map[string]string) types.Map {
	elems := map[string]attr.Value{}
	for k, v := range stored {
		if !secrets.IsSealed(v) {
			elems[k] = types.StringValue(v)
		}
	}
	if len(elems) == 0 {
		return types.MapNull(types.StringType)
	}
	return types.MapValueMust(types.StringType, elems)
}

// optionalString maps "" to null, for optional attributes stored as empty strings.
func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// connResource is what sources and destinations share as resources: the schema parts, the
// validators, the plan modifier and the conversions between catalog records and state.
type connResource struct {
	resourceBase
	kinds    []connKind
	kindAttr string // "engine" or "platform"
	what     string // "source" or "destination"
}

func (r *connResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{connExactlyOne(r.kinds)}
}

func (r *connResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	m, d := r.read(ctx, req.Config)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateConn(m, r.what, r.kindAttr, r.kinds, &resp.Diagnostics)
	if sched, known := scheduleFromObject(m.StatsSchedule); known && !m.StatsSchedule.IsNull() {
		addScheduleProblemsAt(&resp.Diagnostics, path.Root(attrStatsSchedule), schedule.Validate(sched, true), false)
	}
}

func (r *connResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	planConnKind(ctx, r.kindAttr, r.kinds, req, resp)
}

func (r *connResource) read(ctx context.Context, g getter) (connModel, diag.Diagnostics) {
	return readConnModel(ctx, g, r.kindAttr, r.kinds)
}

// settingsOf returns the chosen kind and the settings the user wrote in its block.
func (r *connResource) settingsOf(ctx context.Context, m connModel, summary string, d *diag.Diagnostics) (connKind, map[string]any, bool) {
	kind, ok := m.chosenKind(r.kinds)
	if !ok {
		diagnostics.AddError(d, summary, fmt.Sprintf("Exactly one %s block must be set.", r.kindAttr),
			"Set one of "+orList(kindNames(r.kinds, true))+".", nil)
		return connKind{}, nil, false
	}
	settings, dd := fields.FromObject(ctx, kind.Settings, m.Blocks[kind.Name])
	d.Append(dd...)
	return kind, settings, !d.HasError()
}

// fromCatalog rebuilds the Terraform value from a catalog record, so Read and import give
// back exactly what the user wrote (write-only credentials stay null).
func (r *connResource) fromCatalog(id, workspaceID, name, kindName, version string, settings map[string]any, stored map[string]string, d *diag.Diagnostics) (connModel, bool) {
	kind, ok := findKind(r.kinds, kindName)
	if !ok {
		diagnostics.AddError(d, "Cannot Read "+titleKind(r.what),
			fmt.Sprintf("The catalog's %s %q uses %s %q, which this provider build does not know.", r.what, name, r.kindAttr, kindName),
			fmt.Sprintf("Use a provider version that supports the %s.", r.kindAttr), nil)
		return connModel{}, false
	}
	m := connModel{
		ID: types.StringValue(id), WorkspaceID: types.StringValue(workspaceID), Name: types.StringValue(name),
		Kind: types.StringValue(kindName), CredentialsWOVersion: optionalString(version),
		CredentialsRef: refsFromStored(stored), Blocks: map[string]types.Object{},
	}
	block, dd := fields.ToObject(kind.Settings, settings)
	d.Append(dd...)
	m.Blocks[kind.Name] = block
	return m, !d.HasError()
}

func (r *connResource) setState(ctx context.Context, m connModel, st *tfsdk.State, d *diag.Diagnostics) {
	obj, dd := m.object(r.kindAttr, r.kinds, st.Schema.Type())
	d.Append(dd...)
	if d.HasError() {
		return
	}
	d.Append(st.Set(ctx, obj)...)
}

// configCredentials reads the write-only and reference maps from the configuration (the only
// place write-only values exist) and builds credentials from them.
func (r *connResource) configCredentials(ctx context.Context, cfg getter, summary string, d *diag.Diagnostics) credentials {
	m, dd := r.read(ctx, cfg)
	d.Append(dd...)
	if d.HasError() {
		return credentials{}
	}
	wo, _ := stringMap(m.CredentialsWO)
	ref, _ := stringMap(m.CredentialsRef)
	return r.data.newCredentials(wo, ref, summary, d)
}

// updateCredentials returns the credentials an update uses: read again from the configuration
// when their version marker or references changed, else the stored ones, resolved.
func (r *connResource) updateCredentials(ctx context.Context, cfg getter, plan, state connModel, stored map[string]string, summary string, d *diag.Diagnostics) (credentials, bool) {
	if credentialsChanged(plan, state) {
		return r.configCredentials(ctx, cfg, summary, d), true
	}
	creds, err := r.data.storedCredentials(stored)
	if err != nil {
		diagnostics.AddAttributeError(d, path.Root(attrCredentialsWO), summary,
			fmt.Sprintf("The %s's stored credentials cannot be decrypted or resolved.", r.what),
			"Check the provider's encryption_key, or give the credentials again and change "+attrCredentialsWOVersion+".", err)
	}
	return creds, false
}

// credentialsPath is the attribute a refused credential is reported at: the references when
// every credential is one, else the write-only map.
func credentialsPath(c credentials) path.Path {
	if len(c.Stored) == 0 {
		return path.Root(attrCredentialsWO)
	}
	for _, v := range c.Stored {
		if secrets.IsSealed(v) {
			return path.Root(attrCredentialsWO)
		}
	}
	return path.Root(attrCredentialsRef)
}
