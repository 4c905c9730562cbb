// Package cli is the command line of dinmo-runner: it parses arguments, opens the catalog and
// calls package runner. cmd/dinmo-runner only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/registry"
	"dinmo/secrets"
)

// Version is the runner's version, set at build time with
// -ldflags "-X dinmo/runner/cli.Version=v1.2.3".
var Version = "dev"

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed (a failed run, an unreachable catalog)
	ExitUsage   = 2 // unknown command or bad arguments
)

// Main runs the command line with args (without the program name) and returns the exit code.
// SIGINT and SIGTERM cancel the command: a run stops between batches and commits what the
// destination acknowledged; serve stops scheduling and waits for its runs.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, stdout, stderr)
}

// Run is Main with the caller's context (cancelled to stop) and no signal handling.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunWith(ctx, args, stdout, stderr, nil)
}

// RunWith is Run with an explicit connector registry (nil: registry.Default()); tests use it
// to inject destinations with short backoffs.
func RunWith(ctx context.Context, args []string, stdout, stderr io.Writer, reg *registry.Registry) int {
	e := &env{stdout: stdout, stderr: stderr, reg: reg}
	return e.main(ctx, args)
}

// env is one invocation: its outputs and global flags.
type env struct {
	stdout, stderr io.Writer
	reg            *registry.Registry

	catalogURL    string
	secretKeyFile string
	logFormat     string
	logLevel      string
	opts          cmdOptions
}

// cmdOptions holds the values of the commands' own flags.
type cmdOptions struct {
	full        bool
	limit       int
	json        bool
	addr        string
	poll        time.Duration
	concurrency int
	leaseTTL    time.Duration
	by          string // breakdown --by
	reason      string // pause --reason
	checkEvery  time.Duration
}

// usageError is a bad invocation: reported with a hint and exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// command is one subcommand.
type command struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string
	flags   func(fs *flag.FlagSet, o *cmdOptions) // command flags (besides the global ones)
	run     func(ctx context.Context, e *env, fs *flag.FlagSet, pos []string) error
}

func commands() []command {
	return []command{
		{name: "serve", summary: "schedule due activations and serve /healthz and /metrics until SIGINT/SIGTERM",
			flags: serveFlags, run: cmdServe},
		{name: "run", args: "<workspace>/<activation>", summary: "run one activation now, in the foreground",
			flags: runFlags, run: cmdRun},
		{name: "runs", args: "<workspace>/<activation>", summary: "show the run history of an activation",
			flags: runsFlags, run: cmdRuns},
		{name: "activations", args: "[<workspace>]", summary: "list activations with their schedule and last run",
			run: cmdActivations},
		{name: "status", args: "<workspace>/<activation>", summary: "show an activation's schedule, next run, pause state, guards, lease and last runs",
			run: cmdStatus},
		{name: "approve", args: "<workspace>/<activation>", summary: "let the next run pass the mass-removal and empty-result guards once",
			run: cmdApprove},
		{name: "pause", args: "<workspace>/<activation>", summary: "pause an activation (the scheduler skips it until resumed)",
			flags: pauseFlags, run: cmdPause},
		{name: "resume", args: "<workspace>/<activation>", summary: "resume a paused activation",
			run: cmdResume},
		{name: "resync", args: "<workspace>/<activation>", summary: "make the next run a full run (every row sent again)",
			run: cmdResync},
		{name: "check", args: "[<workspace>]", summary: "re-check automatically paused activations and resume those whose dependencies work again",
			run: cmdCheck},
		{name: "stats", args: "<workspace>/<segment> | <workspace>", summary: "compute segment sizes and (for a workspace) model key checks; record them in dinmo_stats",
			flags: statsFlags, run: cmdStats},
		{name: "breakdown", args: "<workspace>/<segment> --by <field>[,<field>]", summary: "count a segment's rows per value of fields",
			flags: breakdownFlags, run: cmdBreakdown},
		{name: "overlap", args: "<workspace>/<segment> <workspace>/<segment>...", summary: "compare segments of the same model",
			flags: statsFlags, run: cmdOverlap},
		{name: "refresh", args: "<workspace>/<model>", summary: "refresh the table of a model materialised as a table, now",
			run: cmdRefresh},
		{name: "tasks", args: "<workspace>[/<model or source>]", summary: "show the history of table refreshes and stats runs",
			flags: tasksFlags, run: cmdTasks},
		{name: "version", summary: "print the version", run: cmdVersion},
		{name: "help", args: "[<command>]", summary: "show help", run: nil},
	}
}

