//go:build unix

package pgtest

import "syscall"

// watchdogAttr puts the watchdog in its own process group, out of reach of the terminal's
// Ctrl-C that stops the test binary.
func watchdogAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
