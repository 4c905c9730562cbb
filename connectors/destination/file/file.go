// Package file is the "file" destination platform: it appends the records of a run to one
// local file, as JSON lines or CSV, for audits, demos and hand-offs to tools that read files.
//
// One file per run: <directory>/<file_prefix>-<run start, YYYYMMDDTHHMMSSZ>-<run_id>.<jsonl|csv>.
// The file is created on the first Apply that carries records, so a run that sends nothing
// leaves no empty file. Each Apply appends its records and fsyncs before returning
// acknowledged outcomes: acknowledged means durable. If a run is resumed with the same run id
// and start time, its file is reopened and appended to (a partly written last line left by a
// crash is cut off first).
//
// JSON lines: {"op":"upsert","key":"42","fields":{...}}, one per record, timestamps in RFC 3339
// (UTC). CSV: a header "op,key,<field names sorted>" taken from the fields of the first batch;
// a later record with a field outside that header is rejected with a reason (never silently
// truncated). Cell values: timestamps in RFC 3339 (UTC), null as an empty cell, maps and lists
// as JSON text.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
)

// Name is the stable name of this platform.
const Name = "file"

// ServiceRecords is the file platform's only service.
const ServiceRecords = "records"

// Setting keys.
const (
	SettingDirectory  = "directory"
	SettingFormat     = "format"
	SettingFilePrefix = "file_prefix"
	SettingBatchSize  = destination.SettingBatchSize
)

// Formats.
const (
	FormatJSONL = "jsonl"
	FormatCSV   = "csv"
)

// Limits of the records service.
const (
	MaxBatchSize     = 100000
	DefaultBatchSize = 1000
)

// File modes: the data is customer data, so nothing is world-readable.
const (
	dirMode  fs.FileMode = 0o750
	fileMode fs.FileMode = 0o640
)

var spec = destination.PlatformSpec{
	Platform:    Name,
	DisplayName: "File",
	Description: "Appends the records of each run to a local JSON-lines or CSV file, one file per run, synced to disk before records are acknowledged.",
	Settings: []connectors.ConfigField{
		{Name: SettingDirectory, Type: connectors.FieldString, Required: true,
			Description: "Directory the runner writes files into, on the runner's machine. It is created if missing."},
		{Name: SettingFormat, Type: connectors.FieldString, Default: FormatJSONL, Enum: []string{FormatJSONL, FormatCSV},
			Description: "`jsonl` (one JSON object per line) or `csv` (header from the first batch's fields)."},
		{Name: SettingFilePrefix, Type: connectors.FieldString,
			Description: "Start of each file name (default: the activation's name). Characters other than letters, digits, `.`, `_` and `-` become `_`."},
		{Name: SettingBatchSize, Type: connectors.FieldInt, Default: int64(DefaultBatchSize), Min: 1, Max: MaxBatchSize,
			Description: "Records appended and synced per write (1 to 100000)."},
	},
	Services: []destination.ServiceSpec{{
		Name:        ServiceRecords,
		Description: "Any record, written as operation, key and mapped fields.",
		Family:      destination.FamilyObjects,
		RunTypes:    []destination.RunType{destination.RunFull, destination.RunDelta, destination.RunIncremental},
		SyncModes: []destination.SyncMode{destination.ModeInsert, destination.ModeUpdate, destination.ModeUpsert,
			destination.ModeMirror, destination.ModeList, destination.ModeEvents},
		AllowCustomFields:     true,
		CreatesUnknownRecords: true,
		MaxBatchSize:          MaxBatchSize,
		DefaultBatchSize:      DefaultBatchSize,
	}},
}

// Platform implements destination.Platform for local files.
type Platform struct{}

var _ destination.Platform = (*Platform)(nil)

// New returns the file platform.
func New() *Platform { return &Platform{} }

// Spec declares the platform.
func (p *Platform) Spec() destination.PlatformSpec { return spec }

// Check verifies the settings and that the directory exists, or can be created, and is
// writable (by creating and removing a probe file). It creates nothing else: the provider may
// run it on a machine other than the runner's.
func (p *Platform) Check(_ context.Context, params destination.OpenParams) error {
	cfg, err := parseConfig(params)
	if err != nil {
		return err
	}
	return checkDirectory(cfg.directory)
}

