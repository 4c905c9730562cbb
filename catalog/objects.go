package catalog

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// This file holds the create/get/list/update/delete machinery shared by the six declared
// kinds; kinds.go describes each kind's table and columns.

type scanner interface{ Scan(dest ...any) error }

// col is one column and the value the object holds for it.
type col struct {
	name string
	val  any // string, bool, int64, sql.NullString or sql.NullInt64: comparable with ==
}

// ref is a reference from an object to another object of the same workspace.
type ref struct {
	kind, table, id string
}

// record is an object as columns.
type record struct {
	id, workspaceID, name string
	// set are the declared columns, written by Create and Update ("name" included).
	set []col
	// createOnly are the columns only Create writes (runner-owned state).
	createOnly []col
	refs       []ref
}

// usedBy names a table whose rows may reference a kind through column.
type usedBy struct {
	kind, table, column string
}

// kindDef describes one declared kind.
type kindDef[T any] struct {
	kind, table, prefix string
	// workspaceScoped is false only for workspaces (their names are globally unique).
	workspaceScoped bool
	// selectCols lists the columns scan reads, in order.
	selectCols string
	scan       func(scanner) (*T, error)
	rec        func(*T) (record, error)
	// meta returns pointers to the object's ID, CreatedAt and UpdatedAt.
	meta func(*T) (id *string, created, updated *time.Time)
	// validate checks required fields before any SQL runs.
	validate func(*T) error
	usedBy   []usedBy
	// updateExtra, if set, adds SQL assignments to Update beyond the declared columns, with
	// their arguments and the field names they change (see UpdateActivation).
	updateExtra func(old, x *T) (assign []string, args []any, changed []string)
	// afterUpdate, if set, refreshes x from the stored row after Update (fields Update keeps).
	afterUpdate func(old, x *T)
}

