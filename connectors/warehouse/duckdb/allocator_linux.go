//go:build linux && cgo

package duckdb

/*
#include <stddef.h>
#include <malloc.h>
#include <stdlib.h>
#include <sys/types.h>

// jemalloc's mallctl, as DuckDB's Linux builds link it (symbols prefixed duckdb_je_).
extern int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

static int dinmo_je_set_ssize(const char *name, ssize_t v) {
	return duckdb_je_mallctl(name, NULL, NULL, &v, sizeof(v));
}

// dinmo_glibc_compact makes glibc's malloc, which serves DuckDB's C++ objects (its buffers
// go through jemalloc), keep little freed memory: one arena instead of one per thread, and
// trimming and mmap for blocks of 128 KiB and more. Returns 0 when it did, -1 when malloc is
// not glibc's, or the 1-based index of the mallopt call that failed.
static int dinmo_glibc_compact(void) {
#ifdef __GLIBC__
	if (mallopt(M_ARENA_MAX, 1) != 1) return 1;
	if (mallopt(M_TRIM_THRESHOLD, 128 * 1024) != 1) return 2;
	if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1) return 3;
	return 0;
#else
	return -1;
#endif
}

static int dinmo_je_get_ssize(const char *name, ssize_t *v) {
	size_t n = sizeof(*v);
	return duckdb_je_mallctl(name, v, &n, NULL, 0);
}

static int dinmo_je_get_unsigned(const char *name, unsigned *v) {
	size_t n = sizeof(*v);
	return duckdb_je_mallctl(name, v, &n, NULL, 0);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// allocatorTuned reports that this build can tune DuckDB's allocator.
const allocatorTuned = true

// compactMalloc makes glibc's malloc keep little of what is freed (see dinmo_glibc_compact).
// It must run before DuckDB starts its threads, which would each create a malloc arena.
func compactMalloc() error {
	if rc := C.dinmo_glibc_compact(); rc > 0 {
		return fmt.Errorf("glibc mallopt call %d failed", int(rc))
	}
	return nil
}

// purgeFreedPages makes DuckDB's allocator (jemalloc, on Linux) give pages back to the system
// as soon as DuckDB frees them: dirty and muzzy decay of 0 ms, for the arenas that exist and
// for those created later. See tuneAllocator.
func purgeFreedPages() error {
	for _, name := range []string{"arenas.dirty_decay_ms", "arenas.muzzy_decay_ms"} {
		if err := jeSetSsize(name, 0); err != nil {
			return err
		}
	}
	n, err := jeGetUnsigned("arenas.narenas")
	if err != nil {
		return err
	}
	for i := range n {
		for _, kind := range []string{"dirty", "muzzy"} {
			// An arena not created yet answers EFAULT; it will take the defaults set above.
			_ = jeSetSsize(fmt.Sprintf("arena.%d.%s_decay_ms", i, kind), 0)
		}
	}
	return nil
}

func jeSetSsize(name string, v int) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.dinmo_je_set_ssize(cs, C.ssize_t(v)); rc != 0 {
		return fmt.Errorf("jemalloc mallctl %s: error %d", name, int(rc))
	}
	return nil
}

// decayMs returns jemalloc's default dirty and muzzy decay times of new arenas, in ms.
func decayMs() (dirty, muzzy int, err error) {
	for _, x := range []struct {
		name string
		dst  *int
	}{{"arenas.dirty_decay_ms", &dirty}, {"arenas.muzzy_decay_ms", &muzzy}} {
		cs := C.CString(x.name)
		var v C.ssize_t
		rc := C.dinmo_je_get_ssize(cs, &v)
		C.free(unsafe.Pointer(cs))
		if rc != 0 {
			return 0, 0, fmt.Errorf("jemalloc mallctl %s: error %d", x.name, int(rc))
		}
		*x.dst = int(v)
	}
	return dirty, muzzy, nil
}

func jeGetUnsigned(name string) (uint, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var v C.unsigned
	if rc := C.dinmo_je_get_unsigned(cs, &v); rc != 0 {
		return 0, fmt.Errorf("jemalloc mallctl %s: error %d", name, int(rc))
	}
	return uint(v), nil
}
