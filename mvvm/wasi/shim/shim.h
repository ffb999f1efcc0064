/* What the shim's C sees of the module it is linked into (mvvm.wasi.glue).
 *
 * The shim has its own memory (the one WASI reads, exported as "memory"); the guest's
 * memory and the VM state are the two others, which C cannot name: the glue's small
 * functions below move bytes between them. Guest address g is at offset g - BIAS of the
 * guest memory, as for translated code (mvvm.runtime.layout).
 */
#pragma once
#include <stdint.h>

#define IMPORT(name) __attribute__((import_module("mvvm"), import_name(name)))
#define WASI(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

#include "layout.h"     /* generated from mvvm.runtime.layout: VM_X, VM_PC, BIAS, ... */

IMPORT("vm_get") uint64_t vm_get(uint32_t offset);
IMPORT("vm_set") void vm_set(uint32_t offset, uint64_t value);
IMPORT("vm_get32") uint32_t vm_get32(uint32_t offset);
IMPORT("vm_set32") void vm_set32(uint32_t offset, uint32_t value);
/* Copies between the shim's memory and the guest's, at a guest memory offset. */
IMPORT("guest_read") void guest_read(void *to, uint32_t from, uint32_t length);
IMPORT("guest_write") void guest_write(uint32_t to, const void *from, uint32_t length);
IMPORT("guest_fill") void guest_fill(uint32_t to, uint32_t byte, uint32_t length);
IMPORT("guest_pages") uint32_t guest_pages(void);
IMPORT("guest_grow") int32_t guest_grow(uint32_t pages);
/* The program's constants, set when the module was built (CONFIG_* in layout.h). */
IMPORT("config") uint64_t config(uint32_t key);
/* The dispatcher: runs guest code from VM_PC until it must come back (pc | 1). */
IMPORT("run") uint64_t run(void);
