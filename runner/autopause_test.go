package runner_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"dinmo/catalog"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/warehouse"
	"dinmo/runner"
)

// slackFake is a Slack incoming webhook that records the text of each alert.
type slackFake struct {
	srv   *httptest.Server
	mu    sync.Mutex
	texts []string
}

func newSlackFake(t *testing.T) *slackFake {
	f := &slackFake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Text string `json:"text"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/services/T1/B1/secret-token" || json.Unmarshal(body, &msg) != nil || msg.Text == "" {
			t.Errorf("bad Slack request %s %s: %s", r.Method, r.URL.Path, body)
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.texts = append(f.texts, msg.Text)
		f.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *slackFake) url() string { return f.srv.URL + "/services/T1/B1/secret-token" }

// alerts returns the texts received so far and forgets them.
func (f *slackFake) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.texts
	f.texts = nil
	return out
}

// enableSlack configures the workspace's alerts to the fake, with the URL sealed.
func (f *fixture) enableSlack(slack *slackFake) {
	f.t.Helper()
	sealed, err := f.sealer.Seal(slack.url())
	must(f.t, err)
	raw, err := json.Marshal(map[string]any{"slack": map[string]any{"webhook_url": sealed}})
	must(f.t, err)
	f.ws.Settings.Alerts = raw
	must(f.t, f.store.UpdateWorkspace(f.ctx, f.ws))
}

func (f *fixture) activation() *catalog.Activation {
	f.t.Helper()
	a, err := f.store.GetActivation(f.ctx, f.act.ID)
	must(f.t, err)
	return a
}

func wantAlerts(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d alerts, want %d: %q", len(got), len(want), got)
	}
	// Alerts are delivered concurrently: match them in any order.
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("no alert contains %q: %q", w, got)
		}
	}
}

// TestAutoPauseBrokenView: a run that finds its segment's view gone fails, pauses the
// activation naming the segment, and alerts (failure, pause); the scheduler skips it; the
// check keeps it paused while the view is missing and resumes it (audited, alerted) once the
// view is back; a user's pause is never resumed by the check.
func TestAutoPauseBrokenView(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 4})
	slack := newSlackFake(t)
	f.enableSlack(slack)
	r := f.newRunner()
	f.run(r, runner.RunOptions{})
	r.WaitAlerts()
	if got := slack.take(); len(got) != 0 {
		t.Fatalf("a successful first run alerted: %q", got)
	}

	d := f.wh.Dialect()
	f.exec("DROP VIEW " + d.Qualified(warehouse.SchemaSegments, viewSeg))
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	if err == nil || res.Run.Status != catalog.RunFailed || res.Run.ErrorCategory != "not_found" {
		t.Fatalf("run without its view: %v, %+v", err, res)
	}
	a := f.activation()
	if !a.Paused || a.PausedBy != runner.PausedByAuto || !strings.HasPrefix(a.PauseReason, "segment vip is broken (not_found): view") {
		t.Fatalf("after a broken view: paused=%v by=%q reason=%q", a.Paused, a.PausedBy, a.PauseReason)
	}
	r.WaitAlerts()
	got := slack.take()
	wantAlerts(t, got, "failed", "segment vip is broken")
	for _, s := range got {
		if strings.Contains(s, "secret-token") {
			t.Errorf("an alert contains the webhook token: %s", s)
		}
	}

	// A due paused activation is not run by the scheduler.
	must(t, f.store.SetActivationSchedule(f.ctx, f.act.ID, ptr(f.activation().CreatedAt), false))
	if n := tick(t, r.NewScheduler(1), f.ctx); n != 0 {
		t.Fatalf("the scheduler started %d runs of a paused activation", n)
	}

	results, err := r.CheckPaused(f.ctx, "")
	must(t, err)
	if len(results) != 1 || results[0].Resumed || !strings.HasPrefix(results[0].Problem, "segment vip: view") {
		t.Fatalf("check with the view missing: %+v", results)
	}
	if !f.activation().Paused {
		t.Fatal("the check resumed an activation whose view is missing")
	}

	f.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewSeg,
		"SELECT * FROM "+d.Qualified(warehouse.SchemaSegments, viewMdl)+" WHERE score >= 50"))
	results, err = r.CheckPaused(f.ctx, f.ws.ID)
	must(t, err)
	if len(results) != 1 || !results[0].Resumed {
		t.Fatalf("check with the view back: %+v", results)
	}
	if a := f.activation(); a.Paused || a.PauseReason != "" {
		t.Fatalf("not resumed: %+v", a)
	}
	r.WaitAlerts()
	wantAlerts(t, slack.take(), "resumed")
	audit, err := f.store.ListAudit(f.ctx, catalog.AuditFilter{ObjectID: f.act.ID, Limit: 1})
	must(t, err)
	if audit[0].Action != "resume" || audit[0].Actor != "runner:"+r.ID() {
		t.Errorf("resume audited as %+v", audit[0])
	}
	// The resume already told people; the next successful run stays quiet.
	f.run(r, runner.RunOptions{})
	r.WaitAlerts()
	wantAlerts(t, slack.take())

	// A user's pause is the user's business.
	must(t, f.store.SetActivationPause(f.ctx, f.act.ID, true, "holiday freeze", runner.PausedByUser))
	results, err = r.CheckPaused(f.ctx, "")
	must(t, err)
	if len(results) != 0 || !f.activation().Paused {
		t.Fatalf("the check touched a user pause: %+v", results)
	}
}

// TestAutoPauseDestinationCredentials: a destination refusing the credentials pauses the
// activation naming the destination; a failure of another kind does not pause.
func TestAutoPauseDestinationCredentials(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 3,
		webhook:   connectortest.WebhookConfig{BearerToken: "right-token"},
		destCreds: map[string]string{"bearer_token": "wrong-token"}})
	r := f.newRunner()
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	if err == nil || res.Run.ErrorCategory != "credentials" {
		t.Fatalf("run with a wrong token: %v, %+v", err, res)
	}
	a := f.activation()
	if !a.Paused || a.PausedBy != runner.PausedByAuto || !strings.HasPrefix(a.PauseReason, "destination hook is broken (credentials)") ||
		strings.Contains(a.PauseReason, "wrong-token") {
		t.Fatalf("after refused credentials: paused=%v by=%q reason=%q", a.Paused, a.PausedBy, a.PauseReason)
	}

	// A 5xx that outlasts the retries fails the run but pauses nothing.
	must(t, f.store.SetActivationPause(f.ctx, f.act.ID, false, "", runner.PausedByUser))
	g := newFixture(t, fixtureOptions{rows: 3, destSettings: map[string]any{webhook.SettingMaxRetries: int64(1)}})
	rg := g.newRunner(func(o *runner.Options) { o.BatchRetries = -1 })
	g.fake.FailNext(10, connectortest.Failure{Status: 503})
	if _, err := rg.Run(g.ctx, g.act.ID, runner.RunOptions{}); err == nil {
		t.Fatal("a run against a failing destination succeeded")
	}
	if g.activation().Paused {
		t.Fatal("a transient destination failure paused the activation")
	}
}
