package file

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
)

var validOps = map[destination.Operation]bool{
	destination.OpInsert: true, destination.OpUpdate: true, destination.OpUpsert: true, destination.OpDelete: true,
	destination.OpAdd: true, destination.OpRemove: true, destination.OpEvent: true,
}

type fileDestination struct {
	path      string
	format    string
	batchSize int

	mu       sync.Mutex
	prepared bool // an existing file (resumed run) was looked for
	f        *os.File
	size     int64 // bytes durably written so far
	columns  []string
	colSet   map[string]bool
	closed   bool
}

var _ destination.Destination = (*fileDestination)(nil)

// Apply appends the batch's records to the run's file and fsyncs it before returning, so every
// acknowledged record is on disk. Records with an empty key, an unknown operation, values that
// cannot be encoded, or (CSV) fields outside the header are rejected with a reason and not
// written. On a write or sync error nothing of the batch is kept (the file is cut back) and the
// error is returned.
func (d *fileDestination) Apply(ctx context.Context, batch destination.Batch) ([]destination.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, connectors.Permanent(connectors.CategoryInternal, errors.New("file: Apply called after Close"))
	}
	if err := ctx.Err(); err != nil {
		return nil, connectors.Retryable(connectors.CategoryTimeout, fmt.Errorf("file: batch not written: %w", err))
	}
	if n := len(batch.Records); n > d.batchSize {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("file: a batch of %d records exceeds the batch size %d", n, d.batchSize))
	}
	outcomes := make([]destination.Outcome, len(batch.Records))
	if len(batch.Records) == 0 {
		return outcomes, nil
	}
	if !d.prepared {
		if err := d.reopen(); err != nil {
			return nil, err
		}
		d.prepared = true
	}
	var buf bytes.Buffer
	if d.format == FormatCSV && d.columns == nil {
		d.setColumns(batch.Records)
	}
	writeHeader := d.format == FormatCSV && d.size == 0
	if writeHeader {
		line, err := csvLine(append([]string{"op", "key"}, d.columns...))
		if err != nil {
			return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("file: encoding the CSV header: %w", err))
		}
		buf.Write(line)
	}
	written := 0
	for i, r := range batch.Records {
		line, reason := d.encode(r)
		if reason != "" {
			outcomes[i] = destination.Outcome{Status: destination.Rejected, Reason: reason}
			continue
		}
		buf.Write(line)
		outcomes[i] = destination.Outcome{Status: destination.Acknowledged}
		written++
	}
	if written == 0 {
		if writeHeader {
			d.columns, d.colSet = nil, nil // nothing written: the next batch fixes the header
		}
		return outcomes, nil
	}
	if err := d.append(buf.Bytes()); err != nil {
		if writeHeader {
			d.columns, d.colSet = nil, nil
		}
		return nil, err
	}
	return outcomes, nil
}

