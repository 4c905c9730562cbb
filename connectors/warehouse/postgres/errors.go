package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"dinmo/connectors"
)

// classify marks err with the connectors category and retry verdict its cause deserves, so the
// runner knows whether to retry, pause or fail. The server's own message is kept.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classifySQLState(pgErr.Code, err)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return err // the caller gave up; nothing to classify
	case errors.As(err, &connectErr):
		// Could not connect at all, including a connect timeout: the source is unreachable.
		return connectors.Retryable(connectors.CategoryConnection, err)
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return connectors.Retryable(connectors.CategoryTimeout, err)
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, driver.ErrBadConn):
		return connectors.Retryable(connectors.CategoryConnection, err)
	}
	return connectors.Permanent(connectors.CategoryInternal, err)
}

// classifySQLState maps a PostgreSQL error code (Appendix A of the PostgreSQL manual).
func classifySQLState(code string, err error) error {
	switch code {
	case "28000", "28P01", "42501": // invalid authorization, invalid password, insufficient privilege
		return connectors.Permanent(connectors.CategoryCredentials, err)
	case "3D000", "3F000", "42P01", "42883": // unknown database, schema, relation, function
		return connectors.Permanent(connectors.CategoryNotFound, err)
	case "57014", "55P03", "25P03": // query canceled (statement_timeout), lock not available, idle in transaction timeout
		return connectors.Retryable(connectors.CategoryTimeout, err)
	case "57P01", "57P02", "57P03": // admin shutdown, crash shutdown, cannot connect now
		return connectors.Retryable(connectors.CategoryConnection, err)
	case "40001", "40P01": // serialization failure, deadlock
		return connectors.Retryable(connectors.CategoryInternal, err)
	}
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"): // connection exception, insufficient resources
		return connectors.Retryable(connectors.CategoryConnection, err)
	case strings.HasPrefix(code, "42"), strings.HasPrefix(code, "22"), strings.HasPrefix(code, "0A"),
		strings.HasPrefix(code, "21"), strings.HasPrefix(code, "2B"), strings.HasPrefix(code, "23"),
		strings.HasPrefix(code, "25"), strings.HasPrefix(code, "2F"), strings.HasPrefix(code, "P0"):
		// syntax/semantics, data, unsupported, cardinality, dependents, integrity, transaction
		// state, routine and PL/pgSQL errors: the SQL or the data must change.
		return connectors.Permanent(connectors.CategoryConfiguration, err)
	case strings.HasPrefix(code, "XX"), strings.HasPrefix(code, "58"): // internal, system errors
		return connectors.Retryable(connectors.CategoryInternal, err)
	}
	return connectors.Permanent(connectors.CategoryInternal, err)
}

// sqlState returns the SQLSTATE of err, or "".
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// redact replaces every occurrence of secret in err's message. Messages are built without the
// password in the first place; this is a second line of defence against a driver echoing it.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, "[redacted]"), err: err}
}

// redactedError keeps the chain of the original error (for errors.As) with a redacted message.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// ClassifyError classifies the error of a statement run on DB() (warehouse.ErrorClassifier),
// with the password redacted.
func (w *Warehouse) ClassifyError(_ context.Context, err error) error {
	if err == nil {
		return nil
	}
	return classify(redact(err, w.password))
}

// opError prefixes err with an operation and classifies it.
func (w *Warehouse) opError(op string, err error) error {
	return classify(fmt.Errorf("postgres: %s: %w", op, redact(err, w.password)))
}
