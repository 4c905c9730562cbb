package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"dinmo/catalog"
	"dinmo/provider/internal/diagnostics"
)

// Name rules. Models and segments become view names, so they are plain SQL identifiers; the
// other objects may also use dashes.
var (
	viewNamePattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	objectNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// pathID is the path of every resource's id attribute.
var pathID = path.Root("id")

// resourceBase holds what every dinmo resource gets from the provider.
type resourceBase struct {
	data *providerData
}

// Configure stores the provider data. It returns quietly on nil (Terraform calls it before
// the provider is configured, for validation) and fails on a wrong type.
func (b *resourceBase) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	d, ok := req.ProviderData.(*providerData)
	if !ok {
		diagnostics.AddError(&resp.Diagnostics, "Unexpected Provider Data",
			fmt.Sprintf("The resource received provider data of type %T instead of the dinmo provider's.", req.ProviderData),
			"This is a bug in the provider; please report it.", nil)
		return
	}
	b.data = d
}

// configured reports whether the provider data is available; plan-time checks that need the
// catalog are skipped when it is not (validation before configuration).
func (b *resourceBase) configured() bool { return b.data != nil }

// idAttribute is the computed catalog id of every resource.
func idAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Catalog id of the " + what + ".",
		Computed:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
}

// nameAttribute is the immutable name of an object; view-named objects follow SQL identifier
// rules.
func nameAttribute(what string, viewNamed bool) schema.StringAttribute {
	v := stringvalidator.RegexMatches(objectNamePattern,
		"must start with a lowercase letter or digit and contain only lowercase letters, digits, _ and - (at most 63 characters)")
	desc := "Name of the " + what + ", unique in its workspace: lowercase letters, digits, `_` and `-`, at most 63 characters. Changing it replaces the " + what + "."
	if viewNamed {
		v = stringvalidator.RegexMatches(viewNamePattern,
			"must start with a lowercase letter and contain only lowercase letters, digits and _ (at most 63 characters), because it names a warehouse view")
		desc = "Name of the " + what + ", unique in its workspace. It names the " + what + "'s view in the warehouse, so it must start " +
			"with a lowercase letter and contain only lowercase letters, digits and `_` (at most 63 characters). Changing it replaces the " + what + "."
	}
	return schema.StringAttribute{
		MarkdownDescription: desc,
		Required:            true,
		Validators:          []validator.String{v},
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
}

// workspaceIDAttribute is the owning workspace of a scoped object.
func workspaceIDAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "Id of the workspace owning the " + what + " (`dinmo_workspace.<name>.id`). Changing it replaces the " + what + ".",
		Required:            true,
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
	}
}

// parseImportID splits an import id of a workspace-scoped object: "<workspace name>/<object
// name>", or a raw catalog id (no slash).
func parseImportID(id string) (workspace, name string, raw bool, err error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", "", false, errors.New("the import id is empty")
	}
	if !strings.Contains(id, "/") {
		return "", id, true, nil
	}
	parts := strings.Split(id, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false, fmt.Errorf("import id %q must be <workspace name>/<name> or a catalog id", id)
	}
	return parts[0], parts[1], false, nil
}

// importScoped resolves an import id of a workspace-scoped object to its catalog id, using
// the kind's by-name and by-id lookups, and sets it as the state's id for Read to complete.
func (b *resourceBase) importScoped(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, kind string,
	lookupName nameLookup, lookupID idLookup,
) {
	if b.data == nil {
		diagnostics.AddError(&resp.Diagnostics, "Cannot Import "+titleKind(kind), "The provider is not configured.", "Configure the dinmo provider.", errNoProviderData)
		return
	}
	wsName, name, raw, err := parseImportID(req.ID)
	if err != nil {
		diagnostics.AddError(&resp.Diagnostics, "Invalid Import ID", "The import id cannot be parsed.",
			"Use <workspace name>/<"+kind+" name>, for example analytics/my_"+kind+", or the "+kind+"'s catalog id.", err)
		return
	}
	var id string
	if raw {
		if err := lookupID(ctx, b.data.Store, name); err != nil {
			addStoreError(&resp.Diagnostics, "Cannot Import "+titleKind(kind), kind, name, err)
			return
		}
		id = name
	} else {
		ws, err := b.data.Store.GetWorkspaceByName(ctx, wsName)
		if err != nil {
			addStoreError(&resp.Diagnostics, "Cannot Import "+titleKind(kind), "workspace", wsName, err)
			return
		}
		id, err = lookupName(ctx, b.data.Store, ws.ID, name)
		if err != nil {
			addStoreError(&resp.Diagnostics, "Cannot Import "+titleKind(kind), kind, req.ID, err)
			return
		}
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, pathID, id)...)
}

