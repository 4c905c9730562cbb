//go:build !unix

package pgtest

import "syscall"

// watchdogAttr has nothing to set outside Unix (the cluster recipe needs Unix anyway).
func watchdogAttr() *syscall.SysProcAttr { return nil }