func (e *env) main(ctx context.Context, args []string) int {
	global := flag.NewFlagSet("dinmo-runner", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	e.globalFlags(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.usage(e.stdout)
			return ExitOK
		}
		return e.fail(usagef("%v", err))
	}
	rest := global.Args()
	if len(rest) == 0 {
		e.usage(e.stderr)
		return ExitUsage
	}
	name, rest := rest[0], rest[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(rest) > 0 {
			if c, ok := findCommand(rest[0]); ok {
				e.commandUsage(e.stdout, c)
				return ExitOK
			}
			return e.fail(usagef("unknown command %q", rest[0]))
		}
		e.usage(e.stdout)
		return ExitOK
	}
	c, ok := findCommand(name)
	if !ok {
		return e.fail(usagef("unknown command %q", name))
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.globalFlags(fs)
	if c.flags != nil {
		c.flags(fs, &e.opts)
	}
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.commandUsage(e.stdout, c)
			return ExitOK
		}
		return e.failCommand(c, usagef("%v", err))
	}
	if err := c.run(ctx, e, fs, pos); err != nil {
		return e.failCommand(c, err)
	}
	return ExitOK
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// parseInterspersed parses flags placed before, between or after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *env) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.catalogURL, "catalog", e.catalogURL,
		"catalog URL: sqlite:///path/catalog.db, a file path, or postgres://... (env "+catalog.EnvURL+")")
	fs.StringVar(&e.secretKeyFile, "secret-key-file", e.secretKeyFile,
		"file holding the key that opens sealed credentials (default: env "+secrets.EnvKey+")")
	fs.StringVar(&e.logFormat, "log-format", or(e.logFormat, "text"), "log format: text or json")
	fs.StringVar(&e.logLevel, "log-level", or(e.logLevel, "info"), "log level: debug, info, warn or error")
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func (e *env) usage(w io.Writer) {
	var sb strings.Builder
	sb.WriteString("dinmo-runner runs dinmo activations: it syncs segments from the warehouse to destinations.\n\n")
	sb.WriteString("Usage: dinmo-runner [global flags] <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&sb, "  %-12s %s\n", c.name, c.summary)
	}
	sb.WriteString("\nGlobal flags:\n")
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	(&env{}).globalFlags(fs)
	sb.WriteString(flagDefaults(fs))
	sb.WriteString("\nRun 'dinmo-runner help <command>' for a command's flags.\n")
	_, _ = io.WriteString(w, sb.String())
}

func (e *env) commandUsage(w io.Writer, c command) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Usage: dinmo-runner %s [flags]", c.name)
	if c.args != "" {
		sb.WriteString(" " + c.args)
	}
	fmt.Fprintf(&sb, "\n\n%s.\n", upperFirst(c.summary))
	if c.flags != nil {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs, &cmdOptions{})
		sb.WriteString("\nFlags:\n" + flagDefaults(fs))
	}
	sb.WriteString("\nGlobal flags (also accepted after the command):\n")
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	(&env{}).globalFlags(fs)
	sb.WriteString(flagDefaults(fs))
	_, _ = io.WriteString(w, sb.String())
}

func flagDefaults(fs *flag.FlagSet) string {
	var sb strings.Builder
	fs.SetOutput(&sb)
	fs.PrintDefaults()
	return sb.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fail reports an error; usage errors exit 2 with a hint.
func (e *env) fail(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "dinmo-runner: %s\nRun 'dinmo-runner help' for usage.\n", ue.msg)
		return ExitUsage
	}
	fmt.Fprintf(e.stderr, "dinmo-runner: %v\n", err)
	return ExitFailure
}