// byName adapts a catalog by-name getter (a method expression such as
// catalog.Store.GetModelByName) to importScoped.
func byName[T any](get func(catalog.Store, context.Context, string, string) (*T, error), id func(*T) string) nameLookup {
	return func(ctx context.Context, store catalog.Store, workspaceID, name string) (string, error) {
		x, err := get(store, ctx, workspaceID, name)
		if err != nil {
			return "", err
		}
		return id(x), nil
	}
}

// byID adapts a catalog by-id getter (such as catalog.Store.GetModel) to importScoped.
func byID[T any](get func(catalog.Store, context.Context, string) (*T, error)) idLookup {
	return func(ctx context.Context, store catalog.Store, id string) error {
		_, err := get(store, ctx, id)
		return err
	}
}

// Lookups importScoped resolves an import id with.
type (
	nameLookup func(ctx context.Context, store catalog.Store, workspaceID, name string) (string, error)
	idLookup   func(ctx context.Context, store catalog.Store, id string) error
)

func titleKind(kind string) string {
	if kind == "" {
		return ""
	}
	return strings.ToUpper(kind[:1]) + kind[1:]
}

// addStoreError turns a catalog error into a diagnostic that says what to do for the sentinel
// it wraps.
func addStoreError(d *diag.Diagnostics, summary, kind, name string, err error) {
	what := fmt.Sprintf("The catalog operation on %s %q failed.", kind, name)
	todo := "Check that the catalog is reachable and writable, then retry."
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		what = fmt.Sprintf("The catalog has no %s %q.", kind, name)
		todo = "Check the name or id; it may have been deleted outside Terraform."
	case errors.Is(err, catalog.ErrConflict):
		what = fmt.Sprintf("A %s named %q already exists in this workspace.", kind, name)
		todo = "Choose another name, or import the existing object with terraform import."
	case errors.Is(err, catalog.ErrInUse):
		what = fmt.Sprintf("The %s %q is still used by other objects.", kind, name)
		todo = "Remove or re-point the objects that use it first (see the cause below), then apply again."
	}
	diagnostics.AddError(d, summary, what, todo, err)
}

// nameFree interprets the by-name lookup done before a create: the name is free when the
// catalog has no such object. Creating checks this first because a model or segment of the
// same name would otherwise have its view replaced before the catalog refused the duplicate.
func nameFree(d *diag.Diagnostics, summary, kind, name string, lookupErr error) bool {
	switch {
	case lookupErr == nil:
		addStoreError(d, summary, kind, name, catalog.ErrConflict)
		return false
	case errors.Is(lookupErr, catalog.ErrNotFound):
		return true
	default:
		addStoreError(d, summary, kind, name, lookupErr)
		return false
	}
}

// urlPassword returns the password of a URL, or "" when it has none or does not parse.
func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// refs names an object other catalog objects may reference; exactly one field is set.
type refs struct {
	sourceID, modelID, segmentID, destinationID string
}

// refuseIfUsed adds an error naming the catalog objects that still reference the object, and
// reports whether it did (or whether the catalog could not be read). A delete checks this
// before it touches the warehouse, so a refused delete drops nothing; the catalog's own
// ErrInUse remains the guard against races.
func (d *providerData) refuseIfUsed(ctx context.Context, diags *diag.Diagnostics, summary, kind, name, workspaceID string, r refs) bool {
	var users []string
	if r.sourceID != "" {
		models, err := d.Store.ListModels(ctx, workspaceID)
		if err != nil {
			addStoreError(diags, summary, kind, name, err)
			return true
		}
		for _, m := range models {
			if m.SourceID == r.sourceID {
				users = append(users, fmt.Sprintf("model %q", m.Name))
			}
		}
	}
	if r.modelID != "" {
		segs, err := d.Store.ListSegments(ctx, workspaceID)
		if err != nil {
			addStoreError(diags, summary, kind, name, err)
			return true
		}
		for _, s := range segs {
			if s.ModelID == r.modelID {
				users = append(users, fmt.Sprintf("segment %q", s.Name))
			}
		}
	}
	if r.modelID != "" || r.segmentID != "" || r.destinationID != "" {
		acts, err := d.Store.ListActivations(ctx, workspaceID)
		if err != nil {
			addStoreError(diags, summary, kind, name, err)
			return true
		}
		for _, a := range acts {
			if (r.modelID != "" && a.ModelID == r.modelID) || (r.segmentID != "" && a.SegmentID == r.segmentID) ||
				(r.destinationID != "" && a.DestinationID == r.destinationID) {
				users = append(users, fmt.Sprintf("activation %q", a.Name))
			}
		}
	}
	if len(users) == 0 {
		return false
	}
	diagnostics.AddError(diags, summary, fmt.Sprintf("The %s %q is still used by %s.", kind, name, strings.Join(users, ", ")),
		fmt.Sprintf("Destroy those objects first (or point them at another %s), then destroy the %s.", kind, kind), catalog.ErrInUse)
	return true
}
