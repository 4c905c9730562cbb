package runner

import (
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse/deltasql"
)

// Operation returns the destination operation a diff row of the given kind gets under a sync
// mode, and false when the mode does not send that kind (the row is still acknowledged into
// the snapshot, so it does not come back every run).
//
// Delta runs send what changed:
//
//	insert: added→insert
//	update: added, changed→update
//	upsert: added, changed→upsert
//	mirror: added→insert, changed→update, removed→delete
//	list:   added→add, removed→remove
//	events: added→event
//
// Full runs send every present row (added, changed or unchanged) with the mode's present
// operation (insert, update, upsert, upsert for mirror, add, event) and removed rows as the
// mode says (mirror: delete, list: remove).
func Operation(mode destination.SyncMode, kind deltasql.Kind, full bool) (destination.Operation, bool) {
	present := kind == deltasql.Added || kind == deltasql.Changed || kind == deltasql.Unchanged
	if full && present {
		switch mode {
		case destination.ModeInsert:
			return destination.OpInsert, true
		case destination.ModeUpdate:
			return destination.OpUpdate, true
		case destination.ModeUpsert, destination.ModeMirror:
			return destination.OpUpsert, true
		case destination.ModeList:
			return destination.OpAdd, true
		case destination.ModeEvents:
			return destination.OpEvent, true
		}
		return "", false
	}
	switch mode {
	case destination.ModeInsert:
		if kind == deltasql.Added {
			return destination.OpInsert, true
		}
	case destination.ModeUpdate:
		if kind == deltasql.Added || kind == deltasql.Changed {
			return destination.OpUpdate, true
		}
	case destination.ModeUpsert:
		if kind == deltasql.Added || kind == deltasql.Changed {
			return destination.OpUpsert, true
		}
	case destination.ModeMirror:
		switch kind {
		case deltasql.Added:
			return destination.OpInsert, true
		case deltasql.Changed:
			return destination.OpUpdate, true
		case deltasql.Removed:
			return destination.OpDelete, true
		}
	case destination.ModeList:
		switch kind {
		case deltasql.Added:
			return destination.OpAdd, true
		case deltasql.Removed:
			return destination.OpRemove, true
		}
	case destination.ModeEvents:
		if kind == deltasql.Added {
			return destination.OpEvent, true
		}
	}
	return "", false
}

// knownMode reports whether the runner knows how to apply a sync mode.
func knownMode(m destination.SyncMode) bool {
	switch m {
	case destination.ModeInsert, destination.ModeUpdate, destination.ModeUpsert,
		destination.ModeMirror, destination.ModeList, destination.ModeEvents:
		return true
	}
	return false
}
