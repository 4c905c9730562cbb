package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/alert"
	"dinmo/provider/internal/diagnostics"
	"dinmo/secrets"
)

// This file holds the workspace's alerts attribute: where the runner sends alerts (run
// failures, guard blocks, warnings, automatic pauses and resumes). The catalog stores it as
// alert.Settings JSON with the secrets sealed (write-only values) or as references, plus the
// user's secrets version marker.

var emailAttrTypes = map[string]attr.Type{
	"host": types.StringType, "port": types.Int64Type, "username": types.StringType,
	"password_wo": types.StringType, "password_ref": types.StringType,
	"from": types.StringType, "to": types.ListType{ElemType: types.StringType}, "tls": types.StringType,
}

var alertsAttrTypes = map[string]attr.Type{
	"slack_webhook_url_wo": types.StringType, "slack_webhook_url_ref": types.StringType,
	"email": types.ObjectType{AttrTypes: emailAttrTypes}, "repeat": types.StringType, "secrets_wo_version": types.StringType,
}

func alertsSchema() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		MarkdownDescription: "Where the runner sends alerts for this workspace's activations: a run failed or was blocked by a guard, " +
			"a run succeeded with warnings, an activation was paused or resumed automatically, a failing activation recovered. " +
			"A problem is alerted once, then again every `repeat` while it lasts. Secrets are write-only (`*_wo`, sealed with the " +
			"provider's `encryption_key`, never in state) or references (`*_ref`: `env:NAME`, `file:PATH`) the runner resolves.",
		Optional: true,
		Attributes: map[string]schema.Attribute{
			"slack_webhook_url_wo": schema.StringAttribute{
				MarkdownDescription: "Slack incoming webhook URL (`https://hooks.slack.com/services/...`), write-only. Change `secrets_wo_version` to rotate it.",
				Optional:            true, Sensitive: true, WriteOnly: true,
			},
			"slack_webhook_url_ref": schema.StringAttribute{
				MarkdownDescription: "Slack incoming webhook URL as a reference: `env:NAME` or `file:PATH`.",
				Optional:            true, Validators: []validator.String{referenceValidator{}},
			},
			"email": schema.SingleNestedAttribute{
				MarkdownDescription: "Email alerts over SMTP.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"host": schema.StringAttribute{MarkdownDescription: "SMTP server host name.", Required: true},
					"port": schema.Int64Attribute{
						MarkdownDescription: "SMTP port. Defaults to 587 (465 with `tls = \"implicit\"`).",
						Optional:            true, Validators: []validator.Int64{int64validator.Between(1, 65535)},
					},
					"username": schema.StringAttribute{MarkdownDescription: "SMTP user name (omit for a relay without authentication).", Optional: true},
					"password_wo": schema.StringAttribute{
						MarkdownDescription: "SMTP password, write-only. Change `secrets_wo_version` to rotate it.",
						Optional:            true, Sensitive: true, WriteOnly: true,
					},
					"password_ref": schema.StringAttribute{
						MarkdownDescription: "SMTP password as a reference: `env:NAME` or `file:PATH`.",
						Optional:            true, Validators: []validator.String{referenceValidator{}},
					},
					"from": schema.StringAttribute{MarkdownDescription: "Sender address, such as `dinmo <alerts@example.com>`.", Required: true},
					"to": schema.ListAttribute{
						MarkdownDescription: "Recipient addresses.", ElementType: types.StringType, Required: true,
						Validators: []validator.List{listvalidator.SizeAtLeast(1)},
					},
					"tls": schema.StringAttribute{
						MarkdownDescription: "`starttls` (default), `implicit` or `none` (loopback relays only).",
						Optional:            true, Validators: []validator.String{stringvalidator.OneOf("starttls", "implicit", "none")},
					},
				},
			},
			"repeat": schema.StringAttribute{
				MarkdownDescription: "How often an ongoing problem is alerted again: a duration of at least `1m` such as `6h` (default `24h`), or `never`.",
				Optional:            true,
			},
			"secrets_wo_version": schema.StringAttribute{
				MarkdownDescription: "Any string marking the version of the write-only secrets; change it whenever one changes, so Terraform sends them again.",
				Optional:            true, Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
		},
	}
}

// storedAlerts is the catalog form: alert.Settings plus the version marker (the runner
// ignores the extra field).
type storedAlerts struct {
	alert.Settings
	SecretsVersion string `json:"secrets_version,omitempty"`
}