func getIn[T any](ctx context.Context, e execer, k *kindDef[T], suffix, where string, args ...any) (*T, error) {
	row := e.row(ctx, `SELECT `+k.selectCols+` FROM `+k.table+` WHERE `+where+suffix, args...)
	x, err := k.scan(row)
	if err != nil {
		if errNoRows(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return x, nil
}

func getByID[T any](ctx context.Context, s *sqlStore, k *kindDef[T], id string) (*T, error) {
	x, err := getIn(ctx, s.ro(), k, "", `id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", k.kind, id, err)
	}
	return x, nil
}

func getByName[T any](ctx context.Context, s *sqlStore, k *kindDef[T], workspaceID, name string) (*T, error) {
	var x *T
	var err error
	if k.workspaceScoped {
		x, err = getIn(ctx, s.ro(), k, "", `workspace_id = ? AND name = ?`, workspaceID, name)
		if err != nil {
			return nil, fmt.Errorf("get %s %q in workspace %s: %w", k.kind, name, workspaceID, err)
		}
		return x, nil
	}
	x, err = getIn(ctx, s.ro(), k, "", `name = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", k.kind, name, err)
	}
	return x, nil
}

func list[T any](ctx context.Context, s *sqlStore, k *kindDef[T], workspaceID string) ([]T, error) {
	q := `SELECT ` + k.selectCols + ` FROM ` + k.table
	var args []any
	if k.workspaceScoped {
		q += ` WHERE workspace_id = ?`
		args = append(args, workspaceID)
	}
	q += ` ORDER BY name`
	return queryAll(ctx, s.ro(), "list "+k.kind+"s", k.scan, q, args...)
}

// checkRefs verifies that the workspace and every referenced object exist, and that the
// references stay inside the workspace.
func checkRefs(ctx context.Context, e execer, r record, scoped bool) error {
	if scoped {
		var one int
		if err := e.row(ctx, `SELECT 1 FROM workspaces WHERE id = ?`, r.workspaceID).Scan(&one); err != nil {
			if errNoRows(err) {
				return fmt.Errorf("workspace %s: %w", r.workspaceID, ErrNotFound)
			}
			return fmt.Errorf("check workspace %s: %w", r.workspaceID, err)
		}
	}
	for _, rf := range r.refs {
		var ws string
		if err := e.row(ctx, `SELECT workspace_id FROM `+rf.table+` WHERE id = ?`, rf.id).Scan(&ws); err != nil {
			if errNoRows(err) {
				return fmt.Errorf("%s %s: %w", rf.kind, rf.id, ErrNotFound)
			}
			return fmt.Errorf("check %s %s: %w", rf.kind, rf.id, err)
		}
		if ws != r.workspaceID {
			return fmt.Errorf("%s %s is in workspace %s, not in workspace %s: %w", rf.kind, rf.id, ws, r.workspaceID, ErrNotFound)
		}
	}
	return nil
}

// checkName fails with ErrConflict when another object of the kind has the name.
func checkName[T any](ctx context.Context, e execer, k *kindDef[T], r record) error {
	q := `SELECT 1 FROM ` + k.table + ` WHERE name = ? AND id <> ?`
	args := []any{r.name, r.id}
	if k.workspaceScoped {
		q += ` AND workspace_id = ?`
		args = append(args, r.workspaceID)
	}
	var one int
	err := e.row(ctx, q, args...).Scan(&one)
	switch {
	case err == nil:
		return conflictErr(k.workspaceScoped)
	case errNoRows(err):
		return nil
	default:
		return fmt.Errorf("check name: %w", err)
	}
}

func conflictErr(scoped bool) error {
	if scoped {
		return fmt.Errorf("%w in workspace", ErrConflict)
	}
	return ErrConflict
}

func create[T any](ctx context.Context, s *sqlStore, k *kindDef[T], x *T) error {
	if err := k.validate(x); err != nil {
		return err
	}
	id, created, updated := k.meta(x)
	origID := *id
	if *id == "" {
		*id = newID(k.prefix)
	}
	r, err := k.rec(x)
	if err != nil {
		*id = origID
		return fmt.Errorf("create %s %q: %w", k.kind, r.name, err)
	}
	op := fmt.Sprintf("create %s %q", k.kind, r.name)
	t := now()
	err = s.inTx(ctx, func(e execer) error {
		if err := checkRefs(ctx, e, r, k.workspaceScoped); err != nil {
			return err
		}
		if err := checkName(ctx, e, k, r); err != nil {
			return err
		}
		names := []string{"id"}
		vals := []any{r.id}
		if k.workspaceScoped {
			names = append(names, "workspace_id")
			vals = append(vals, r.workspaceID)
		}
		for _, c := range append(append([]col{}, r.set...), r.createOnly...) {
			names = append(names, c.name)
			vals = append(vals, c.val)
		}
		names = append(names, "created_at", "updated_at")
		vals = append(vals, toMicros(t), toMicros(t))
		q := `INSERT INTO ` + k.table + ` (` + strings.Join(names, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(names)-1) + `)`
		if _, err := e.exec(ctx, q, vals...); err != nil {
			switch violation(err) {
			case violationUnique:
				return fmt.Errorf("%w (name or id %s)", conflictErr(k.workspaceScoped), r.id)
			case violationForeignKey:
				return fmt.Errorf("a referenced object: %w", ErrNotFound)
			}
			return fmt.Errorf("insert: %w", err)
		}
		ws := r.workspaceID
		if !k.workspaceScoped {
			ws = r.id
		}
		return s.audit(ctx, e, AuditEntry{Action: "create", ObjectKind: k.kind, ObjectID: r.id, ObjectName: r.name, WorkspaceID: ws})
	})
	if err != nil {
		*id = origID
		return fmt.Errorf("%s: %w", op, err)
	}
	*created, *updated = t, t
	return nil
}

func update[T any](ctx context.Context, s *sqlStore, k *kindDef[T], x *T) error {
	id, created, updated := k.meta(x)
	if *id == "" {
		return errEmptyField("update "+k.kind, "ID")
	}
	if err := k.validate(x); err != nil {
		return err
	}
	op := fmt.Sprintf("update %s %s", k.kind, *id)
	r, err := k.rec(x)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var createdAt, updatedAt time.Time
	var old *T
	err = s.inTx(ctx, func(e execer) error {
		var err error
		old, err = getIn(ctx, e, k, s.lockSuffix(), `id = ?`, *id)
		if err != nil {
			return err
		}
		oldR, err := k.rec(old)
		if err != nil {
			return err
		}
		_, oc, ou := k.meta(old)
		createdAt, updatedAt = *oc, *ou
		if k.workspaceScoped && r.workspaceID != oldR.workspaceID {
			return fmt.Errorf("cannot move a %s to another workspace (from %s to %s): delete and recreate it", k.kind, oldR.workspaceID, r.workspaceID)
		}
		if err := checkRefs(ctx, e, r, false); err != nil {
			return err
		}
		if r.name != oldR.name {
			if err := checkName(ctx, e, k, r); err != nil {
				return fmt.Errorf("rename to %q: %w", r.name, err)
			}
		}
		var assign []string
		var args []any
		var changed []string
		for i, c := range r.set {
			if c.val != oldR.set[i].val {
				changed = append(changed, c.name)
				assign = append(assign, c.name+" = ?")
				args = append(args, c.val)
			}
		}
		if k.updateExtra != nil {
			a, v, ch := k.updateExtra(old, x)
			assign, args, changed = append(assign, a...), append(args, v...), append(changed, ch...)
		}
		if len(changed) == 0 {
			return nil // nothing to write, nothing to audit
		}
		updatedAt = now()
		assign = append(assign, "updated_at = ?")
		args = append(args, toMicros(updatedAt), r.id)
		if _, err := e.exec(ctx, `UPDATE `+k.table+` SET `+strings.Join(assign, ", ")+` WHERE id = ?`, args...); err != nil {
			switch violation(err) {
			case violationUnique:
				return conflictErr(k.workspaceScoped)
			case violationForeignKey:
				return fmt.Errorf("a referenced object: %w", ErrNotFound)
			}
			return fmt.Errorf("write: %w", err)
		}
		ws := r.workspaceID
		if !k.workspaceScoped {
			ws = r.id
		}
		return s.audit(ctx, e, AuditEntry{Action: "update", ObjectKind: k.kind, ObjectID: r.id, ObjectName: r.name, WorkspaceID: ws,
			Details: map[string]any{"changed": changed}})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	*created, *updated = createdAt, updatedAt
	if k.afterUpdate != nil {
		k.afterUpdate(old, x)
	}
	return nil
}

func remove[T any](ctx context.Context, s *sqlStore, k *kindDef[T], id string) error {
	op := fmt.Sprintf("delete %s %s", k.kind, id)
	err := s.inTx(ctx, func(e execer) error {
		old, err := getIn(ctx, e, k, s.lockSuffix(), `id = ?`, id)
		if err != nil {
			return err
		}
		r, err := k.rec(old)
		if err != nil {
			return err
		}
		op = fmt.Sprintf("delete %s %q", k.kind, r.name)
		for _, u := range k.usedBy {
			var name string
			err := e.row(ctx, `SELECT name FROM `+u.table+` WHERE `+u.column+` = ? ORDER BY name LIMIT 1`, id).Scan(&name)
			switch {
			case err == nil:
				return fmt.Errorf("%w by %s %q", ErrInUse, u.kind, name)
			case !errNoRows(err):
				return fmt.Errorf("check references: %w", err)
			}
		}
		if _, err := e.exec(ctx, `DELETE FROM `+k.table+` WHERE id = ?`, id); err != nil {
			if violation(err) == violationForeignKey {
				return ErrInUse // referenced by an object created concurrently
			}
			return fmt.Errorf("delete: %w", err)
		}
		ws := r.workspaceID
		if !k.workspaceScoped {
			ws = r.id
		}
		return s.audit(ctx, e, AuditEntry{Action: "delete", ObjectKind: k.kind, ObjectID: r.id, ObjectName: r.name, WorkspaceID: ws})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