// Open validates the settings and creates the directory. The file itself is created by the
// first Apply that has records.
func (p *Platform) Open(_ context.Context, params destination.OpenParams) (destination.Destination, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	if params.Service != ServiceRecords {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("file: unknown service %q: the file platform offers only %q", params.Service, ServiceRecords))
	}
	if err := os.MkdirAll(cfg.directory, dirMode); err != nil {
		return nil, fsError("creating directory", err)
	}
	prefix := cfg.prefix
	if prefix == "" {
		prefix = params.ActivationName
	}
	if prefix == "" {
		prefix = params.ActivationID
	}
	started := params.StartedAt
	if started.IsZero() {
		started = time.Now()
	}
	return &fileDestination{
		path:      filepath.Join(cfg.directory, FileName(prefix, started, params.RunID, cfg.format)),
		format:    cfg.format,
		batchSize: cfg.batchSize,
	}, nil
}

// FileName returns the name of a run's file: <prefix>-<YYYYMMDDTHHMMSSZ>-<run id>.<format>,
// with both prefix and run id reduced to letters, digits, '.', '_' and '-' so the name is
// safe on every file system and cannot escape the directory.
func FileName(prefix string, startedAt time.Time, runID, format string) string {
	p := sanitize(prefix)
	if p == "" {
		p = "dinmo"
	}
	r := sanitize(runID)
	if r == "" {
		r = "run"
	}
	return fmt.Sprintf("%s-%s-%s.%s", p, startedAt.UTC().Format("20060102T150405Z"), r, format)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return strings.TrimLeft(b.String(), ".")
}

type config struct {
	directory string
	format    string
	prefix    string
	batchSize int
}

func parseConfig(params destination.OpenParams) (*config, error) {
	settings := destination.ApplyDefaults(spec.Settings, params.Settings)
	if err := destination.ValidateSettings(spec, settings, params.Credentials); err != nil {
		return nil, err
	}
	dir := destination.SettingString(settings, SettingDirectory, "")
	if strings.ContainsRune(dir, 0) {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("destination %q: setting %q contains a NUL character", Name, SettingDirectory))
	}
	return &config{
		directory: filepath.Clean(dir),
		format:    destination.SettingString(settings, SettingFormat, FormatJSONL),
		prefix:    destination.SettingString(settings, SettingFilePrefix, ""),
		batchSize: destination.BatchSize(spec.Services[0], settings),
	}, nil
}

// checkDirectory succeeds when dir is a writable directory, or does not exist and its nearest
// existing ancestor is a writable directory (so MkdirAll will work).
func checkDirectory(dir string) error {
	target := dir
	for {
		info, err := os.Stat(target)
		if err == nil {
			if !info.IsDir() {
				return connectors.Permanent(connectors.CategoryConfiguration,
					fmt.Errorf("file: %q is not a directory: set %q to a directory path", target, SettingDirectory))
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fsError("checking directory", err)
		}
		parent := filepath.Dir(target)
		if parent == target {
			return fsError("checking directory", err)
		}
		target = parent
	}
	probe, err := os.CreateTemp(target, ".dinmo-check-*")
	if err != nil {
		return fsError("checking that the directory is writable", err)
	}
	name := probe.Name()
	closeErr := probe.Close()
	if err := os.Remove(name); err != nil {
		return fsError("removing the probe file", err)
	}
	if closeErr != nil {
		return fsError("checking that the directory is writable", closeErr)
	}
	return nil
}

// fsError classifies a file-system error: permission problems and wrong paths are for the
// user to fix (permanent configuration errors); anything else (disk full, I/O error) may pass
// and is retryable.
func fsError(op string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrPermission):
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("file: %s: %w (give the runner's user write access, or choose another %q)", op, err, SettingDirectory))
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &pe) && errors.Is(pe.Err, syscall.ENOTDIR):
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("file: %s: %w (check the %q setting)", op, err, SettingDirectory))
	}
	return connectors.Retryable(connectors.CategoryInternal, fmt.Errorf("file: %s: %w", op, err))
}