// alertsConfig reads the alerts attribute of the configuration (which alone carries the
// write-only values) into the stored form, sealing write-only secrets when seal is true
// (apply), and validates it. Nil means no alerts, or (at validation) not known yet.
func alertsConfig(sealer *secrets.Sealer, obj types.Object, seal bool, diags *diag.Diagnostics) *storedAlerts {
	if obj.IsUnknown() || obj.IsNull() {
		return nil
	}
	root := path.Root("alerts")
	a := obj.Attributes()
	str := func(attrs map[string]attr.Value, name string) (string, bool, bool) {
		v, _ := attrs[name].(types.String)
		return v.ValueString(), !v.IsNull(), !v.IsUnknown()
	}
	s := &storedAlerts{}
	allKnown := true
	secret := func(p path.Path, woName, refName string, attrs map[string]attr.Value, what string) string {
		wo, woSet, woKnown := str(attrs, woName)
		ref, refSet, refKnown := str(attrs, refName)
		if !woKnown || !refKnown {
			allKnown = false
			return ""
		}
		switch {
		case woSet && refSet:
			diagnostics.AddAttributeError(diags, p.AtName(refName), "Invalid Alerts", fmt.Sprintf("Both %s and %s are set.", woName, refName),
				"Give the "+what+" once: write-only in "+woName+", or as a reference in "+refName+".", nil)
			return ""
		case woSet:
			if !seal {
				return "set" // presence only: validated by Validate, sealed at apply
			}
			sealed, err := sealer.Seal(wo)
			if err != nil {
				diagnostics.AddAttributeError(diags, p.AtName(woName), "Invalid Alerts", "The "+what+" cannot be encrypted for the catalog.",
					"Set the provider's encryption_key (or "+secrets.EnvKey+"), or give it as a reference in "+refName+".", err)
				return ""
			}
			return sealed
		case refSet:
			return ref
		}
		return ""
	}
	slackWO, slackWOSet, slackWOKnown := str(a, "slack_webhook_url_wo")
	if slackWOSet && slackWOKnown {
		if err := alert.ValidateSlackWebhookURL(slackWO); err != nil {
			diagnostics.AddAttributeError(diags, root.AtName("slack_webhook_url_wo"), "Invalid Alerts", "The Slack webhook URL is not valid.",
				"Copy the URL from the Slack app's Incoming Webhooks page.", err)
		}
	}
	if url := secret(root, "slack_webhook_url_wo", "slack_webhook_url_ref", a, "Slack webhook URL"); url != "" {
		s.Slack = &alert.SlackSettings{WebhookURL: url}
	}
	if em, _ := a["email"].(types.Object); em.IsUnknown() {
		allKnown = false
	} else if !em.IsNull() {
		ea := em.Attributes()
		e := &alert.EmailSettings{}
		var ok [4]bool
		e.Host, _, ok[0] = str(ea, "host")
		e.Username, _, ok[1] = str(ea, "username")
		e.From, _, ok[2] = str(ea, "from")
		e.TLS, _, ok[3] = str(ea, "tls")
		for _, k := range ok {
			allKnown = allKnown && k
		}
		if port, _ := ea["port"].(types.Int64); port.IsUnknown() {
			allKnown = false
		} else {
			e.Port = int(port.ValueInt64())
		}
		if to, _ := ea["to"].(types.List); to.IsUnknown() {
			allKnown = false
		} else {
			for _, v := range to.Elements() {
				sv, _ := v.(types.String)
				allKnown = allKnown && !sv.IsUnknown()
				e.To = append(e.To, sv.ValueString())
			}
		}
		e.Password = secret(root.AtName("email"), "password_wo", "password_ref", ea, "SMTP password")
		s.Email = e
	}
	var ok bool
	s.Repeat, _, ok = str(a, "repeat")
	allKnown = allKnown && ok
	s.SecretsVersion, _, ok = str(a, "secrets_wo_version")
	allKnown = allKnown && ok
	if !allKnown {
		return nil
	}
	if !s.Enabled() {
		diagnostics.AddAttributeError(diags, root, "Invalid Alerts", "The alerts block configures no channel.",
			"Set slack_webhook_url_wo or slack_webhook_url_ref, or an email block (or remove alerts).", nil)
		return s
	}
	if err := s.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			diagnostics.AddAttributeError(diags, root, "Invalid Alerts", line+".", "Fix the alerts attribute.", nil)
		}
	}
	return s
}

// alertsJSON is the catalog value of the stored form (nil: alerts off).
func alertsJSON(s *storedAlerts) (json.RawMessage, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding the alert settings: %w", err)
	}
	return b, nil
}

// alertsValue is the alerts attribute of stored settings: references and plain fields as
// stored, write-only values null (they never reach state).
func alertsValue(raw json.RawMessage) (types.Object, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" {
		return types.ObjectNull(alertsAttrTypes), nil
	}
	var s storedAlerts
	if err := json.Unmarshal(raw, &s); err != nil {
		return types.ObjectNull(alertsAttrTypes), fmt.Errorf("decoding the stored alert settings: %w", err)
	}
	opt := func(v string) types.String {
		if v == "" {
			return types.StringNull()
		}
		return types.StringValue(v)
	}
	ref := func(v string) types.String {
		if v == "" || secrets.IsSealed(v) {
			return types.StringNull()
		}
		return types.StringValue(v)
	}
	email := types.ObjectNull(emailAttrTypes)
	if e := s.Email; e != nil {
		port := types.Int64Null()
		if e.Port != 0 {
			port = types.Int64Value(int64(e.Port))
		}
		email = types.ObjectValueMust(emailAttrTypes, map[string]attr.Value{
			"host": types.StringValue(e.Host), "port": port, "username": opt(e.Username),
			"password_wo": types.StringNull(), "password_ref": ref(e.Password),
			"from": types.StringValue(e.From), "to": stringList(e.To), "tls": opt(e.TLS),
		})
	}
	slackRef := types.StringNull()
	if s.Slack != nil {
		slackRef = ref(s.Slack.WebhookURL)
	}
	return types.ObjectValueMust(alertsAttrTypes, map[string]attr.Value{
		"slack_webhook_url_wo": types.StringNull(), "slack_webhook_url_ref": slackRef,
		"email": email, "repeat": opt(s.Repeat), "secrets_wo_version": opt(s.SecretsVersion),
	}), nil
}

// readAlertsConfig gets the alerts attribute from the configuration.
func readAlertsConfig(ctx context.Context, g interface {
	GetAttribute(context.Context, path.Path, any) diag.Diagnostics
}, diags *diag.Diagnostics) types.Object {
	var obj types.Object
	diags.Append(g.GetAttribute(ctx, path.Root("alerts"), &obj)...)
	return obj
}