func (e *env) failCommand(c command, err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "dinmo-runner %s: %s\nRun 'dinmo-runner help %s' for usage.\n", c.name, ue.msg, c.name)
		return ExitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code // already reported
	}
	fmt.Fprintf(e.stderr, "dinmo-runner %s: %v\n", c.name, err)
	return ExitFailure
}

// exitError ends a command with a code after it reported what happened itself.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// logger builds the logger of the global flags, writing to w.
func (e *env) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(e.logLevel)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", e.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch e.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: use text or json", e.logFormat)
}

// openCatalog opens the catalog of the global flags.
func (e *env) openCatalog(ctx context.Context) (catalog.Store, error) {
	url := e.catalogURL
	if url == "" {
		url = os.Getenv(catalog.EnvURL)
	}
	if strings.TrimSpace(url) == "" {
		return nil, usagef("no catalog: pass --catalog or set %s (for example sqlite:///var/lib/dinmo/catalog.db)", catalog.EnvURL)
	}
	st, err := catalog.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// sealer builds the credential sealer from --secret-key-file or DINMO_SECRET_KEY.
func (e *env) sealer() (*secrets.Sealer, error) {
	key := os.Getenv(secrets.EnvKey)
	if e.secretKeyFile != "" {
		b, err := os.ReadFile(e.secretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file: %w", err)
		}
		key = strings.TrimRight(string(b), "\r\n")
		if key == "" {
			return nil, fmt.Errorf("--secret-key-file %s is empty", e.secretKeyFile)
		}
	}
	s, err := secrets.NewSealer(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return s, nil
}

func (e *env) registry() *registry.Registry {
	if e.reg != nil {
		return e.reg
	}
	return registry.Default()
}

// findActivation resolves "<workspace>/<activation>" with messages naming what exists.
func findActivation(ctx context.Context, st catalog.Store, ref string) (*catalog.Workspace, *catalog.Activation, error) {
	return findNamed(ctx, st, ref, "activation", "shop/vip_customers_to_file", st.GetActivationByName, st.ListActivations,
		func(a catalog.Activation) string { return a.Name })
}

// findNamed resolves "<workspace>/<name>" to an object of one kind, with messages that show the
// expected form (with example) or list the names that exist.
func findNamed[T any](ctx context.Context, st catalog.Store, ref, kind, example string,
	get func(ctx context.Context, workspaceID, name string) (*T, error),
	all func(ctx context.Context, workspaceID string) ([]T, error), nameOf func(T) string) (*catalog.Workspace, *T, error) {
	wsName, name, ok := strings.Cut(ref, "/")
	if !ok || wsName == "" || name == "" || strings.Contains(name, "/") {
		return nil, nil, usagef("%q: name the %s as <workspace>/<%s>, e.g. %s", ref, kind, kind, example)
	}
	ws, err := findWorkspace(ctx, st, wsName)
	if err != nil {
		return nil, nil, err
	}
	x, err := get(ctx, ws.ID, name)
	if err == nil {
		return ws, x, nil
	}
	if !errors.Is(err, catalog.ErrNotFound) {
		return nil, nil, err
	}
	xs, lerr := all(ctx, ws.ID)
	if lerr != nil {
		return nil, nil, lerr
	}
	names := make([]string, 0, len(xs))
	for _, x := range xs {
		names = append(names, nameOf(x))
	}
	return nil, nil, fmt.Errorf("%s %s/%s not found; known %ss in %s: %s", kind, wsName, name, kind, wsName, list(names))
}

func findWorkspace(ctx context.Context, st catalog.Store, name string) (*catalog.Workspace, error) {
	ws, err := st.GetWorkspaceByName(ctx, name)
	if err == nil {
		return ws, nil
	}
	if !errors.Is(err, catalog.ErrNotFound) {
		return nil, err
	}
	all, lerr := st.ListWorkspaces(ctx)
	if lerr != nil {
		return nil, lerr
	}
	names := make([]string, 0, len(all))
	for _, w := range all {
		names = append(names, w.Name)
	}
	return nil, fmt.Errorf("workspace %s not found; known workspaces: %s", name, list(names))
}

func list(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func cmdVersion(_ context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) > 0 {
		return usagef("version takes no arguments")
	}
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(e.stdout, "dinmo-runner %s%s (%s %s/%s)\n", Version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
