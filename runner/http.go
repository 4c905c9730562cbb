package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"dinmo/catalog"
)

// Defaults of ServeOptions fields left zero.
const (
	DefaultAddr        = "127.0.0.1:9464"
	DefaultPoll        = 5 * time.Second
	DefaultConcurrency = 4
)

// healthTimeout bounds the catalog check of /healthz.
const healthTimeout = 3 * time.Second

// Handler serves the runner's operations endpoints: /healthz (200 when the catalog answers,
// 503 otherwise), /readyz (200 when the catalog answers and its schema is the version this
// build migrates to, 503 otherwise: a newer dinmo migrated it, or a migration is pending) and
// /metrics (Prometheus text format).
func (r *Runner) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), healthTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := r.store.ListWorkspaces(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "catalog unavailable: %v\n", err)
			return
		}
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), healthTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := r.ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.metrics.Registry(), promhttp.HandlerOpts{}))
	return mux
}

// ready reports whether the runner can do its work: the catalog answers and is migrated to
// exactly the schema this build knows.
func (r *Runner) ready(ctx context.Context) error {
	if _, err := r.store.ListWorkspaces(ctx); err != nil {
		return fmt.Errorf("catalog unavailable: %w", err)
	}
	sc, ok := r.store.(catalog.SchemaChecker)
	if !ok {
		return nil
	}
	applied, supported, err := sc.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("catalog unavailable: %w", err)
	}
	if applied != supported {
		return fmt.Errorf("catalog schema version %d, this runner needs %d: upgrade dinmo-runner or let it migrate the catalog", applied, supported)
	}
	return nil
}

// ServeOptions configures Serve.
type ServeOptions struct {
	// Addr is the listen address of /healthz and /metrics (default DefaultAddr).
	Addr string
	// Listener, when set, is used instead of listening on Addr (tests pass ":0" listeners).
	Listener net.Listener
	// Poll is how often due activations are looked for (default DefaultPoll).
	Poll time.Duration
	// Concurrency bounds the runs in progress (default DefaultConcurrency).
	Concurrency int
	// CheckInterval is how often the activations the runner paused itself are re-checked and
	// resumed when their dependencies work again (default DefaultCheckInterval; the first
	// check runs one interval after start).
	CheckInterval time.Duration
}

// Serve schedules due activations and serves the operations endpoints until ctx is done. Then
// it stops scheduling, lets the runs in progress stop between batches and commit what was
// acknowledged, releases their leases, stops the HTTP server and returns nil.
func (r *Runner) Serve(ctx context.Context, o ServeOptions) error {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", o.Addr); err != nil {
			return fmt.Errorf("serve: listen on %s: %w", o.Addr, err)
		}
	}
	srv := &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10 * time.Second}
	httpErr := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
		}
		close(httpErr)
	}()
	r.logger.Info("runner serving", LogAddr, ln.Addr().String(), LogPoll, o.Poll.String(), LogConcurrency, o.Concurrency)

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		r.NewScheduler(o.Concurrency).Loop(loopCtx, o.Poll)
	}()
	checkDone := make(chan struct{})
	go func() {
		defer close(checkDone)
		r.checkLoop(loopCtx, o.CheckInterval)
	}()
	tasksDone := make(chan struct{})
	go func() {
		defer close(tasksDone)
		r.taskLoop(loopCtx, o.Poll)
	}()
	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		serveErr = fmt.Errorf("serve: http: %w", err)
		stopLoop()
	}
	<-loopDone
	<-checkDone
	<-tasksDone
	r.WaitAlerts()
	r.logger.Info("runner stopping: runs in progress ended")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("serve: http shutdown: %w", err)
	}
	return serveErr
}

// taskLoop runs the due tasks (model table refreshes, source stats) every poll until ctx is
// done, then waits for those in progress.
func (r *Runner) taskLoop(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := r.TickTasks(ctx); err != nil && ctx.Err() == nil {
			r.logger.Error("task tick failed", LogError, err.Error())
		}
		select {
		case <-ctx.Done():
			r.WaitTasks()
			return
		case <-t.C:
		}
	}
}

// checkLoop re-checks automatically paused activations every interval until ctx is done.
func (r *Runner) checkLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		results, err := r.CheckPaused(ctx, "")
		if err != nil && ctx.Err() == nil {
			r.logger.Error("checking paused activations failed", LogError, err.Error())
		}
		resumed := 0
		for _, res := range results {
			if res.Resumed {
				resumed++
			}
		}
		r.logger.Info("paused activations checked", LogCount, len(results), LogResumed, resumed)
	}
}