// append writes p at the end of the file and syncs; on failure it cuts the file back to its
// last durable size so no partial batch remains.
func (d *fileDestination) append(p []byte) error {
	if d.f == nil {
		f, err := os.OpenFile(d.path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, fileMode)
		if err != nil {
			return fsError("creating "+d.path, err)
		}
		d.f = f
		d.size = 0
		syncDir(filepath.Dir(d.path)) // make the new directory entry durable too
	}
	if _, err := d.f.Write(p); err != nil {
		_ = d.f.Truncate(d.size)
		return fsError("writing "+d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		_ = d.f.Truncate(d.size)
		return fsError("syncing "+d.path, err)
	}
	d.size += int64(len(p))
	return nil
}

// reopen looks for the file of a resumed run. If it exists, it is opened for appending, a
// partly written last line is cut off, and (CSV) its header gives the columns.
func (d *fileDestination) reopen() error {
	f, err := os.OpenFile(d.path, os.O_RDWR|os.O_APPEND, fileMode)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fsError("opening "+d.path, err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fsError("opening "+d.path, err)
	}
	end, err := lastLineEnd(f, info.Size())
	if err != nil {
		_ = f.Close()
		return fsError("reading "+d.path, err)
	}
	if end < info.Size() {
		if err := f.Truncate(end); err != nil {
			_ = f.Close()
			return fsError("repairing "+d.path, err)
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return fsError("repairing "+d.path, err)
		}
	}
	if d.format == FormatCSV && end > 0 {
		header, err := csv.NewReader(io.NewSectionReader(f, 0, end)).Read()
		if err != nil || len(header) < 2 || header[0] != "op" || header[1] != "key" {
			_ = f.Close()
			return connectors.Permanent(connectors.CategoryConfiguration,
				fmt.Errorf("file: the existing file %s does not start with an op,key CSV header; move it away", d.path))
		}
		d.columns = header[2:]
		d.colSet = toSet(d.columns)
	}
	d.f, d.size = f, end
	return nil
}

// lastLineEnd returns the offset just after the last newline in the first size bytes of f.
func lastLineEnd(f *os.File, size int64) (int64, error) {
	const chunk = 64 << 10
	end := size
	for end > 0 {
		start := max(0, end-chunk)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// setColumns fixes the CSV header from the field names of a batch's valid records.
func (d *fileDestination) setColumns(records []destination.Record) {
	set := map[string]bool{}
	for _, r := range records {
		if r.Key == "" || !validOps[r.Op] {
			continue
		}
		for name := range r.Fields {
			if name != "op" && name != "key" {
				set[name] = true
			}
		}
	}
	d.columns = make([]string, 0, len(set))
	for name := range set {
		d.columns = append(d.columns, name)
	}
	sort.Strings(d.columns)
	d.colSet = set
}

// encode renders one record as a line, or returns why it is rejected.
func (d *fileDestination) encode(r destination.Record) ([]byte, string) {
	if r.Key == "" {
		return nil, "the record has an empty key"
	}
	if !validOps[r.Op] {
		return nil, fmt.Sprintf("operation %q is not supported by the file platform", r.Op)
	}
	if d.format == FormatCSV {
		return d.encodeCSV(r)
	}
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Op     string         `json:"op"`
		Key    string         `json:"key"`
		Fields map[string]any `json:"fields"`
	}{string(r.Op), r.Key, destination.JSONFields(r.Fields)})
	if err != nil {
		return nil, "a field value cannot be encoded as JSON: " + err.Error()
	}
	return line.Bytes(), ""
}

func (d *fileDestination) encodeCSV(r destination.Record) ([]byte, string) {
	names := make([]string, 0, len(r.Fields))
	for name := range r.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "op" || name == "key" {
			return nil, fmt.Sprintf("field %q collides with the CSV file's own %q column; rename it in the mapping", name, name)
		}
		if !d.colSet[name] {
			return nil, fmt.Sprintf("field %q is not a column of this CSV file (the columns were fixed by the run's first batch: %s); "+
				"use the jsonl format if records carry different fields", name, columnList(d.columns))
		}
	}
	row := make([]string, 0, 2+len(d.columns))
	row = append(row, string(r.Op), r.Key)
	for _, c := range d.columns {
		v, err := csvValue(r.Fields[c])
		if err != nil {
			return nil, fmt.Sprintf("field %q cannot be written: %v", c, err)
		}
		row = append(row, v)
	}
	line, err := csvLine(row)
	if err != nil {
		return nil, "the record cannot be written as CSV: " + err.Error()
	}
	return line, ""
}

func columnList(cols []string) string {
	if len(cols) == 0 {
		return "none"
	}
	if len(cols) > 10 {
		return strings.Join(cols[:10], ", ") + fmt.Sprintf(" and %d more", len(cols)-10)
	}
	return strings.Join(cols, ", ")
}

func csvLine(row []string) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(row); err != nil {
		return nil, err
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// csvValue renders one cell: timestamps as RFC 3339 (UTC), nil as empty, numbers as JSON
// writes them, maps and lists as JSON text.
func csvValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	case time.Time:
		return destination.FormatTime(x), nil
	case *time.Time:
		if x == nil {
			return "", nil
		}
		return destination.FormatTime(*x), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(destination.JSONValue(v)); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Close closes the file. Every acknowledged record was already synced by Apply. Close is
// idempotent; Apply after Close fails.
func (d *fileDestination) Close(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	if err != nil {
		return fsError("closing "+d.path, err)
	}
	return nil
}

// syncDir fsyncs a directory so a newly created file's entry survives a crash. Some file
// systems refuse to sync directories; that is not worth failing the run for.
func syncDir(dir string) {
	f, err := os.Open(dir) //nolint:gosec // dir is the operator's configured output directory
	if err != nil {
		return
	}
	_ = f.Sync()
	_ = f.Close()
}

func toSet(names []string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}
